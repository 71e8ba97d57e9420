/**
 * The small conv net of the equivalence tests (NHWC, float32, cpu backend):
 *   conv3x3 3->8 (+bias, or BN) -> SiLU -> conv3x3/2 8->8 (+bias, or BN) -> SiLU -> conv1x1 8->2
 * and a per-image squared-error loss. Its BatchNorm takes a MomentsFn, exactly like the yolo
 * package's BatchNorm: plain BN passes localMoments, SyncBN passes syncBatchNormMoments(pg).
 * Data is a fixed, seeded function of the global sample index, so any rank can build any
 * sample and every world size sees the same global batches.
 */
import { tf } from '@yolo-launch/backend';
import { splitmix32, type MomentsFn } from '../../src/index.js';

export const IMG = 8;
export const CIN = 3;
export const COUT = 2;
const BN_EPS = 1e-3; // YOLOv5 sets BatchNorm2d eps 1e-3, momentum 0.03
const BN_MOMENTUM = 0.03;

export interface TinyNet {
  params: tf.Variable[];
  buffers: tf.Variable[];
  /** Per-image loss summed over the batch (YOLOv5's mean * bs). */
  loss(x: tf.Tensor4D, y: tf.Tensor4D): tf.Scalar;
}

function seeded(shape: number[], seed: number, scale: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = splitmix32(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (r() * 2 - 1) * scale;
  return tf.tensor(v, shape);
}

class BatchNorm {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  constructor(
    name: string,
    c: number,
    private readonly moments: MomentsFn,
  ) {
    this.gamma = tf.variable(tf.ones([c]), true, `${name}.weight`);
    this.beta = tf.variable(tf.zeros([c]), true, `${name}.bias`);
    this.runningMean = tf.variable(tf.zeros([c]), false, `${name}.running_mean`);
    this.runningVar = tf.variable(tf.ones([c]), false, `${name}.running_var`);
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    const { mean, variance, count } = this.moments(x);
    // running statistics (unbiased variance, as torch); the loss does not depend on them
    const m = mean;
    const v = variance;
    this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - BN_MOMENTUM), tf.mul(m, BN_MOMENTUM)));
    const unbiased = tf.mul(v, count / Math.max(1, count - 1));
    this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - BN_MOMENTUM), tf.mul(unbiased, BN_MOMENTUM)));
    const xhat = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, BN_EPS)));
    return tf.add(tf.mul(xhat, this.gamma), this.beta) as tf.Tensor4D;
  }
}

const silu = (x: tf.Tensor4D) => tf.mul(x, tf.sigmoid(x)) as tf.Tensor4D;

/** `moments` null: convolutions with bias and no BN. `seed` picks the initial weights. */
export function makeTinyNet(moments: MomentsFn | null, seed: number, prefix = 'net'): TinyNet {
  const w1 = tf.variable(seeded([3, 3, CIN, 8], seed + 1, 0.4), true, `${prefix}.0.conv.weight`);
  const w2 = tf.variable(seeded([3, 3, 8, 8], seed + 2, 0.25), true, `${prefix}.1.conv.weight`);
  const w3 = tf.variable(seeded([1, 1, 8, COUT], seed + 3, 0.3), true, `${prefix}.2.weight`);
  const b3 = tf.variable(seeded([COUT], seed + 4, 0.1), true, `${prefix}.2.bias`);
  let layer1: (x: tf.Tensor4D) => tf.Tensor4D;
  let layer2: (x: tf.Tensor4D) => tf.Tensor4D;
  const params: tf.Variable[] = [w1];
  const buffers: tf.Variable[] = [];
  if (moments === null) {
    const b1 = tf.variable(seeded([8], seed + 5, 0.1), true, `${prefix}.0.conv.bias`);
    const b2 = tf.variable(seeded([8], seed + 6, 0.1), true, `${prefix}.1.conv.bias`);
    params.push(b1, w2, b2);
    layer1 = (x) => tf.add(tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same'), b1);
    layer2 = (x) => tf.add(tf.conv2d(x, w2 as tf.Tensor4D, 2, 'same'), b2);
  } else {
    const bn1 = new BatchNorm(`${prefix}.0.bn`, 8, moments);
    const bn2 = new BatchNorm(`${prefix}.1.bn`, 8, moments);
    params.push(bn1.gamma, bn1.beta, w2, bn2.gamma, bn2.beta);
    buffers.push(bn1.runningMean, bn1.runningVar, bn2.runningMean, bn2.runningVar);
    layer1 = (x) => bn1.apply(tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same'));
    layer2 = (x) => bn2.apply(tf.conv2d(x, w2 as tf.Tensor4D, 2, 'same'));
  }
  params.push(w3, b3);
  return {
    params,
    buffers,
    loss(x, y) {
      const h = silu(layer2(silu(layer1(x))));
      const out = tf.add(tf.conv2d(h, w3 as tf.Tensor4D, 1, 'same'), b3);
      // per-image mean squared error, summed over the images of the batch
      return tf.div(tf.sum(tf.squaredDifference(out, y)), (IMG / 2) * (IMG / 2) * COUT) as tf.Scalar;
    },
  };
}

/** Samples [first, first + count) of the fixed dataset (inputs and targets). */
export function batch(indices: readonly number[]): { x: tf.Tensor4D; y: tf.Tensor4D } {
  const px = IMG * IMG * CIN;
  const py = (IMG / 2) * (IMG / 2) * COUT;
  const xs = new Float32Array(indices.length * px);
  const ys = new Float32Array(indices.length * py);
  indices.forEach((idx, k) => {
    const r = splitmix32(10_000 + idx);
    for (let i = 0; i < px; i++) xs[k * px + i] = r() * 2 - 1 + (idx % 3) * 0.5;
    for (let i = 0; i < py; i++) ys[k * py + i] = r() - 0.5;
  });
  return {
    x: tf.tensor4d(xs, [indices.length, IMG, IMG, CIN]),
    y: tf.tensor4d(ys, [indices.length, IMG / 2, IMG / 2, COUT]),
  };
}

export const range = (start: number, count: number) => Array.from({ length: count }, (_, i) => start + i);

export function flatValues(vars: readonly tf.Variable[]): number[] {
  return vars.flatMap((v) => Array.from(v.dataSync()));
}
