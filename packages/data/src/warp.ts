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

/** What every warp loop reads and writes: the source, the output and the border value. */
interface WarpTarget {
  sd: Uint8Array;
  dd: Uint8Array;
  sw: number;
  sh: number;
  stride: number;
  outW: number;
  outH: number;
  border: number;
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
  const dst = newImage(outW, outH, border, into);
  const t: WarpTarget = {
    sd: src.data,
    dd: dst.data,
    sw: src.width,
    sh: src.height,
    stride: src.width * 3,
    outW,
    outH,
    border,
  };
  if (inv[6] !== 0 || inv[7] !== 0 || inv[8] !== 1) warpPerspective(t, inv);
  else if (inv[1] === 0 && inv[3] === 0 && inv[0] > 0 && inv[4] > 0) warpScaleTranslate(t, inv);
  else warpAffine(t, inv);
  return dst;
}

/** Bilinear sample at (sx, sy) into dd[o..o+2]; handles the border. */
function sample(t: WarpTarget, sx: number, sy: number, o: number): void {
  if (!(sx > -1 && sy > -1 && sx < t.sw && sy < t.sh)) return; // all four neighbours are border
  // +1 keeps the value positive so that truncation is floor
  const xs = ((sx + 1) * ONE + 0.5) | 0;
  const ys = ((sy + 1) * ONE + 0.5) | 0;
  const x0 = (xs >> BITS) - 1;
  const y0 = (ys >> BITS) - 1;
  const fx = xs & (ONE - 1);
  const fy = ys & (ONE - 1);
  if (x0 >= 0 && y0 >= 0 && x0 + 1 < t.sw && y0 + 1 < t.sh) {
    const p00 = y0 * t.stride + x0 * 3;
    blendRgb(t.sd, t.dd, p00, p00 + t.stride, fx, fy, o);
  } else blendAtEdge(t, x0, y0, fx, fy, o);
}

/** sample's 2x2 neighbourhood at the source's edge: out-of-range neighbours take the border value. */
function blendAtEdge(t: WarpTarget, x0: number, y0: number, fx: number, fy: number, o: number): void {
  const { sd, dd, sw, sh, stride, border } = t;
  const p00 = y0 * stride + x0 * 3;
  const w00 = (ONE - fx) * (ONE - fy);
  const w10 = fx * (ONE - fy);
  const w01 = (ONE - fx) * fy;
  const w11 = fx * fy;
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
}

/** The general case: a division per pixel; a pixel whose w is 0 keeps the border. */
function warpPerspective(t: WarpTarget, inv: Mat3): void {
  const [i0, i1, i2, i3, i4, i5, i6, i7, i8] = inv;
  for (let y = 0; y < t.outH; y++) {
    for (let x = 0, o = y * t.outW * 3; x < t.outW; x++, o += 3) {
      const w = i6 * x + i7 * y + i8;
      if (w !== 0) sample(t, (i0 * x + i1 * y + i2) / w, (i3 * x + i4 * y + i5) / w, o);
    }
  }
}

/** Per output column of a scale + translation warp: source offset, fraction, and all-inside flag. */
interface ColumnTable {
  ok: Uint8Array;
  off: Int32Array;
  f: Int32Array;
}

function columnTable(t: WarpTarget, i0: number, i2: number): ColumnTable {
  const ok = new Uint8Array(t.outW);
  const off = new Int32Array(t.outW);
  const f = new Int32Array(t.outW);
  for (let x = 0; x < t.outW; x++) {
    const sx = i0 * x + i2;
    const xs = ((sx + 1) * ONE + 0.5) | 0;
    const x0 = (xs >> BITS) - 1;
    ok[x] = sx > -1 && sx < t.sw && x0 >= 0 && x0 + 1 < t.sw ? 1 : 0;
    off[x] = x0 * 3;
    f[x] = xs & (ONE - 1);
  }
  return { ok, off, f };
}

/**
 * Scale + translation only (the default hyp: no rotation or shear): separable, so the source
 * column and weight of every output column are computed once.
 */
function warpScaleTranslate(t: WarpTarget, inv: Mat3): void {
  const [i0, , i2, , i4, i5] = inv;
  const { sd, dd, sh, stride, outW } = t;
  const cols = columnTable(t, i0, i2);
  for (let y = 0; y < t.outH; y++) {
    const sy = i4 * y + i5;
    if (!(sy > -1 && sy < sh)) continue;
    const ys = ((sy + 1) * ONE + 0.5) | 0;
    const y0 = (ys >> BITS) - 1;
    const fy = ys & (ONE - 1);
    const rowOk = y0 >= 0 && y0 + 1 < sh;
    const rowO = y * outW * 3;
    for (let x = 0; x < outW; x++) {
      const o = rowO + x * 3;
      if (!rowOk || !cols.ok[x]) {
        sample(t, i0 * x + i2, sy, o);
        continue;
      }
      const p00 = y0 * stride + cols.off[x]!;
      blendRgb(sd, dd, p00, p00 + stride, cols.f[x]!, fy, o);
    }
  }
}

/** A run of output columns [lo, hi] of one row (empty when hi < lo). */
interface Run {
  lo: number;
  hi: number;
}

const EPS = 1e-6;

/**
 * Narrows `run` to the x where s(x) = a x + b has 0 <= s(x) and s(x) < n - 1 (with a margin
 * for the 1/32 rounding), i.e. where both neighbours along that axis are inside the source.
 */
function narrowToInside(run: Run, a: number, b: number, n: number): void {
  const minV = EPS;
  const maxV = n - 1 - 1 / ONE - EPS;
  if (Math.abs(a) < 1e-12) {
    if (b < minV || b > maxV) run.hi = -1;
    return;
  }
  let x1 = (minV - b) / a;
  let x2 = (maxV - b) / a;
  if (x1 > x2) [x1, x2] = [x2, x1];
  run.lo = Math.max(run.lo, Math.ceil(x1));
  run.hi = Math.min(run.hi, Math.floor(x2));
}

/** Output columns lo..hi of the row at rowO, all four neighbours inside: no bounds checks. */
function blendInsideRun(t: WarpTarget, i0: number, i3: number, bx: number, by: number, run: Run, rowO: number): void {
  const { sd, dd, stride } = t;
  for (let x = run.lo, o = rowO + run.lo * 3; x <= run.hi; x++, o += 3) {
    const xs = ((i0 * x + bx) * ONE + 0.5) | 0;
    const ys = ((i3 * x + by) * ONE + 0.5) | 0;
    const fx = xs & (ONE - 1);
    const fy = ys & (ONE - 1);
    const p00 = (ys >> BITS) * stride + (xs >> BITS) * 3;
    blendRgb(sd, dd, p00, p00 + stride, fx, fy, o);
  }
}

/**
 * Affine: sx, sy are linear in x along a row, so the run of x whose four neighbours are all
 * inside the source is an interval; it gets a loop without bounds checks.
 */
function warpAffine(t: WarpTarget, inv: Mat3): void {
  const [i0, i1, i2, i3, i4, i5] = inv;
  const { outW } = t;
  const run: Run = { lo: 0, hi: 0 };
  for (let y = 0; y < t.outH; y++) {
    const bx = i1 * y + i2;
    const by = i4 * y + i5;
    run.lo = 0;
    run.hi = outW - 1;
    narrowToInside(run, i0, bx, t.sw);
    narrowToInside(run, i3, by, t.sh);
    const rowO = y * outW * 3;
    const edgeEnd = run.hi >= run.lo ? run.lo : outW;
    for (let x = 0; x < edgeEnd; x++) sample(t, i0 * x + bx, i3 * x + by, rowO + x * 3);
    if (run.hi >= run.lo) {
      blendInsideRun(t, i0, i3, bx, by, run, rowO);
      for (let x = run.hi + 1; x < outW; x++) sample(t, i0 * x + bx, i3 * x + by, rowO + x * 3);
    }
  }
}
