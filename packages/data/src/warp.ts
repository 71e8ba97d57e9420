/**
 * Warps an RGB image by a 3x3 homography with bilinear sampling and a constant border, as
 * cv2.warpAffine / cv2.warpPerspective(dsize, borderValue=114) do. Written by hand because
 * libvips' affine cannot do perspective and sizes its output to the transformed input; here
 * the output window is fixed (dsize) and the whole random_perspective matrix is applied in
 * one resampling pass.
 */
import { newImage, PAD_VALUE, type RgbImage } from './image.js';

/** Row-major 3x3 matrix. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];

export const IDENTITY: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

export function matMul(a: Mat3, b: Mat3): Mat3 {
  const o = new Array<number>(9).fill(0) as Mat3;
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) o[r * 3 + c] = a[r * 3]! * b[c]! + a[r * 3 + 1]! * b[3 + c]! + a[r * 3 + 2]! * b[6 + c]!;
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
  return [A * s, -(b * i - c * h) * s, (b * f - c * e) * s, B * s, (a * i - c * g) * s, -(a * f - c * d) * s, C * s, -(a * h - b * g) * s, (a * e - b * d) * s];
}

/** dst(x, y) = src(M^-1 (x, y)); pixel centres at integer coordinates like OpenCV. */
export function warpImage(src: RgbImage, M: Mat3, outW: number, outH: number, border = PAD_VALUE): RgbImage {
  const inv = matInv(M);
  const dst = newImage(outW, outH, border);
  const sd = src.data;
  const dd = dst.data;
  const sw = src.width;
  const sh = src.height;
  const perspective = inv[6] !== 0 || inv[7] !== 0 || inv[8] !== 1;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      let sx = inv[0] * x + inv[1] * y + inv[2];
      let sy = inv[3] * x + inv[4] * y + inv[5];
      if (perspective) {
        const w = inv[6] * x + inv[7] * y + inv[8];
        if (w === 0) continue;
        sx /= w;
        sy /= w;
      }
      if (sx <= -1 || sy <= -1 || sx >= sw || sy >= sh) continue; // all four neighbours are border
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const o = (y * outW + x) * 3;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < sw && y0 + 1 < sh) {
        const p00 = (y0 * sw + x0) * 3;
        const p10 = p00 + 3;
        const p01 = p00 + sw * 3;
        const p11 = p01 + 3;
        const w00 = (1 - fx) * (1 - fy);
        const w10 = fx * (1 - fy);
        const w01 = (1 - fx) * fy;
        const w11 = fx * fy;
        dd[o] = w00 * sd[p00]! + w10 * sd[p10]! + w01 * sd[p01]! + w11 * sd[p11]! + 0.5;
        dd[o + 1] = w00 * sd[p00 + 1]! + w10 * sd[p10 + 1]! + w01 * sd[p01 + 1]! + w11 * sd[p11 + 1]! + 0.5;
        dd[o + 2] = w00 * sd[p00 + 2]! + w10 * sd[p10 + 2]! + w01 * sd[p01 + 2]! + w11 * sd[p11 + 2]! + 0.5;
      } else {
        // at the edge: out-of-range neighbours take the border value
        for (let c = 0; c < 3; c++) {
          let acc = 0;
          for (let dy = 0; dy < 2; dy++)
            for (let dx = 0; dx < 2; dx++) {
              const xx = x0 + dx;
              const yy = y0 + dy;
              const wgt = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
              const v = xx >= 0 && yy >= 0 && xx < sw && yy < sh ? sd[(yy * sw + xx) * 3 + c]! : border;
              acc += wgt * v;
            }
          dd[o + c] = acc + 0.5;
        }
      }
    }
  }
  return dst;
}
