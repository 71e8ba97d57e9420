// Training-mode batch normalisation (batch statistics) as ONE differentiable op with the
// closed-form backward, instead of tf.moments + tf.batchNorm whose taped graph costs ~20
// full-size elementwise ops and two Fill+Multiply mean-gradients per layer in backward.
//
//   xhat = (x - mu) * rstd,  y = gamma * xhat + beta
//   dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat))
//   dgamma = sum(dy * xhat),  dbeta = sum(dy)
// Works on every backend (plain tfjs ops). Returns the batch mean and (biased) variance too,
// for the running-statistics update (PyTorch uses the unbiased variance there: multiply by
// M/(M-1)).
import * as tf from '@tensorflow/tfjs-core';

export interface BatchNormTrainResult {
  y: tf.Tensor4D;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

export function batchNormTrain(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): BatchNormTrainResult {
  const axes = [0, 1, 2];
  const count = x.shape[0] * x.shape[1] * x.shape[2];
  const stats = tf.tidy(() => tf.moments(x, axes));
  const mean = stats.mean as tf.Tensor1D, variance = stats.variance as tf.Tensor1D;
  const op = tf.customGrad(((xIn: tf.Tensor, gIn: tf.Tensor, bIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.mul(tf.sub(xIn, mean), rstd);
    const y = tf.add(tf.mul(xhat, gIn), bIn);
    save([xhat, rstd, gIn]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, r, g] = saved;
        const sumDy = tf.sum(dy, axes);
        const sumDyXhat = tf.sum(tf.mul(dy, xh), axes);
        const k = tf.mul(g, r);
        // dx = dy*k - xhat*(k*sumDyXhat/M) - k*sumDy/M
        const dx = tf.sub(tf.sub(tf.mul(dy, k), tf.mul(xh, tf.mul(k, tf.div(sumDyXhat, count)))), tf.mul(k, tf.div(sumDy, count)));
        return [dx, sumDyXhat, sumDy];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = op(x, gamma, beta) as tf.Tensor4D;
  return { y, mean, variance };
}
