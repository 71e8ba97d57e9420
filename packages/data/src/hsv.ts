/**
 * augment_hsv: random gains on hue, saturation and value through lookup tables, with
 * OpenCV's 8-bit HSV (H in 0..179, S and V in 0..255). Works on RGB (YOLOv5's BGR order
 * does not matter for the result: the same colour gets the same HSV).
 */
import type { Rng } from './rng.js';
import type { RgbImage } from './image.js';
import { dataNative } from './native.js';

const SHIFT = 12;
const HALF = 1 << (SHIFT - 1);
/** OpenCV's sdiv_table / hdiv_table for hrange 180. */
const SDIV = Int32Array.from({ length: 256 }, (_, i) => (i === 0 ? 0 : Math.round((255 << SHIFT) / i)));
const HDIV = Int32Array.from({ length: 256 }, (_, i) => (i === 0 ? 0 : Math.round((180 << SHIFT) / (6 * i))));

export function augmentHsv(img: RgbImage, hgain: number, sgain: number, vgain: number, rng: Rng): void {
  if (!hgain && !sgain && !vgain) return;
  const r0 = rng.uniform(-1, 1) * hgain + 1;
  const r1 = rng.uniform(-1, 1) * sgain + 1;
  const r2 = rng.uniform(-1, 1) * vgain + 1;
  applyHsvGains(img, r0, r1, r2);
}

/**
 * Multiplies hue, saturation and value by r0, r1, r2 (in place), through OpenCV's 8-bit HSV;
 * per pixel in the native addon when it is loaded (native/hsv.c, the same arithmetic).
 */
export function applyHsvGains(img: RgbImage, r0: number, r1: number, r2: number): void {
  const [lutH, lutS, lutV] = hsvLuts(r0, r1, r2);
  if (dataNative) dataNative.hsvApply(img.data, lutH, lutS, lutV);
  else applyHsvLutsJs(img, lutH, lutS, lutV);
}

/** augment_hsv's lookup tables for the gains r0, r1, r2. */
function hsvLuts(r0: number, r1: number, r2: number): [Uint8Array, Uint8Array, Uint8Array] {
  const lutH = new Uint8Array(256);
  const lutS = new Uint8Array(256);
  const lutV = new Uint8Array(256);
  for (let x = 0; x < 256; x++) {
    lutH[x] = Math.trunc((x * r0) % 180);
    lutS[x] = Math.trunc(Math.min(255, Math.max(0, x * r1)));
    lutV[x] = Math.trunc(Math.min(255, Math.max(0, x * r2)));
  }
  return [lutH, lutS, lutV];
}

/** applyHsvGains in JS: the reference of native/hsv.c and the path without the addon. */
export function applyHsvGainsJs(img: RgbImage, r0: number, r1: number, r2: number): void {
  const [lutH, lutS, lutV] = hsvLuts(r0, r1, r2);
  applyHsvLutsJs(img, lutH, lutS, lutV);
}

function applyHsvLutsJs(img: RgbImage, lutH: Uint8Array, lutS: Uint8Array, lutV: Uint8Array): void {
  const d = img.data;
  for (let o = 0; o < d.length; o += 3) {
    const r = d[o]!;
    const g = d[o + 1]!;
    const b = d[o + 2]!;
    // RGB -> HSV exactly as OpenCV's 8-bit RGB2HSV (fixed-point division tables)
    const v = r > g ? (r > b ? r : b) : g > b ? g : b;
    const mn = r < g ? (r < b ? r : b) : g < b ? g : b;
    const diff = v - mn;
    const s = (diff * SDIV[v]! + HALF) >> SHIFT;
    let h = v === r ? g - b : v === g ? b - r + 2 * diff : r - g + 4 * diff;
    h = (h * HDIV[diff]! + HALF) >> SHIFT;
    if (h < 0) h += 180;
    // LUTs, then HSV -> RGB (OpenCV converts 8-bit HSV through float)
    const S = lutS[s]!;
    const V = lutV[v]!;
    if (S === 0) {
      d[o] = V;
      d[o + 1] = V;
      d[o + 2] = V;
      continue;
    }
    const hh = lutH[h]! / 30; // 2*H degrees / 60
    const sector = hh | 0;
    const f = hh - sector;
    const sf = S / 255;
    const p = V * (1 - sf);
    const q = V * (1 - sf * f);
    const t = V * (1 - sf * (1 - f));
    let rr: number;
    let gg: number;
    let bb: number;
    switch (sector) {
      case 0:
        rr = V;
        gg = t;
        bb = p;
        break;
      case 1:
        rr = q;
        gg = V;
        bb = p;
        break;
      case 2:
        rr = p;
        gg = V;
        bb = t;
        break;
      case 3:
        rr = p;
        gg = q;
        bb = V;
        break;
      case 4:
        rr = t;
        gg = p;
        bb = V;
        break;
      default:
        rr = V;
        gg = p;
        bb = q;
        break;
    }
    d[o] = rr + 0.5;
    d[o + 1] = gg + 0.5;
    d[o + 2] = bb + 0.5;
  }
}

/** Horizontal flip in place (in the native addon when it is loaded). */
export function flipLr(img: RgbImage): void {
  if (dataNative) dataNative.flipLr(img.data, img.width, img.height);
  else flipLrJs(img);
}

export function flipLrJs(img: RgbImage): void {
  const { data, width, height } = img;
  for (let y = 0; y < height; y++) {
    let a = y * width * 3;
    let b = a + (width - 1) * 3;
    while (a < b) {
      for (let c = 0; c < 3; c++) {
        const t = data[a + c]!;
        data[a + c] = data[b + c]!;
        data[b + c] = t;
      }
      a += 3;
      b -= 3;
    }
  }
}

/** Vertical flip in place. */
export function flipUd(img: RgbImage): void {
  const { data, width, height } = img;
  const row = width * 3;
  const tmp = new Uint8Array(row);
  for (let y = 0; y < height >> 1; y++) {
    const a = y * row;
    const b = (height - 1 - y) * row;
    tmp.set(data.subarray(a, a + row));
    data.copyWithin(a, b, b + row);
    data.set(tmp, b);
  }
}

/** mixup: im = im*r + im2*(1-r), r ~ Beta(32, 32), truncated to uint8 like numpy's astype. */
export function mixupInPlace(img: RgbImage, img2: RgbImage, rng: Rng): void {
  if (img.width !== img2.width || img.height !== img2.height)
    throw new Error('mixup needs two images of the same size');
  const r = rng.beta(32, 32);
  const a = img.data;
  const b = img2.data;
  for (let i = 0; i < a.length; i++) a[i] = a[i]! * r + b[i]! * (1 - r);
}
