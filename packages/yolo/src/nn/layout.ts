/**
 * Layout conversions between PyTorch (NCHW activations, OIHW conv weights) and ours
 * (NHWC activations, HWIO conv weights, which is what tfjs conv2d takes).
 *
 * Loading a YOLOv5 state dict is therefore: conv weight `[out, in, kh, kw]` -> transpose
 * (2, 3, 1, 0) -> `[kh, kw, in, out]`; every 1-D tensor is copied as is.
 */

/**
 * Copies a 4-D row-major array into the axis order `perm` (out axis k = src axis perm[k]),
 * as numpy's `transpose(perm)` followed by a contiguous copy.
 */
export function transpose4(
  src: ArrayLike<number>,
  shape: readonly number[],
  perm: readonly [number, number, number, number],
): Float32Array {
  const [d0, d1, d2, d3] = shape as [number, number, number, number];
  const srcStride = [d1 * d2 * d3, d2 * d3, d3, 1];
  const outShape = perm.map((a) => shape[a]!) as [number, number, number, number];
  const [s0, s1, s2, s3] = perm.map((a) => srcStride[a]!) as [number, number, number, number];
  const out = new Float32Array(d0 * d1 * d2 * d3);
  let k = 0;
  for (let a = 0; a < outShape[0]; a++)
    for (let b = 0; b < outShape[1]; b++)
      for (let c = 0; c < outShape[2]; c++)
        for (let d = 0; d < outShape[3]; d++) out[k++] = src[a * s0 + b * s1 + c * s2 + d * s3]!;
  return out;
}

/** OIHW (PyTorch conv weight) -> HWIO (tfjs filter). */
export function oihwToHwio(src: ArrayLike<number>, shape: readonly number[]): Float32Array {
  return transpose4(src, shape, [2, 3, 1, 0]);
}

/** HWIO (tfjs filter) -> OIHW (PyTorch conv weight); `shape` is the OIHW shape. */
export function hwioToOihw(src: ArrayLike<number>, shape: readonly number[]): Float32Array {
  const [O, I, KH, KW] = shape as [number, number, number, number];
  return transpose4(src, [KH, KW, I, O], [3, 2, 0, 1]);
}

/** NCHW flat data -> NHWC flat data (for reading PyTorch images and activations). */
export function nchwToNhwc(src: ArrayLike<number>, shape: readonly number[]): Float32Array {
  return transpose4(src, shape, [0, 2, 3, 1]);
}

/** NHWC flat data -> NCHW flat data; `shape` is the NHWC shape. */
export function nhwcToNchw(src: ArrayLike<number>, shape: readonly number[]): Float32Array {
  return transpose4(src, shape, [0, 3, 1, 2]);
}
