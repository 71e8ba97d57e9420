/**
 * One forward + backward of train.py's inner loop (without the optimizer): training-mode
 * forward, ComputeLoss, gradients of every trainable parameter, named and in state_dict order
 * so that ddp can bucket and all-reduce them deterministically.
 */
import { tf } from '@yolo-launch/backend';
import type { ComputeLoss } from './loss/compute-loss.js';
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
  /** trainable parameters in state_dict order; the caller disposes the grad tensors */
  grads: NamedGradient[];
}

export interface LossAndGradientsOptions {
  /**
   * Recompute each layer's forward during the backward (model.forwardBackward) so that only
   * layer outputs stay alive: ~1/3 more compute, a fraction of the memory. Default true;
   * false uses one tf.variableGrads over the whole step (fastest when it fits in memory).
   */
  recompute?: boolean;
  /** With recompute: each gradient as soon as it exists, last layer first (model.forwardBackward). */
  onGradient?: GradientHook;
}

/**
 * @param images NHWC [bs, H, W, ch] float 0..1
 * @param targets rows [image, class, x, y, w, h] (normalised), [nt, 6] flat
 */
export function lossAndGradients(
  model: YoloModel,
  loss: ComputeLoss,
  images: tf.Tensor4D,
  targets: Float32Array,
  opts: LossAndGradientsOptions = {},
): LossAndGradients {
  const params = model.trainableParameters();
  if (opts.recompute ?? true) {
    let kept: tf.Tensor1D | null = null;
    const { loss: value, grads } = model.forwardBackward(
      images,
      (p) => {
        const out = loss.compute(p, targets);
        kept = tf.keep(out.items);
        return out.loss;
      },
      opts.onGradient,
    );
    const lossValue = value.dataSync()[0]!;
    const it = Array.from((kept as tf.Tensor1D | null)?.dataSync() ?? [0, 0, 0]) as [number, number, number];
    tf.dispose([value, ...(kept ? [kept] : [])]);
    return {
      loss: lossValue,
      items: it,
      grads: params.map((p) => ({
        name: p.name,
        variable: p.variable,
        grad: grads.get(p.name) ?? tf.zerosLike(p.variable),
      })),
    };
  }
  let items: tf.Tensor1D | null = null;
  const { value, grads } = tf.variableGrads(
    () => {
      const out = loss.compute(model.forwardTrain(images), targets);
      items = tf.keep(out.items);
      return out.loss;
    },
    params.map((p) => p.variable),
  );
  const lossValue = value.dataSync()[0]!;
  const it = Array.from((items as tf.Tensor1D | null)?.dataSync() ?? [0, 0, 0]) as [number, number, number];
  tf.dispose([value, ...(items ? [items] : [])]);
  return {
    loss: lossValue,
    items: it,
    grads: params.map((p) => ({ name: p.name, variable: p.variable, grad: grads[p.variable.name]! })),
  };
}
