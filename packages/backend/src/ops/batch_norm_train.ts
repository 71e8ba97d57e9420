// Training-mode batch normalisation (batch statistics, channels last) as ONE differentiable
// op with the closed-form backward, instead of tf.moments + tf.batchNorm whose taped graph
// costs ~20 full-size elementwise ops per layer in backward (and, through tfjs-core's
// FusedBatchNorm gradient, Tiles).
//
//   xhat = (x - mu) * rstd,  y = gamma * xhat + beta = x * a + b
//   dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat))
//   dgamma = sum(dy * xhat),  dbeta = sum(dy)
// Plain tfjs ops, so it runs on every backend. Also returns the batch mean and biased
// variance for the running-statistics update (PyTorch uses the unbiased variance there:
// multiply by M/(M-1)). They carry no gradient.
import * as tf from '@tensorflow/tfjs-core';

export interface BatchNormTrainResult {
  y: tf.Tensor4D;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

export function batchNormTrain(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps = 1e-5,
): BatchNormTrainResult {
  const axes = [0, 1, 2];
  const count = x.shape[0] * x.shape[1] * x.shape[2];
  let meanKept!: tf.Tensor1D, varianceKept!: tf.Tensor1D;
  const op = tf.customGrad(((xIn: tf.Tensor, gIn: tf.Tensor, bIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const m = tf.moments(xIn, axes);
    // customGrad runs this in a tidy; the statistics escape it kept, and are handed over to
    // the caller's scope (as clones) and released right after the call below.
    meanKept = tf.keep(m.mean as tf.Tensor1D);
    varianceKept = tf.keep(m.variance as tf.Tensor1D);
    const rstd = tf.rsqrt(tf.add(varianceKept, eps));
    const a = tf.mul(gIn, rstd);
    const y = tf.add(tf.mul(xIn, a), tf.sub(bIn, tf.mul(meanKept, a)));
    save([xIn, meanKept, rstd, gIn]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, mu, r, g] = saved;
        // Five full-size ops: sum(dy*xhat) = rstd*(sum(dy*x) - mu*sum(dy)), and
        // dx = dy*k + xhat*B + C = dy*k + x*(B*rstd) + (C - mu*B*rstd), all per-channel
        // constants, so xhat itself is never materialised.
        const sumDy = tf.sum(dy, axes);
        const sumDyXhat = tf.mul(tf.sub(tf.sum(tf.mul(dy, xs), axes), tf.mul(mu, sumDy)), r);
        const k = tf.mul(g, r);
        const bx = tf.mul(tf.mul(k, tf.div(sumDyXhat, -count)), r); // coefficient of x
        const c0 = tf.sub(tf.mul(k, tf.div(sumDy, -count)), tf.mul(mu, bx));
        const dx = tf.add(tf.add(tf.mul(dy, k), tf.mul(xs, bx)), c0);
        return [dx, sumDyXhat, sumDy];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = op(x, gamma, beta) as tf.Tensor4D;
  const mean = tf.clone(meanKept),
    variance = tf.clone(varianceKept);
  tf.dispose([meanKept, varianceKept]);
  return { y, mean, variance };
}
