/** One training step (forward, ComputeLoss, backward) computed on two backends and compared. */
import { tf } from '@yolo-launch/backend';
import { lossAndGradients, Rng, type ComputeLoss, type YoloModel } from '../src/index.js';
import { assertClose } from './helpers.js';

export interface StepResult {
  loss: number;
  grads: Float32Array[];
}

/** A batch of 2 pseudo-random 64x64 images and 3 boxes (image, class, x, y, w, h normalised). */
export function stepBatch(seed: number): { pixels: Float32Array; targets: Float32Array } {
  const r = new Rng(seed);
  return {
    pixels: Float32Array.from({ length: 2 * 64 * 64 * 3 }, () => r.next()),
    targets: Float32Array.of(0, 0, 0.5, 0.5, 0.3, 0.4, 0, 1, 0.2, 0.3, 0.1, 0.15, 1, 1, 0.7, 0.6, 0.5, 0.5),
  };
}

/** Loss and every trainable parameter's gradient, on the active backend. */
export function stepOnActiveBackend(
  model: YoloModel,
  loss: ComputeLoss,
  batch: { pixels: Float32Array; targets: Float32Array },
): StepResult {
  const x = tf.tensor4d(batch.pixels, [2, 64, 64, 3]);
  const out = lossAndGradients(model, loss, x, batch.targets);
  const grads = out.grads.map((g) => Float32Array.from(g.grad.dataSync()));
  tf.dispose([x, ...out.grads.map((g) => g.grad)]);
  return { loss: out.loss, grads };
}

/** Loss within 1e-5 relative; each gradient within 1e-3 of its own largest element. */
export function assertSameStep(got: StepResult, want: StepResult, model: YoloModel): void {
  assertClose([got.loss], [want.loss], { rel: 1e-5, abs: 1e-6 }, 'loss');
  want.grads.forEach((g, k) => {
    const scale = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assertClose(got.grads[k]!, g, { abs: 1e-3 * scale + 1e-7 }, `gradient ${model.trainableParameters()[k]!.name}`);
  });
}
