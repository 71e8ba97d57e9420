// PyTorch-style symmetric integer padding (Conv2d(padding=p), MaxPool2d(padding=p)) on every
// backend.
//
// tfjs takes a number as padding, and wasm and cpu run it as such. tfjs-node's TensorFlow
// kernels do not: Conv2D takes only 'valid', 'same' or explicit pads, and its gradients
// (Conv2DBackpropInput / Filter) and MaxPool take only 'valid' or 'same'. On `tensorflow` we
// therefore pad explicitly and run 'valid' (the output size floor((H + 2p - k) / s) + 1 is
// PyTorch's, and the gradient of the pad is a slice), and pool with 'same' where it equals
// PyTorch's padding (stride 1, odd k, p = k // 2: both pad (k-1)/2 on each side, and tfjs
// ignores pooled padding as PyTorch's -inf does). wasm and cpu keep their numeric path, so
// their results do not change by a bit.
import * as tf from '@tensorflow/tfjs-core';

/** True when the active backend only understands 'valid' / 'same' padding in its gradients. */
function needsExplicitPadding(): boolean {
  return tf.getBackend() === 'tensorflow';
}

function spatialPads(pad: number): Array<[number, number]> {
  return [
    [0, 0],
    [pad, pad],
    [pad, pad],
    [0, 0],
  ];
}

/** tf.conv2d(x, filter, stride, pad) with PyTorch's symmetric `pad` on every backend (NHWC, HWIO). */
export function conv2dTorch(x: tf.Tensor4D, filter: tf.Tensor4D, stride: number, pad: number): tf.Tensor4D {
  if (!needsExplicitPadding()) return tf.conv2d(x, filter, stride, pad);
  if (pad === 0) return tf.conv2d(x, filter, stride, 'valid');
  return tf.tidy(() => tf.conv2d(tf.pad(x, spatialPads(pad)), filter, stride, 'valid'));
}

/** tf.fused.conv2d with a bias and PyTorch's symmetric `pad` (inference: no gradient needed). */
export function fusedConv2dTorch(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  stride: number,
  pad: number,
  bias: tf.Tensor,
): tf.Tensor4D {
  if (!needsExplicitPadding()) return tf.fused.conv2d({ x, filter, strides: stride, pad, bias });
  // TensorFlow's forward Conv2D takes explicit pads directly (no padded copy of x).
  return tf.fused.conv2d({
    x,
    filter,
    strides: stride,
    pad: spatialPads(pad) as tf.backend_util.ExplicitPadding,
    bias,
  });
}

/** tf.maxPool(x, k, stride, pad) with PyTorch's symmetric `pad` (padding never wins a max). */
export function maxPoolTorch(x: tf.Tensor4D, k: number, stride: number, pad: number): tf.Tensor4D {
  if (!needsExplicitPadding()) return tf.maxPool(x, k, stride, pad);
  if (pad === 0) return tf.maxPool(x, k, stride, 'valid');
  if (stride === 1 && k % 2 === 1 && pad === (k - 1) / 2) return tf.maxPool(x, k, 1, 'same');
  return tf.tidy(() => tf.maxPool(tf.pad(x, spatialPads(pad), -Infinity), k, stride, 'valid'));
}
