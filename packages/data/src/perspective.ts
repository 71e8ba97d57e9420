/** random_perspective and box_candidates (YOLOv5 utils.augmentations). */
import type { Rng } from './rng.js';
import type { RgbImage } from './image.js';
import { warpImage, matMul, IDENTITY, type Mat3 } from './warp.js';
import type { AugmentHyp } from './hyp.js';

/**
 * Keeps boxes that are still boxes after augmentation: wider and taller than wh_thr pixels,
 * at least area_thr of their scaled original area, aspect ratio below ar_thr.
 * box1: original (already multiplied by the scale), box2: augmented; both xyxy.
 */
export function boxCandidate(
  b1: ArrayLike<number>,
  b2: ArrayLike<number>,
  whThr = 2,
  arThr = 100,
  areaThr = 0.1,
  eps = 1e-16,
): boolean {
  const w1 = b1[2]! - b1[0]!;
  const h1 = b1[3]! - b1[1]!;
  const w2 = b2[2]! - b2[0]!;
  const h2 = b2[3]! - b2[1]!;
  const ar = Math.max(w2 / (h2 + eps), h2 / (w2 + eps));
  return w2 > whThr && h2 > whThr && (w2 * h2) / (w1 * h1 + eps) > areaThr && ar < arThr;
}

export type PerspectiveHyp = Pick<AugmentHyp, 'degrees' | 'translate' | 'scale' | 'shear' | 'perspective'>;

/** The random matrix M = T @ S @ R @ P @ C of random_perspective, and its scale s. */
export function randomPerspectiveMatrix(
  inW: number,
  inH: number,
  outW: number,
  outH: number,
  hyp: PerspectiveHyp,
  rng: Rng,
): { M: Mat3; s: number } {
  const C: Mat3 = [1, 0, -inW / 2, 0, 1, -inH / 2, 0, 0, 1];
  const P: Mat3 = [
    1,
    0,
    0,
    0,
    1,
    0,
    rng.uniform(-hyp.perspective, hyp.perspective),
    rng.uniform(-hyp.perspective, hyp.perspective),
    1,
  ];
  const a = rng.uniform(-hyp.degrees, hyp.degrees);
  const s = rng.uniform(1 - hyp.scale, 1 + hyp.scale);
  // cv2.getRotationMatrix2D(center=(0, 0), angle=a, scale=s)
  const rad = (a * Math.PI) / 180;
  const al = s * Math.cos(rad);
  const be = s * Math.sin(rad);
  const R: Mat3 = [al, be, 0, -be, al, 0, 0, 0, 1];
  const S: Mat3 = [
    1,
    Math.tan((rng.uniform(-hyp.shear, hyp.shear) * Math.PI) / 180),
    0,
    Math.tan((rng.uniform(-hyp.shear, hyp.shear) * Math.PI) / 180),
    1,
    0,
    0,
    0,
    1,
  ];
  const T: Mat3 = [
    1,
    0,
    rng.uniform(0.5 - hyp.translate, 0.5 + hyp.translate) * outW,
    0,
    1,
    rng.uniform(0.5 - hyp.translate, 0.5 + hyp.translate) * outH,
    0,
    0,
    1,
  ];
  const M = matMul(T, matMul(S, matMul(R, matMul(P, C))));
  return { M, s };
}

/**
 * Warps the image and its pixel xyxy label rows [cls, x1, y1, x2, y2]; boxes are the extent
 * of the transformed corners, clipped to the output and filtered by box_candidates.
 * border = mosaic_border (-s/2, -s/2) shrinks the 2s mosaic canvas back to s.
 */
export function randomPerspective(
  img: RgbImage,
  targets: Float32Array,
  hyp: PerspectiveHyp,
  rng: Rng,
  border: [number, number] = [0, 0],
  into?: Uint8Array,
): { image: RgbImage; targets: Float32Array } {
  const height = img.height + border[0] * 2;
  const width = img.width + border[1] * 2;
  const { M, s } = randomPerspectiveMatrix(img.width, img.height, width, height, hyp, rng);
  const changed = border[0] !== 0 || border[1] !== 0 || M.some((v, i) => v !== IDENTITY[i]);
  const image = changed
    ? warpImage(
        img,
        hyp.perspective ? M : [M[0], M[1], M[2], M[3], M[4], M[5], 0, 0, 1],
        width,
        height,
        undefined,
        into,
      )
    : img;
  const n = targets.length / 5;
  if (!n) return { image, targets };
  const kept: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = targets.subarray(i * 5, i * 5 + 5);
    const corners = [t[1]!, t[2]!, t[3]!, t[4]!, t[1]!, t[4]!, t[3]!, t[2]!]; // x1y1, x2y2, x1y2, x2y1
    let x1 = Infinity;
    let y1 = Infinity;
    let x2 = -Infinity;
    let y2 = -Infinity;
    for (let k = 0; k < 8; k += 2) {
      const px = corners[k]!;
      const py = corners[k + 1]!;
      let X = M[0] * px + M[1] * py + M[2];
      let Y = M[3] * px + M[4] * py + M[5];
      if (hyp.perspective) {
        const W = M[6] * px + M[7] * py + M[8];
        X /= W;
        Y /= W;
      }
      x1 = Math.min(x1, X);
      x2 = Math.max(x2, X);
      y1 = Math.min(y1, Y);
      y2 = Math.max(y2, Y);
    }
    const nb = [
      Math.min(Math.max(x1, 0), width),
      Math.min(Math.max(y1, 0), height),
      Math.min(Math.max(x2, 0), width),
      Math.min(Math.max(y2, 0), height),
    ];
    const ob = [t[1]! * s, t[2]! * s, t[3]! * s, t[4]! * s];
    if (boxCandidate(ob, nb)) kept.push(t[0]!, ...nb);
  }
  return { image, targets: Float32Array.from(kept) };
}
