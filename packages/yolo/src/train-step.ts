/**
 * One forward + backward of train.py's inner loop (without the optimizer): training-mode
 * forward, ComputeLoss, gradients of every trainable parameter, named and in state_dict order
 * so that ddp can bucket and all-reduce them deterministically.
 */
import { tf } from '@yolo-launch/backend';
import type { LossOutput } from './loss/compute-loss.js';
import type { GradientHook, YoloModel } from './model.js';

export interface NamedGradient {
  name: string;
  variable: tf.Variable;
  grad: tf.Tensor;
}

export interface LossAndGradients {
  /** (lbox + lobj + lcls) * bs, as a number */
  loss: number;
  /** [lbox, lobj, lcls] */
  items: [number, number, number];
  /** trainable parameters in state_dict order, then the loss's extraVariables; the caller disposes the grad tensors */
  grads: NamedGradient[];
}

export interface LossAndGradientsOptions {
  /**
   * Recompute each layer's forward during the backward (model.forwardBackward) so that only
   * layer outputs stay alive: ~1/3 more compute, a fraction of the memory. Default true;
   * false uses one tf.variableGrads over the whole step (fastest when it fits in memory).
   */
  recompute?: boolean;
  /** With recompute: each gradient as soon as it exists, last layer first, the loss's extraVariables right after Detect's (model.forwardBackward). */
  onGradient?: GradientHook;
}

/**
 * What the step differentiates: ComputeLoss, or a loss that also reads Detect's inputs (the
 * neck's feature maps) and owns trainable variables of its own (e.g. distillation adapters),
 * whose gradients come back with the model's, keyed by variable name.
 */
export interface TrainLoss {
  compute(p: tf.Tensor5D[], targets: Float32Array, features?: tf.Tensor4D[]): LossOutput;
  readonly extraVariables?: readonly tf.Variable[];
}

/**
 * @param images NHWC [bs, H, W, ch] float 0..1
 * @param targets rows [image, class, x, y, w, h] (normalised), [nt, 6] flat
 */
export function lossAndGradients(
  model: YoloModel,
  loss: TrainLoss,
  images: tf.Tensor4D,
  targets: Float32Array,
  opts: LossAndGradientsOptions = {},
): LossAndGradients {
  const params = model.trainableParameters();
  const extra = loss.extraVariables ?? [];
  const extraGrads = (grads: (v: tf.Variable) => tf.Tensor | undefined): NamedGradient[] =>
    extra.map((v) => ({ name: v.name, variable: v, grad: grads(v) ?? tf.zerosLike(v) }));
  if (opts.recompute ?? true) {
    let kept: tf.Tensor1D | null = null;
    const { loss: value, grads } = model.forwardBackward(
      images,
      (p, features) => {
        const out = loss.compute(p, targets, features);
        kept = tf.keep(out.items);
        return out.loss;
      },
      opts.onGradient,
      extra,
    );
    const lossValue = value.dataSync()[0]!;
    const it = Array.from((kept as tf.Tensor1D | null)?.dataSync() ?? [0, 0, 0]) as [number, number, number];
    tf.dispose([value, ...(kept ? [kept] : [])]);
    return {
      loss: lossValue,
      items: it,
      grads: [
        ...params.map((p) => ({
          name: p.name,
          variable: p.variable,
          grad: grads.get(p.name) ?? tf.zerosLike(p.variable),
        })),
        ...extraGrads((v) => grads.get(v.name)),
      ],
    };
  }
  let items: tf.Tensor1D | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const { raw, features } = model.forwardWithFeatures(images, { training: true });
    const out = loss.compute(raw, targets, features);
    items = tf.keep(out.items);
    return out.loss;
  }, [...params.map((p) => p.variable), ...extra]);
  const lossValue = value.dataSync()[0]!;
  const it = Array.from((items as tf.Tensor1D | null)?.dataSync() ?? [0, 0, 0]) as [number, number, number];
  tf.dispose([value, ...(items ? [items] : [])]);
  return {
    loss: lossValue,
    items: it,
    grads: [
      ...params.map((p) => ({ name: p.name, variable: p.variable, grad: grads[p.variable.name]! })),
      ...extraGrads((v) => grads[v.name]),
    ],
  };
}
