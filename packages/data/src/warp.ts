/**
 * Warps an RGB image by a 3x3 homography with bilinear sampling and a constant border, as
 * cv2.warpAffine / cv2.warpPerspective(dsize, borderValue=114) do. Written by hand because
 * libvips' affine cannot do perspective and sizes its output to the transformed input; here
 * the output window is fixed (dsize) and the whole random_perspective matrix is applied in
 * one resampling pass.
 */
import { newImage, PAD_VALUE, type RgbImage } from './image.js';
import { dataNative } from './native.js';

/** Row-major 3x3 matrix. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];

export const IDENTITY: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

export function matMul(a: Mat3, b: Mat3): Mat3 {
  const o = new Array<number>(9).fill(0) as Mat3;
  for (let r = 0; r < 3; r++)
    for (let c = 0; c < 3; c++)
      o[r * 3 + c] = a[r * 3]! * b[c]! + a[r * 3 + 1]! * b[3 + c]! + a[r * 3 + 2]! * b[6 + c]!;
  return o;
}

export function matInv(m: Mat3): Mat3 {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-15) throw new Error('warp matrix is singular');
  const s = 1 / det;
  return [
    A * s,
    -(b * i - c * h) * s,
    (b * f - c * e) * s,
    B * s,
    (a * i - c * g) * s,
    -(a * f - c * d) * s,
    C * s,
    -(a * h - b * g) * s,
    (a * e - b * d) * s,
  ];
}

const BITS = 5; // OpenCV's INTER_BITS: sub-pixel positions in 1/32 px
const ONE = 1 << BITS;

/**
 * Fixed-point bilinear blend of the 2x2 RGB neighbourhood at p00 (row above) and p01 (row
 * below) into dst[o..o+2]; fx, fy are the 1/32-px fractions. Weights sum to 32*32 = 1024,
 * hence the +512 >> 10 rounding, as OpenCV's warpAffine.
 */
function blendRgb(src: Uint8Array, dst: Uint8Array, p00: number, p01: number, fx: number, fy: number, o: number): void {
  const w00 = (ONE - fx) * (ONE - fy);
  const w10 = fx * (ONE - fy);
  const w01 = (ONE - fx) * fy;
  const w11 = fx * fy;
  dst[o] = (w00 * src[p00]! + w10 * src[p00 + 3]! + w01 * src[p01]! + w11 * src[p01 + 3]! + 512) >> 10;
  dst[o + 1] = (w00 * src[p00 + 1]! + w10 * src[p00 + 4]! + w01 * src[p01 + 1]! + w11 * src[p01 + 4]! + 512) >> 10;
  dst[o + 2] = (w00 * src[p00 + 2]! + w10 * src[p00 + 5]! + w01 * src[p01 + 2]! + w11 * src[p01 + 5]! + 512) >> 10;
}

/**
 * dst(x, y) = src(M^-1 (x, y)); pixel centres at integer coordinates like OpenCV, bilinear
 * weights in 1/32 px fixed point (as cv2's INTER_LINEAR), border pixels = `border`. Runs in
 * the native addon when it is loaded (native/warp.c, the same arithmetic: identical bytes).
 */
export function warpImage(
  src: RgbImage,
  M: Mat3,
  outW: number,
  outH: number,
  border = PAD_VALUE,
  into?: Uint8Array,
): RgbImage {
  if (!dataNative) return warpImageJs(src, M, outW, outH, border, into);
  const n = outW * outH * 3;
  const data = into && into.length === n ? into : new Uint8Array(n);
  const inv = Float64Array.from(matInv(M));
  dataNative.warpImage(src.data, src.width, src.height, inv, data, outW, outH, border);
  return { data, width: outW, height: outH };
}

/** warpImage in JS: the reference of native/warp.c and the path without the addon. */
export function warpImageJs(
  src: RgbImage,
  M: Mat3,
  outW: number,
  outH: number,
  border = PAD_VALUE,
  into?: Uint8Array,
): RgbImage {
  const inv = matInv(M);
  const [i0, i1, i2, i3, i4, i5, i6, i7, i8] = inv;
  const dst = newImage(outW, outH, border, into);
  const sd = src.data;
  const dd = dst.data;
  const sw = src.width;
  const sh = src.height;
  const stride = sw * 3;
  const perspective = i6 !== 0 || i7 !== 0 || i8 !== 1;
  /** Bilinear sample at (sx, sy) into dd[o..o+2]; handles the border. */
  const sample = (sx: number, sy: number, o: number): void => {
    if (!(sx > -1 && sy > -1 && sx < sw && sy < sh)) return; // all four neighbours are border
    // +1 keeps the value positive so that truncation is floor
    const xs = ((sx + 1) * ONE + 0.5) | 0;
    const ys = ((sy + 1) * ONE + 0.5) | 0;
    const x0 = (xs >> BITS) - 1;
    const y0 = (ys >> BITS) - 1;
    const fx = xs & (ONE - 1);
    const fy = ys & (ONE - 1);
    const w00 = (ONE - fx) * (ONE - fy);
    const w10 = fx * (ONE - fy);
    const w01 = (ONE - fx) * fy;
    const w11 = fx * fy;
    const p00 = y0 * stride + x0 * 3;
    if (x0 >= 0 && y0 >= 0 && x0 + 1 < sw && y0 + 1 < sh) {
      const p01 = p00 + stride;
      dd[o] = (w00 * sd[p00]! + w10 * sd[p00 + 3]! + w01 * sd[p01]! + w11 * sd[p01 + 3]! + 512) >> 10;
      dd[o + 1] = (w00 * sd[p00 + 1]! + w10 * sd[p00 + 4]! + w01 * sd[p01 + 1]! + w11 * sd[p01 + 4]! + 512) >> 10;
      dd[o + 2] = (w00 * sd[p00 + 2]! + w10 * sd[p00 + 5]! + w01 * sd[p01 + 2]! + w11 * sd[p01 + 5]! + 512) >> 10;
      return;
    }
    // at the edge: out-of-range neighbours take the border value
    const in00 = x0 >= 0 && y0 >= 0 && x0 < sw && y0 < sh;
    const in10 = x0 + 1 < sw && y0 >= 0 && x0 + 1 >= 0 && y0 < sh;
    const in01 = x0 >= 0 && y0 + 1 < sh && x0 < sw && y0 + 1 >= 0;
    const in11 = x0 + 1 < sw && y0 + 1 < sh && x0 + 1 >= 0 && y0 + 1 >= 0;
    for (let c = 0; c < 3; c++) {
      const v00 = in00 ? sd[p00 + c]! : border;
      const v10 = in10 ? sd[p00 + 3 + c]! : border;
      const v01 = in01 ? sd[p00 + stride + c]! : border;
      const v11 = in11 ? sd[p00 + stride + 3 + c]! : border;
      dd[o + c] = (w00 * v00 + w10 * v10 + w01 * v01 + w11 * v11 + 512) >> 10;
    }
  };
  if (perspective) {
    for (let y = 0; y < outH; y++) {
      for (let x = 0, o = y * outW * 3; x < outW; x++, o += 3) {
        const w = i6 * x + i7 * y + i8;
        if (w !== 0) sample((i0 * x + i1 * y + i2) / w, (i3 * x + i4 * y + i5) / w, o);
      }
    }
    return dst;
  }
  if (i1 === 0 && i3 === 0 && i0 > 0 && i4 > 0) {
    // scale + translation only (the default hyp: no rotation or shear): separable, so the
    // source column and weight of every output column are computed once
    const colOk = new Uint8Array(outW);
    const colOff = new Int32Array(outW);
    const colF = new Int32Array(outW);
    for (let x = 0; x < outW; x++) {
      const sx = i0 * x + i2;
      const xs = ((sx + 1) * ONE + 0.5) | 0;
      const x0 = (xs >> BITS) - 1;
      colOk[x] = sx > -1 && sx < sw && x0 >= 0 && x0 + 1 < sw ? 1 : 0;
      colOff[x] = x0 * 3;
      colF[x] = xs & (ONE - 1);
    }
    for (let y = 0; y < outH; y++) {
      const sy = i4 * y + i5;
      if (!(sy > -1 && sy < sh)) continue;
      const ys = ((sy + 1) * ONE + 0.5) | 0;
      const y0 = (ys >> BITS) - 1;
      const fy = ys & (ONE - 1);
      const rowOk = y0 >= 0 && y0 + 1 < sh;
      const rowO = y * outW * 3;
      for (let x = 0; x < outW; x++) {
        const o = rowO + x * 3;
        if (!rowOk || !colOk[x]) {
          sample(i0 * x + i2, sy, o);
          continue;
        }
        const fx = colF[x]!;
        const p00 = y0 * stride + colOff[x]!;
        const p01 = p00 + stride;
        blendRgb(sd, dd, p00, p01, fx, fy, o);
      }
    }
    return dst;
  }
  // affine: sx, sy are linear in x along a row, so the run of x whose four neighbours are all
  // inside the source is an interval; it gets a loop without bounds checks
  const EPS = 1e-6;
  for (let y = 0; y < outH; y++) {
    const bx = i1 * y + i2;
    const by = i4 * y + i5;
    let lo = 0;
    let hi = outW - 1;
    // need 0 <= s(x) and s(x) < n - 1 (with a margin for the 1/32 rounding) for s = sx, sy
    const limit = (a: number, b: number, n: number): void => {
      const minV = EPS;
      const maxV = n - 1 - 1 / ONE - EPS;
      if (Math.abs(a) < 1e-12) {
        if (b < minV || b > maxV) hi = -1;
        return;
      }
      let x1 = (minV - b) / a;
      let x2 = (maxV - b) / a;
      if (x1 > x2) [x1, x2] = [x2, x1];
      lo = Math.max(lo, Math.ceil(x1));
      hi = Math.min(hi, Math.floor(x2));
    };
    limit(i0, bx, sw);
    limit(i3, by, sh);
    const rowO = y * outW * 3;
    const edgeEnd = hi >= lo ? lo : outW;
    for (let x = 0; x < edgeEnd; x++) sample(i0 * x + bx, i3 * x + by, rowO + x * 3);
    if (hi >= lo) {
      for (let x = lo, o = rowO + lo * 3; x <= hi; x++, o += 3) {
        const xs = ((i0 * x + bx) * ONE + 0.5) | 0;
        const ys = ((i3 * x + by) * ONE + 0.5) | 0;
        const fx = xs & (ONE - 1);
        const fy = ys & (ONE - 1);
        const p00 = (ys >> BITS) * stride + (xs >> BITS) * 3;
        const p01 = p00 + stride;
        blendRgb(sd, dd, p00, p01, fx, fy, o);
      }
      for (let x = hi + 1; x < outW; x++) sample(i0 * x + bx, i3 * x + by, rowO + x * 3);
    }
  }
  return dst;
}
