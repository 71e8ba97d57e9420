/**
 * One dataset item, as LoadImagesAndLabels.__getitem__ builds it: mosaic (+ mixup) or
 * load_image + letterbox (+ random_perspective), then label normalisation, HSV and flips.
 */
import { Rng } from './rng.js';
import type { RgbImage } from './image.js';
import { letterbox, letterboxGeometry } from './letterbox.js';
import { xywhn2xyxy, xyxy2xywhnInPlace, concatRows } from './boxes.js';
import { randomPerspective } from './perspective.js';
import { augmentHsv, flipLr, flipUd, mixupInPlace } from './hsv.js';
import { loadMosaic } from './mosaic.js';
import type { AugmentHyp } from './hyp.js';
import type { ImageStore } from './image-store.js';

/** What scale_boxes needs to map boxes back to the original image (null for mosaics). */
export interface ShapeInfo {
  /** Original (h0, w0). */
  shape0: [number, number];
  /** ((gain_h, gain_w), (padw, padh)): pixel gain from the original and letterbox padding. */
  ratioPad: [[number, number], [number, number]];
}

export interface Sample {
  image: RgbImage;
  /** n x 5 rows [class, x, y, w, h], normalized to the output image. */
  labels: Float32Array;
  path: string;
  shape: ShapeInfo | null;
}

export interface SampleOptions {
  augment: boolean;
  hyp: AugmentHyp;
  /** Use mosaic at all (YOLOv5: augment and not rect). */
  mosaic: boolean;
  /** Target (h, w) for letterbox (rect batch shape); default (imgsz, imgsz). */
  shape?: [number, number];
}

/**
 * Builds dataset item `index`; all randomness comes from rng. `into` (optional) receives the
 * output pixels when its length fits (the loader passes the sample's slot of the batch).
 */
export async function getSample(
  store: ImageStore,
  index: number,
  opts: SampleOptions,
  rng: Rng,
  into?: Uint8Array,
): Promise<Sample> {
  const { hyp, augment } = opts;
  let image: RgbImage;
  let labels: Float32Array;
  let shape: ShapeInfo | null = null;
  if (opts.mosaic && rng.random() < hyp.mosaic) {
    ({ image, labels } = await loadMosaic(store, index, hyp, rng, into));
    if (rng.random() < hyp.mixup) {
      const other = await loadMosaic(store, rng.randint(0, store.dataset.imFiles.length - 1), hyp, rng);
      mixupInPlace(image, other.image, rng);
      labels = concatRows([labels, other.labels]);
    }
  } else {
    const loaded = await store.load(index);
    const { h0, w0 } = loaded;
    const target = opts.shape ?? [store.imgsz, store.imgsz];
    const lbOpts = { auto: false, scaleup: augment };
    // a resize runs asynchronously (sharp): a transient (node cache ring) image is copied first
    const g = letterboxGeometry([loaded.image.height, loaded.image.width], target, lbOpts);
    const resizes = g.newUnpad[0] !== loaded.image.width || g.newUnpad[1] !== loaded.image.height;
    const img = loaded.transient && resizes ? { ...loaded.image, data: loaded.image.data.slice() } : loaded.image;
    // with augmentation the warp writes the final pixels; without, letterbox does
    const lb = await letterbox(img, target, lbOpts, augment ? undefined : into);
    // letterbox hands back the stored image when nothing changes: copy before any in-place step
    image = lb.image === img ? { ...img, data: img.data.slice() } : lb.image;
    const h = img.height;
    const w = img.width;
    shape = {
      shape0: [h0, w0],
      ratioPad: [
        [(h / h0) * lb.ratio[1], (w / w0) * lb.ratio[0]],
        [lb.pad[0], lb.pad[1]],
      ],
    };
    labels = store.dataset.labels[index]!;
    if (labels.length) labels = xywhn2xyxy(labels, lb.ratio[0] * w, lb.ratio[1] * h, lb.pad[0], lb.pad[1]);
    if (augment) ({ image, targets: labels } = randomPerspective(image, labels, hyp, rng, [0, 0], into));
  }
  // pixel xyxy -> normalized xywh (a copy: dataset labels are never modified)
  labels = labels === store.dataset.labels[index] ? Float32Array.from(labels) : labels;
  if (labels.length) xyxy2xywhnInPlace(labels, image.width, image.height, 1e-3);
  if (augment) {
    augmentHsv(image, hyp.hsv_h, hyp.hsv_s, hyp.hsv_v, rng);
    if (rng.random() < hyp.flipud) {
      flipUd(image);
      for (let i = 2; i < labels.length; i += 5) labels[i] = 1 - labels[i]!;
    }
    if (rng.random() < hyp.fliplr) {
      flipLr(image);
      for (let i = 1; i < labels.length; i += 5) labels[i] = 1 - labels[i]!;
    }
  }
  return { image, labels, path: store.dataset.imFiles[index]!, shape };
}

/** The per-sample RNG: a pure function of (seed, epoch, dataset index, occurrence in the epoch). */
export function sampleRng(seed: number, epoch: number, index: number, occurrence = 0): Rng {
  return Rng.from(seed, epoch, index, occurrence, 0x5a4d);
}
