// Batches for the trainer: uint8 NHWC images and targets [img, cls, x, y, w, h] (normalised).
//
// The data package's DataLoader (worker threads, mosaic and the full augmentation set) is
// used when it is available; otherwise this file's LetterboxLoader serves: letterboxed
// images (square imgsz), left-right flips with probability hyp.fliplr, decoded images kept
// in RAM. Every random decision is keyed by (seed, epoch, image index), so a batch does not
// depend on the rank or the world size.

import * as data from '@yolo-launch/data';
import type { YoloDataset } from '@yolo-launch/data';

export interface ImageShapeInfo {
  /** Original (height, width). */
  orig: [number, number];
  /** letterbox ratio (w, h) and half padding (dw, dh). */
  ratio: [number, number];
  pad: [number, number];
}

export interface Batch {
  /** NHWC RGB bytes. */
  images: Uint8Array;
  n: number;
  height: number;
  width: number;
  /** [img, cls, x, y, w, h] rows, xywh normalised to the batch image size. */
  targets: Float32Array;
  indices: number[];
  paths: string[];
  shapes: ImageShapeInfo[];
}

export interface BatchSource {
  /** This rank's batches of an epoch from its sample indices (in order). */
  epoch(indices: readonly number[], epoch: number, batchSize: number): AsyncIterable<Batch>;
  /** Loader worker threads in use (0: batches are built in the calling thread). */
  readonly workers: number;
  /** Optional: the batch's pixels are no longer needed (already copied into a tensor); the loader reuses its buffer. */
  recycle?(batch: Batch): void;
  close(): Promise<void>;
}

export interface LoaderOptions {
  imgsz: number;
  augment: boolean;
  hyp: Record<string, number>;
  seed: number;
  /** Keep decoded, letterboxed images in memory (--cache ram; always on in the fallback loader). */
  cache: boolean;
  stride: number;
  workers: number;
  rank: number;
}

interface Prepared {
  image: Uint8Array;
  /** Labels [cls, x, y, w, h] normalised to the letterboxed image. */
  labels: Float32Array;
  shape: ImageShapeInfo;
}

export class LetterboxLoader implements BatchSource {
  private readonly cache = new Map<number, Prepared>();
  /** Builds every batch in the calling thread. */
  readonly workers = 0;

  constructor(
    private readonly dataset: YoloDataset,
    private readonly opts: LoaderOptions,
  ) {}

  private async prepare(i: number): Promise<Prepared> {
    const hit = this.cache.get(i);
    if (hit) return hit;
    const s = this.opts.imgsz;
    const img = await data.decodeImage(this.dataset.imFiles[i]!);
    const lb = await data.letterbox(img, s, { auto: false, scaleup: this.opts.augment });
    const [h0, w0] = [img.height, img.width];
    const src = this.dataset.labels[i]!;
    const labels = new Float32Array(src.length);
    for (let r = 0; r < src.length; r += 5) {
      // normalised xywh of the original -> pixels of the letterboxed image -> normalised
      const x = src[r + 1]! * w0 * lb.ratio[0] + lb.pad[0];
      const y = src[r + 2]! * h0 * lb.ratio[1] + lb.pad[1];
      const w = src[r + 3]! * w0 * lb.ratio[0];
      const h = src[r + 4]! * h0 * lb.ratio[1];
      labels[r] = src[r]!;
      labels[r + 1] = x / lb.image.width;
      labels[r + 2] = y / lb.image.height;
      labels[r + 3] = w / lb.image.width;
      labels[r + 4] = h / lb.image.height;
    }
    const p: Prepared = { image: lb.image.data, labels, shape: { orig: [h0, w0], ratio: lb.ratio, pad: lb.pad } };
    this.cache.set(i, p);
    return p;
  }

  async *epoch(indices: readonly number[], epoch: number, batchSize: number): AsyncIterable<Batch> {
    const s = this.opts.imgsz;
    const flipP = this.opts.augment ? (this.opts.hyp.fliplr ?? 0) : 0;
    const flipUdP = this.opts.augment ? (this.opts.hyp.flipud ?? 0) : 0;
    for (let b = 0; b < indices.length; b += batchSize) {
      const idx = indices.slice(b, b + batchSize);
      const images = new Uint8Array(idx.length * s * s * 3);
      const rows: number[] = [];
      const shapes: ImageShapeInfo[] = [];
      for (let k = 0; k < idx.length; k++) {
        const p = await this.prepare(idx[k]!);
        const rng = data.Rng.from(this.opts.seed, epoch, idx[k]!);
        const flipLr = flipP > 0 && rng.uniform(0, 1) < flipP;
        const flipUd = flipUdP > 0 && rng.uniform(0, 1) < flipUdP;
        const dst = images.subarray(k * s * s * 3, (k + 1) * s * s * 3);
        if (!flipLr && !flipUd) dst.set(p.image);
        else {
          for (let y = 0; y < s; y++) {
            const sy = flipUd ? s - 1 - y : y;
            for (let x = 0; x < s; x++) {
              const sx = flipLr ? s - 1 - x : x;
              const o = (y * s + x) * 3;
              const q = (sy * s + sx) * 3;
              dst[o] = p.image[q]!;
              dst[o + 1] = p.image[q + 1]!;
              dst[o + 2] = p.image[q + 2]!;
            }
          }
        }
        for (let r = 0; r < p.labels.length; r += 5) {
          const x = flipLr ? 1 - p.labels[r + 1]! : p.labels[r + 1]!;
          const y = flipUd ? 1 - p.labels[r + 2]! : p.labels[r + 2]!;
          rows.push(k, p.labels[r]!, x, y, p.labels[r + 3]!, p.labels[r + 4]!);
        }
        shapes.push(p.shape);
      }
      yield {
        images,
        n: idx.length,
        height: s,
        width: s,
        targets: Float32Array.from(rows),
        indices: idx,
        paths: idx.map((i) => this.dataset.imFiles[i]!),
        shapes,
      };
    }
  }

  async close(): Promise<void> {
    this.cache.clear();
  }
}

/** The data package's DataLoader (worker threads, mosaic, YOLOv5 augmentation) as a BatchSource. */
class PipelineSource implements BatchSource {
  private readonly loaded = new WeakMap<Batch, data.LoadedBatch>();

  constructor(private readonly loader: data.DataLoader) {}

  recycle(batch: Batch): void {
    const b = this.loaded.get(batch);
    if (b) this.loader.recycle(b);
  }

  get dataset(): YoloDataset {
    return this.loader.dataset;
  }

  get workers(): number {
    return this.loader.workers;
  }

  async *epoch(indices: readonly number[], epoch: number, batchSize: number): AsyncIterable<Batch> {
    if (batchSize !== this.loader.batchSize) throw new Error(`batch size ${batchSize} differs from the loader's ${this.loader.batchSize}`);
    for await (const b of this.loader.epoch(indices, epoch)) {
      const [n, height, width] = b.shape;
      const batch: Batch = {
        images: b.images,
        n,
        height,
        width,
        targets: b.targets,
        indices: b.indices,
        paths: b.paths,
        shapes: b.shapes.map((s) =>
          s
            ? { orig: s.shape0, ratio: [s.ratioPad[0][1], s.ratioPad[0][0]] as [number, number], pad: s.ratioPad[1] }
            : { orig: [height, width] as [number, number], ratio: [1, 1] as [number, number], pad: [0, 0] as [number, number] },
        ),
      };
      this.loaded.set(batch, b);
      yield batch;
    }
  }

  async close(): Promise<void> {
    await this.loader.close();
  }
}

export interface SourceOptions extends LoaderOptions {
  batchSize: number;
  rect: boolean;
  quad: boolean;
  cacheMode: 'ram' | 'disk' | undefined;
  localWorldSize: number;
  /** YOLO_LAUNCH_THREADS: this rank's share of the node's CPUs, already divided by the local
   * world size (undefined when run alone: data divides the node's CPUs itself). */
  threadBudget: number | undefined;
  log?: (line: string) => void;
}

/**
 * The batch source for a split: @yolo-launch/data's DataLoader; YOLO_TRAIN_SIMPLE_LOADER=1
 * selects this file's LetterboxLoader instead (no mosaic; a debugging aid).
 */
export async function createBatchSource(dataset: YoloDataset, opts: SourceOptions): Promise<BatchSource & { dataset: YoloDataset }> {
  if (process.env.YOLO_TRAIN_SIMPLE_LOADER === '1') return Object.assign(new LetterboxLoader(dataset, opts), { dataset });
  // data caps --workers by threadBudget / localWorldSize; YOLO_LAUNCH_THREADS is already per rank.
  const cpus = opts.threadBudget ? { threadBudget: opts.threadBudget, localWorldSize: 1 } : { localWorldSize: opts.localWorldSize };
  const loader = await data.createDataLoader({
    dataset,
    batchSize: opts.batchSize,
    imgsz: opts.imgsz,
    augment: opts.augment,
    hyp: opts.hyp,
    rect: opts.rect,
    stride: opts.stride,
    quad: opts.quad,
    workers: opts.workers,
    ...cpus,
    seed: opts.seed,
    rank: opts.rank,
    cache: opts.cacheMode ?? false,
    ...(opts.log ? { log: opts.log } : {}),
  });
  return new PipelineSource(loader);
}
