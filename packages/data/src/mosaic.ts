/** load_mosaic: four images around a random centre on a 2s x 2s canvas, then random_perspective. */
import type { Rng } from './rng.js';
import { PAD_VALUE, type RgbImage } from './image.js';
import { composeCanvas, type Placement } from './canvas.js';
import { xywhn2xyxy, concatRows, clipXyxyInPlace } from './boxes.js';
import { randomPerspective } from './perspective.js';
import type { AugmentHyp } from './hyp.js';
import type { ImageStore } from './image-store.js';

/** Returns the mosaic image (s x s) and its pixel xyxy labels [cls, x1, y1, x2, y2]. */
/**
 * The 2s x 2s canvas is reused: from its fill to the end of the warp nothing awaits, so
 * concurrent samples of this thread never share it at the same time.
 */
let scratch: Uint8Array | null = null;

/** `into`: optional destination of the s x s output (a slot of the batch buffer). */
export async function loadMosaic(
  store: ImageStore,
  index: number,
  hyp: AugmentHyp,
  rng: Rng,
  into?: Uint8Array,
): Promise<{ image: RgbImage; labels: Float32Array }> {
  const s = store.imgsz;
  const border: [number, number] = [-Math.floor(s / 2), -Math.floor(s / 2)];
  const n = store.dataset.imFiles.length;
  const yc = Math.trunc(rng.uniform(-border[0], 2 * s + border[0]));
  const xc = Math.trunc(rng.uniform(-border[1], 2 * s + border[1]));
  const indices = rng.shuffle([index, rng.randint(0, n - 1), rng.randint(0, n - 1), rng.randint(0, n - 1)]);
  const loaded = await Promise.all(indices.map((i) => store.load(i)));
  const placements: Placement[] = [];
  const parts: Float32Array[] = [];
  loaded.forEach(({ image }, i) => {
    const w = image.width;
    const h = image.height;
    let x1a: number, y1a: number, x2a: number, y2a: number, x1b: number, y1b: number;
    if (i === 0) {
      [x1a, y1a, x2a, y2a] = [Math.max(xc - w, 0), Math.max(yc - h, 0), xc, yc];
      [x1b, y1b] = [w - (x2a - x1a), h - (y2a - y1a)];
    } else if (i === 1) {
      [x1a, y1a, x2a, y2a] = [xc, Math.max(yc - h, 0), Math.min(xc + w, s * 2), yc];
      [x1b, y1b] = [0, h - (y2a - y1a)];
    } else if (i === 2) {
      [x1a, y1a, x2a, y2a] = [Math.max(xc - w, 0), yc, xc, Math.min(s * 2, yc + h)];
      [x1b, y1b] = [w - (x2a - x1a), 0];
    } else {
      [x1a, y1a, x2a, y2a] = [xc, yc, Math.min(xc + w, s * 2), Math.min(s * 2, yc + h)];
      [x1b, y1b] = [0, 0];
    }
    placements.push({ src: image, sx: x1b, sy: y1b, dx: x1a, dy: y1a, w: x2a - x1a, h: y2a - y1a });
    const labels = store.dataset.labels[indices[i]!]!;
    if (labels.length) parts.push(xywhn2xyxy(labels, w, h, x1a - x1b, y1a - y1b));
  });
  if (!scratch || scratch.length !== 4 * s * s * 3) scratch = new Uint8Array(4 * s * s * 3);
  const img4 = composeCanvas(2 * s, 2 * s, PAD_VALUE, placements, scratch);
  const labels4 = concatRows(parts);
  clipXyxyInPlace(labels4, 0, 2 * s);
  const out = randomPerspective(img4, labels4, hyp, rng, border, into);
  return { image: out.image, labels: out.targets };
}
