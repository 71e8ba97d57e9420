// One training iteration: the batch as float images (multi-scale resize), forward and
// backward (one tape, or layer recompute when the tape does not fit), then either an
// accumulation micro-step (gradients reduced under ddp.noSync) or the optimizer step:
// mean all-reduce, clip to norm 10, optimizer, and the EMA on rank 0. With --distill the frozen
// teacher runs first on the same images (src/distill/).

import { tf } from '@yolo-launch/backend';
import * as yolo from '@yolo-launch/yolo';
import * as data from '@yolo-launch/data';
import type { Batch } from './batches.js';
import type { TrainContext, Timings, TrainingState } from './context.js';
import { clipGradNorm } from './optimizer.js';
import { chooseRecompute } from './recompute.js';

/** Memory: keep the whole backward tape when it fits, else recompute layers (recompute.ts). */
export function chooseBackward(ctx: TrainContext): { recompute: boolean; reason: string } {
  const { options, modelYaml } = ctx;
  return chooseRecompute({
    backend: tf.getBackend(),
    batch: ctx.batchPerRank,
    maxSide: options.multi_scale ? Math.floor(ctx.imgsz * 1.5) + ctx.gridStride : ctx.imgsz,
    widthMultiple: modelYaml.width_multiple,
    depthMultiple: modelYaml.depth_multiple,
    params: ctx.state.params.reduce((n, p) => n + p.data.length, 0),
    env: ctx.env.recompute,
  });
}

/** The batch as float images in [0, 1]; under --multi-scale resized to this iteration's size. */
function batchImages(ctx: TrainContext, batch: Batch, epoch: number, iteration: number): tf.Tensor4D {
  return tf.tidy(() => {
    let x = tf.div(
      tf.cast(tf.tensor4d(batch.images, [batch.n, batch.height, batch.width, 3], 'int32'), 'float32'),
      255,
    ) as tf.Tensor4D;
    if (ctx.options.multi_scale) {
      // random.randrange(imgsz*0.5, imgsz*1.5 + gs) // gs * gs, one draw per iteration for all ranks
      const stride = ctx.gridStride;
      const rng = data.Rng.from(ctx.seed, epoch, iteration, 0x5ca1e);
      const lo = Math.floor(ctx.imgsz * 0.5);
      const hi = Math.floor(ctx.imgsz * 1.5) + stride;
      const size = Math.floor((lo + Math.floor(rng.random() * (hi - lo))) / stride) * stride;
      const scale = size / Math.max(batch.height, batch.width);
      if (scale !== 1) {
        const newShape: [number, number] = [
          Math.ceil((batch.height * scale) / stride) * stride,
          Math.ceil((batch.width * scale) / stride) * stride,
        ];
        x = tf.image.resizeBilinear(x, newShape, false, true);
      }
    }
    return x;
  });
}

/**
 * What train.py multiplies the loss by before backward: `loss *= WORLD_SIZE` under DDP (ddp
 * averages; see @yolo-launch/ddp convention.ts), then `if opt.quad: loss *= 4.`. Without
 * --quad it is ddp.lossScale itself, so those runs do not change by a bit.
 */
export function lossMultiplier(ddpLossScale: number, quad: boolean): number {
  return quad ? ddpLossScale * 4.0 : ddpLossScale;
}

/** Forward and backward: the loss items on the host and the gradients (scaled by lossMultiplier). */
function lossAndGradients(
  ctx: TrainContext,
  lossFn: yolo.TrainLoss,
  recompute: boolean,
  images: tf.Tensor4D,
  targets: Float32Array,
  willStep: boolean,
): { items: Float32Array; grads: tf.NamedTensorMap } {
  const { model, ddp } = ctx;
  const scale = lossMultiplier(ddp.lossScale, ctx.options.quad);
  if (recompute) {
    // yolo's forwardBackward: layer outputs only, each layer's forward recomputed during
    // the backward (fits 640 training in the wasm heap; ~1/3 more compute). It produces the
    // gradients last layer first: on an optimizer step DDP all-reduces each bucket as soon as
    // it is complete, while the backward of earlier layers goes on.
    // YOLO_TRAIN_OVERLAP=0 turns the overlap off (for measuring what it hides).
    const hook = willStep && ctx.env.overlap ? ddp.beginOverlappedReduction() : null;
    const onGradient: yolo.GradientHook | undefined = hook
      ? (variable, grad) => {
          if (scale === 1) return hook(variable.name, grad);
          const scaled = tf.mul(grad, scale);
          hook(variable.name, scaled);
          scaled.dispose();
        }
      : undefined;
    const r = yolo.lossAndGradients(model, lossFn, images, targets, { recompute: true, onGradient });
    const grads: tf.NamedTensorMap = {};
    for (const g of r.grads) {
      if (scale === 1) grads[g.variable.name] = g.grad;
      else {
        grads[g.variable.name] = tf.mul(g.grad, scale);
        g.grad.dispose();
      }
    }
    return { items: Float32Array.from(r.items), grads };
  }
  let items: Float32Array | undefined;
  const vg = tf.variableGrads(() => {
    const { raw, features } = model.forwardWithFeatures(images, { training: true });
    const out = lossFn.compute(raw, targets, features);
    tf.keep(out.items);
    items = out.items.dataSync() as Float32Array;
    out.items.dispose();
    return tf.mul(out.loss, scale) as tf.Scalar;
  }, [...ctx.state.params.map((p) => p.variable), ...(lossFn.extraVariables ?? [])]);
  vg.value.dispose();
  return { items: items!, grads: vg.grads };
}

/** The mean all-reduce, clip to norm 10, the optimizer step, the EMA (rank 0). */
async function optimizerStep(
  ctx: TrainContext,
  training: TrainingState,
  grads: tf.NamedTensorMap,
  timings: Timings,
  startedAt: number,
): Promise<void> {
  const { ddp, state, optimizer } = ctx;
  const reduced = (await ddp.reduceGradients(grads))!;
  tf.dispose(Object.values(grads));
  const reducedAt = performance.now();
  timings.allReduce += reducedAt - startedAt;
  timings.allReduceWait += ddp.lastTimings?.allReduceWait ?? 0;
  timings.optimizerSteps++;
  const host = state.params.map((p) => {
    const g = reduced[p.variable.name];
    return g ? Float32Array.from(g.dataSync() as Float32Array) : new Float32Array(p.data.length);
  });
  const adapterGrads = ctx.distill?.adapters?.hostGradients(reduced);
  tf.dispose(Object.values(reduced));
  clipGradNorm(host, 10.0);
  optimizer.step(host);
  if (adapterGrads) ctx.distill!.adapters!.step(adapterGrads, optimizer);
  state.pushParams();
  if (training.ema) training.ema.update(state.floatStateView());
  timings.optimizer += performance.now() - reducedAt;
}

export interface Iteration {
  batch: Batch;
  epoch: number;
  /** Index in the epoch. */
  i: number;
  /** Index in the run (i + batchesPerEpoch * epoch). */
  ni: number;
  /** Whether this iteration ends an accumulation (optimizer step) or is a micro-step. */
  willStep: boolean;
  /** performance.now() when the batch arrived (compute time counts from it). */
  startedAt: number;
}

/** One iteration (see the top of this file); returns the loss items [box, obj, cls]. */
export async function trainStep(
  ctx: TrainContext,
  training: TrainingState,
  lossFn: yolo.TrainLoss,
  recompute: boolean,
  it: Iteration,
  timings: Timings,
): Promise<Float32Array> {
  const { ddp } = ctx;
  const images = batchImages(ctx, it.batch, it.epoch, it.i);
  // --distill: the frozen teacher on the same (augmented, resized) images, before any tape
  if (ctx.distill) timings.teacher += ctx.distill.runTeacher(images, it.epoch);
  const { items, grads } = lossAndGradients(ctx, lossFn, recompute, images, it.batch.targets, it.willStep);
  ctx.distill?.endStep();
  images.dispose();
  const computedAt = performance.now();
  if (!it.willStep) {
    await ddp.noSync(() => ddp.reduceGradients(grads));
    tf.dispose(Object.values(grads));
    timings.allReduce += performance.now() - computedAt;
  } else {
    await optimizerStep(ctx, training, grads, timings, computedAt);
    training.lastOptStep = it.ni;
  }
  timings.compute += computedAt - it.startedAt;
  return items;
}
