// Conv2DBackpropFilter for any kernel and stride as "shifted GEMMs" on our SIMD module.
//
// dW[i,j,c,k] = sum_{n,oh,ow} xp[n, oh*s + i, ow*s + j, c] * dy[n,oh,ow,k], xp = x zero-padded.
// Split xp into s*s phase planes P[ri,rj][n,a,b] = xp[n, a*s+ri, b*s+rj]; tap (i,j) =
// (s*qi+ri, s*qj+rj) then reads P[ri,rj][n, oh+qi, ow+qj]. Lay every plane and dy out on the
// same (n, a, b) grid, flattened: the tap becomes a pure row offset qi*Wq + qj into its plane,
// and dW[i,j] = A^T B with A = plane rows from that offset, B = dy on the grid (zero rows
// where no output exists). Rows never leave their image row because the grid is wide enough
// for the furthest tap. One copy of x and dy in, kh*kw GEMMs at 30-40 GFLOP/s, no packing.
import { gemmMemory, gemmRun } from './gemm_atb.js';

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

export interface FilterGradGeometry {
  n: number;
  h: number;
  w: number;
  c: number;
  oh: number;
  ow: number;
  k: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  padTop: number;
  padLeft: number;
}

/** dw [kh, kw, c, k] (row-major) from x [n,h,w,c] and dy [n,oh,ow,k]. */
export function filterGradGemm(x: Float32Array, dy: Float32Array, g: FilterGradGeometry, dw: Float32Array): void {
  const { n, h, w, c, oh, ow, k, kh, kw, sh, sw, padTop, padLeft } = g;
  const cp = roundUp(c, 4),
    kp = roundUp(k, 8);
  const hp = roundUp(Math.max(padTop + h, (oh - 1) * sh + kh), sh);
  const wp = roundUp(Math.max(padLeft + w, (ow - 1) * sw + kw), sw);
  const hq = hp / sh,
    wq = wp / sw;
  const rows = n * hq * wq; // GEMM reduction length
  const slackRows = Math.ceil(kh / sh) * wq + Math.ceil(kw / sw) + 1;
  const planeFloats = (rows + slackRows) * cp;
  const planes = sh * sw;
  const dyOff = planes * planeFloats; // in floats
  const outOff = dyOff + rows * kp;
  const taps = kh * kw;
  const totalFloats = outOff + taps * cp * kp;
  const mem = gemmMemory(totalFloats * 4);
  mem.fill(0, 0, outOff);

  // x into its phase planes (channels padded to cp)
  if (sh === 1 && sw === 1 && cp === c) {
    // one plane, rows stay contiguous: one copy per input row
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < h; y++) {
        const dst = ((b * hq + y + padTop) * wq + padLeft) * cp;
        const src = (b * h + y) * w * c;
        mem.set(x.subarray(src, src + w * c), dst);
      }
    }
  } else
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < h; y++) {
        const yp = y + padTop,
          ri = yp % sh,
          a = (yp - ri) / sh;
        for (let xx = 0; xx < w; xx++) {
          const xp = xx + padLeft,
            rj = xp % sw,
            bq = (xp - rj) / sw;
          const dst = (ri * sw + rj) * planeFloats + ((b * hq + a) * wq + bq) * cp;
          const src = ((b * h + y) * w + xx) * c;
          for (let q = 0; q < c; q++) mem[dst + q] = x[src + q];
        }
      }
    }
  // dy onto the grid (channels padded to kp)
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      const rowDst = dyOff + (b * hq + y) * wq * kp;
      const rowSrc = (b * oh + y) * ow * k;
      if (kp === k) {
        mem.set(dy.subarray(rowSrc, rowSrc + ow * k), rowDst);
      } else {
        for (let xx = 0; xx < ow; xx++) mem.set(dy.subarray(rowSrc + xx * k, rowSrc + xx * k + k), rowDst + xx * kp);
      }
    }
  }
  for (let i = 0; i < kh; i++) {
    const ri = i % sh,
      qi = (i - ri) / sh;
    for (let j = 0; j < kw; j++) {
      const rj = j % sw,
        qj = (j - rj) / sw;
      const aOff = (ri * sw + rj) * planeFloats + (qi * wq + qj) * cp;
      const tapOut = outOff + (i * kw + j) * cp * kp;
      gemmRun(aOff * 4, dyOff * 4, tapOut * 4, rows, cp, kp);
    }
  }
  const res = gemmMemory(0);
  for (let t = 0; t < taps; t++) {
    const base = outOff + t * cp * kp;
    for (let q = 0; q < c; q++) {
      const src = base + q * kp,
        dst = (t * c + q) * k;
      for (let kk = 0; kk < k; kk++) dw[dst + kk] = res[src + kk];
    }
  }
}
