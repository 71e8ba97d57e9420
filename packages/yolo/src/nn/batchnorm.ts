import { batchNormTrain, localMoments, tf, type BatchMoments, type MomentsFn } from '@yolo-launch/backend';
import type { StateRegistry } from './state.js';

// The batch statistics and the moments function (local, or SyncBatchNorm's injected by the ddp
// package without yolo depending on it) live in @yolo-launch/backend next to batchNormTrain.
export { localMoments, type BatchMoments, type MomentsFn };

/** How a forward pass runs; shared by every module of one call. */
export interface ForwardContext {
  /** Batch statistics (true) or running statistics (false) in BatchNorm. */
  training: boolean;
  /** Update BN running stats in training mode (PyTorch always does; off for dry runs). */
  updateStats: boolean;
  moments: MomentsFn;
}

/** nn.BatchNorm2d with YOLOv5's eps=1e-3 and momentum=0.03 (set by initialize_weights). */
export class BatchNorm2d {
  static readonly EPS = 1e-3;
  static readonly MOMENTUM = 0.03;
  readonly weight: tf.Variable<tf.Rank.R1>;
  readonly bias: tf.Variable<tf.Rank.R1>;
  readonly runningMean: tf.Variable<tf.Rank.R1>;
  readonly runningVar: tf.Variable<tf.Rank.R1>;
  numBatchesTracked = 0;

  constructor(
    reg: StateRegistry,
    prefix: string,
    readonly channels: number,
  ) {
    this.weight = reg.vector(`${prefix}.weight`, 'bn.weight', new Float32Array(channels).fill(1), true);
    this.bias = reg.vector(`${prefix}.bias`, 'bn.bias', new Float32Array(channels), true);
    this.runningMean = reg.vector(`${prefix}.running_mean`, 'bn.running_mean', new Float32Array(channels), false);
    this.runningVar = reg.vector(`${prefix}.running_var`, 'bn.running_var', new Float32Array(channels).fill(1), false);
    reg.host(
      `${prefix}.num_batches_tracked`,
      'bn.num_batches_tracked',
      [],
      () => Float32Array.of(this.numBatchesTracked),
      (d) => {
        this.numBatchesTracked = Number(d[0] ?? 0);
      },
    );
  }

  /** Per-channel scale and shift of the eval-mode affine map y = x*scale + shift. */
  evalScaleShift(): { scale: tf.Tensor1D; shift: tf.Tensor1D } {
    const scale = tf.mul(this.weight, tf.rsqrt(tf.add(this.runningVar, BatchNorm2d.EPS))) as tf.Tensor1D;
    const shift = tf.sub(this.bias, tf.mul(this.runningMean, scale)) as tf.Tensor1D;
    return { scale, shift };
  }

  /**
   * Training-mode BN followed by SiLU as one op (local statistics only). It keeps just its input
   * for the backward and recomputes x-hat and the pre-activation there, so a Conv holds two
   * full-size activations until the step's backward instead of four (conv out, x-hat, BN out,
   * SiLU out): the difference between fitting the wasm heap or not at imgsz 640.
   * Backward: dy = dout * s * (1 + y*(1 - s)), dgamma = sum(dy*xhat), dbeta = sum(dy),
   * dx = gamma*rstd*(dy - mean(dy) - xhat*mean(dy*xhat)).
   */
  forwardSiluLocal(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    const axes = [0, 1, 2];
    const count = x.shape[0] * x.shape[1] * x.shape[2];
    const { mean, variance } = tf.tidy(() => tf.moments(x, axes)) as { mean: tf.Tensor1D; variance: tf.Tensor1D };
    if (ctx.updateStats) this.updateRunningStats(mean, variance, count);
    const rstd = tf.tidy(() => tf.rsqrt(tf.add(variance, BatchNorm2d.EPS))) as tf.Tensor1D;
    const op = tf.customGrad((xIn, gIn, bIn, save) => {
      const xx = xIn as tf.Tensor4D;
      const g = gIn as tf.Tensor1D;
      const b = bIn as tf.Tensor1D;
      // mean and rstd go through save(): tensors made in the forward pass but not saved are
      // disposed when the forward scope of tf.grads ends
      (save as unknown as (ts: tf.Tensor[]) => void)([xx, g, b, mean, rstd]);
      const out = tf.tidy(() => {
        const scale = tf.mul(g, rstd);
        const y = tf.add(tf.mul(xx, scale), tf.sub(b, tf.mul(mean, scale)));
        return tf.mul(y, tf.sigmoid(y));
      });
      return {
        value: out,
        gradFunc: (dout, saved) => {
          const [xs, gs, bs, mu, rs] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
          const xhat = tf.mul(tf.sub(xs, mu), rs);
          const y = tf.add(tf.mul(xhat, gs), bs);
          const sg = tf.sigmoid(y);
          const dy = tf.mul(dout, tf.mul(sg, tf.add(1, tf.mul(y, tf.sub(1, sg)))));
          const sumDy = tf.sum(dy, axes);
          const sumDyXhat = tf.sum(tf.mul(dy, xhat), axes);
          const k = tf.mul(gs, rs);
          const dx = tf.sub(
            tf.sub(tf.mul(dy, k), tf.mul(xhat, tf.mul(k, tf.div(sumDyXhat, count)))),
            tf.mul(k, tf.div(sumDy, count)),
          );
          return [dx, sumDyXhat, sumDy];
        },
      };
    });
    return op(x, this.weight, this.bias) as tf.Tensor4D;
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    if (!ctx.training) {
      const { scale, shift } = this.evalScaleShift();
      return tf.add(tf.mul(x, scale), shift);
    }
    if (ctx.moments === localMoments) {
      // Local statistics: the backend's single op with the closed-form backward (same maths
      // as differentiating through tf.moments, a fraction of the taped ops).
      const r = batchNormTrain(x, this.weight, this.bias, BatchNorm2d.EPS);
      if (ctx.updateStats) this.updateRunningStats(r.mean, r.variance, x.shape[0] * x.shape[1] * x.shape[2]);
      return r.y;
    }
    // Injected statistics (SyncBatchNorm): differentiate through whatever the moments function did.
    const { mean, variance, count } = ctx.moments(x);
    if (ctx.updateStats) this.updateRunningStats(mean, variance, count);
    // y = (x - mean) * gamma / sqrt(var + eps) + beta, written as x*scale + shift: two
    // full-size ops instead of three; the gradient still reaches mean and variance.
    const scale = tf.mul(this.weight, tf.rsqrt(tf.add(variance, BatchNorm2d.EPS)));
    const shift = tf.sub(this.bias, tf.mul(mean, scale));
    return tf.add(tf.mul(x, scale), shift);
  }

  private updateRunningStats(mean: tf.Tensor1D, variance: tf.Tensor1D, count: number): void {
    const m = BatchNorm2d.MOMENTUM;
    const unbiased = count > 1 ? count / (count - 1) : 1;
    tf.tidy(() => {
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(variance, m * unbiased)));
    });
    this.numBatchesTracked += 1;
  }
}
