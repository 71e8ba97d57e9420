/**
 * Batches: images stacked to uint8 NHWC, targets as rows [imageInBatch, class, x, y, w, h]
 * (normalized xywh), plus paths and the per-image shape info for scale_boxes.
 */
import type { Rng } from './rng.js';
import type { Sample, ShapeInfo } from './sample.js';
import { resizeImage, type RgbImage } from './image.js';

export interface Batch {
  /** uint8 NHWC, RGB. */
  images: Uint8Array;
  /** [batch, height, width, 3] */
  shape: [number, number, number, number];
  /** n x 6 rows [imageInBatch, class, x, y, w, h], xywh normalized to the batch image size. */
  targets: Float32Array;
  paths: string[];
  shapes: Array<ShapeInfo | null>;
}

/**
 * Stacks samples into one NHWC buffer. With `images` given (the batch buffer the samples
 * were built into), samples already in their slot are not copied again.
 */
export function collate(samples: readonly Sample[], images?: Uint8Array): Batch {
  if (samples.length === 0) throw new Error('collate: empty batch');
  const h = samples[0]!.image.height;
  const w = samples[0]!.image.width;
  const per = h * w * 3;
  if (!images || images.length !== per * samples.length) images = new Uint8Array(per * samples.length);
  const out = images;
  let nt = 0;
  samples.forEach((s, i) => {
    if (s.image.height !== h || s.image.width !== w)
      throw new Error(`collate: image ${i} is ${s.image.width}x${s.image.height}, batch is ${w}x${h}`);
    const d = s.image.data;
    const inPlace = d.buffer === out.buffer && d.byteOffset === out.byteOffset + i * per;
    if (!inPlace) out.set(d, i * per);
    nt += s.labels.length / 5;
  });
  const targets = new Float32Array(nt * 6);
  let o = 0;
  samples.forEach((s, i) => {
    for (let k = 0; k < s.labels.length; k += 5) {
      targets[o++] = i;
      for (let c = 0; c < 5; c++) targets[o++] = s.labels[k + c]!;
    }
  });
  return {
    images: out,
    shape: [samples.length, h, w, 3],
    targets,
    paths: samples.map((s) => s.path),
    shapes: samples.map((s) => s.shape),
  };
}

/**
 * --quad (collate_fn4): every 4 images become one of twice the size, either the first one
 * upsampled 2x (probability 0.5) or the four tiled 2x2, labels rescaled to match.
 */
export async function collateQuad(samples: readonly Sample[], rng: Rng): Promise<Batch> {
  const n = Math.floor(samples.length / 4);
  if (n === 0) throw new Error('--quad needs a batch size of at least 4 (a multiple of 4)');
  const out: Sample[] = [];
  for (let q = 0; q < n; q++) {
    const s = samples.slice(q * 4, q * 4 + 4) as [Sample, Sample, Sample, Sample];
    const h = s[0].image.height;
    const w = s[0].image.width;
    let image: RgbImage;
    let labels: Float32Array;
    if (rng.random() < 0.5) {
      image = await resizeImage(s[0].image, w * 2, h * 2);
      labels = Float32Array.from(s[0].labels);
    } else {
      // [[0, 2], [1, 3]]: image 1 below 0, image 2 right of 0 (torch.cat on H then W)
      image = { data: new Uint8Array(w * 2 * h * 2 * 3), width: w * 2, height: h * 2 };
      const place: Array<[number, number]> = [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ]; // (dx, dy) per image
      const rows: number[] = [];
      s.forEach((sm, k) => {
        const [dx, dy] = place[k]!;
        for (let y = 0; y < h; y++)
          image.data.set(sm.image.data.subarray(y * w * 3, (y + 1) * w * 3), ((y + dy * h) * w * 2 + dx * w) * 3);
        for (let i = 0; i < sm.labels.length; i += 5) {
          rows.push(
            sm.labels[i]!,
            (sm.labels[i + 1]! + dx) * 0.5,
            (sm.labels[i + 2]! + dy) * 0.5,
            sm.labels[i + 3]! * 0.5,
            sm.labels[i + 4]! * 0.5,
          );
        }
      });
      labels = Float32Array.from(rows);
    }
    out.push({ image, labels, path: s[0].path, shape: s[0].shape });
  }
  return collate(out);
}
