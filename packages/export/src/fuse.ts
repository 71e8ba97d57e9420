/**
 * utils/torch_utils.fuse_conv_and_bn on host arrays: Conv2d(bias=False) followed by an
 * eval-mode BatchNorm2d becomes one Conv2d with weight w * scale (per output channel) and
 * bias beta - mean * scale, scale = gamma / sqrt(var + eps). The same float32 steps as the
 * model's own eval forward (nn/conv.ts), so the exported convolution holds the numbers ours uses.
 */
import { BatchNorm2d } from '@yolo-launch/yolo';

export interface BatchNormParams {
  weight: Float32Array;
  bias: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
}

export interface FoldedConv {
  /** OIHW [out, in, kh, kw], row-major. */
  weight: Float32Array;
  shape: [number, number, number, number];
  bias: Float32Array;
}

export function foldBatchNorm(
  weight: Float32Array,
  shape: [number, number, number, number],
  bn: BatchNormParams,
): FoldedConv {
  const [out] = shape;
  const perOut = weight.length / out;
  const folded = new Float32Array(weight.length);
  const bias = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    const scale = Math.fround(
      bn.weight[o]! * Math.fround(1 / Math.sqrt(Math.fround(bn.variance[o]! + BatchNorm2d.EPS))),
    );
    bias[o] = bn.bias[o]! - Math.fround(bn.mean[o]! * scale);
    for (let k = o * perOut; k < (o + 1) * perOut; k++) folded[k] = weight[k]! * scale;
  }
  return { weight: folded, shape, bias };
}
