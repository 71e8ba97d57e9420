// Float64 reference convolution gradients, written from the definition (no tfjs), used to
// check both our wasm kernels and tfjs's cpu kernels.
import { backend_util } from '@tensorflow/tfjs-core';

export type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;

export interface ConvCase {
  n: number;
  h: number;
  w: number;
  c: number;
  k: number;
  kh: number;
  kw: number;
  stride: number;
  pad: Pad;
}

export function convInfo(cs: ConvCase): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    [cs.n, cs.h, cs.w, cs.c],
    [cs.kh, cs.kw, cs.c, cs.k],
    cs.stride,
    1,
    cs.pad,
    undefined,
    false,
    'channelsLast',
  );
}

/** Visits every (n, oh, ow, i, j) pair with the input pixel it reads. */
function forEachTap(
  cs: ConvCase,
  fn: (n: number, oy: number, ox: number, i: number, j: number, y: number, x: number) => void,
): void {
  const info = convInfo(cs);
  const { outHeight, outWidth } = info;
  for (let n = 0; n < cs.n; n++)
    for (let oy = 0; oy < outHeight; oy++)
      for (let ox = 0; ox < outWidth; ox++)
        for (let i = 0; i < cs.kh; i++)
          for (let j = 0; j < cs.kw; j++) {
            const y = oy * cs.stride + i - info.padInfo.top;
            const x = ox * cs.stride + j - info.padInfo.left;
            if (y < 0 || y >= cs.h || x < 0 || x >= cs.w) continue;
            fn(n, oy, ox, i, j, y, x);
          }
}

export function refFilterGrad(cs: ConvCase, x: Float32Array, dy: Float32Array): Float64Array {
  const info = convInfo(cs);
  const dw = new Float64Array(cs.kh * cs.kw * cs.c * cs.k);
  forEachTap(cs, (n, oy, ox, i, j, y, xx) => {
    const xb = ((n * cs.h + y) * cs.w + xx) * cs.c;
    const db = ((n * info.outHeight + oy) * info.outWidth + ox) * cs.k;
    const wb = (i * cs.kw + j) * cs.c * cs.k;
    for (let c = 0; c < cs.c; c++) for (let k = 0; k < cs.k; k++) dw[wb + c * cs.k + k] += x[xb + c] * dy[db + k];
  });
  return dw;
}

export function refInputGrad(cs: ConvCase, w: Float32Array, dy: Float32Array): Float64Array {
  const info = convInfo(cs);
  const dx = new Float64Array(cs.n * cs.h * cs.w * cs.c);
  forEachTap(cs, (n, oy, ox, i, j, y, xx) => {
    const xb = ((n * cs.h + y) * cs.w + xx) * cs.c;
    const db = ((n * info.outHeight + oy) * info.outWidth + ox) * cs.k;
    const wb = (i * cs.kw + j) * cs.c * cs.k;
    for (let c = 0; c < cs.c; c++) for (let k = 0; k < cs.k; k++) dx[xb + c] += w[wb + c * cs.k + k] * dy[db + k];
  });
  return dx;
}

export function randomArray(size: number, seed: number): Float32Array {
  // xorshift32: deterministic across runs
  let s = seed | 0 || 1;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** max |a-b| / (1 + max |b|): scale-aware, so float32 summation-order noise passes. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let maxDiff = 0,
    maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    maxRef = Math.max(maxRef, Math.abs(b[i]));
  }
  return maxDiff / (1 + maxRef);
}
