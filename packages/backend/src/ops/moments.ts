// Batch statistics of one BatchNorm input, and the function type through which the yolo
// package's BatchNorm asks for them: local moments by default, SyncBatchNorm's (from the ddp
// package) in a DDP run. Here, next to batchNormTrain, so that yolo and ddp share one
// definition without ddp depending on yolo.
import * as tf from '@tensorflow/tfjs-core';

/**
 * Per-channel batch statistics. `variance` is the biased variance over N, H, W (what
 * normalises the batch); `count` is the number of elements per channel that went into it over
 * ALL ranks, so the running variance can be updated with the unbiased estimate
 * variance * count / (count - 1) exactly like PyTorch (and SyncBatchNorm).
 */
export interface BatchMoments {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  count: number;
}

/** Computes BatchMoments for an NHWC input; gradients must flow through mean and variance. */
export type MomentsFn = (x: tf.Tensor4D) => BatchMoments;

/** Plain BatchNorm: moments of the local batch. */
export const localMoments: MomentsFn = (x) => {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return { mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D, count: x.shape[0] * x.shape[1] * x.shape[2] };
};
