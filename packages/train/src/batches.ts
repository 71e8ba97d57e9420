// Batches for the trainer: uint8 NHWC images and targets [img, cls, x, y, w, h] (normalised).
//
// The data package's DataLoader (worker threads, mosaic and the full augmentation set),
// adapted to the trainer's Batch. Every random decision is keyed by (seed, epoch, image
// index), so a batch does not depend on the rank or the world size.

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
  /** This rank's batches of an epoch from its sample indices (in order); `augment`: the epoch's changes (mosaic closed). */
  epoch(
    indices: readonly number[],
    epoch: number,
    batchSize: number,
    augment?: data.EpochAugment,
  ): AsyncIterable<Batch>;
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
  /** Keep decoded, letterboxed images in memory (--cache ram). */
  cache: boolean;
  stride: number;
  workers: number;
  rank: number;
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

  async *epoch(
    indices: readonly number[],
    epoch: number,
    batchSize: number,
    augment?: data.EpochAugment,
  ): AsyncIterable<Batch> {
    if (batchSize !== this.loader.batchSize)
      throw new Error(`batch size ${batchSize} differs from the loader's ${this.loader.batchSize}`);
    for await (const b of this.loader.epoch(indices, epoch, augment)) {
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
            : {
                orig: [height, width] as [number, number],
                ratio: [1, 1] as [number, number],
                pad: [0, 0] as [number, number],
              },
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

/** The batch source for a split: @yolo-launch/data's DataLoader. */
export async function createBatchSource(
  dataset: YoloDataset,
  opts: SourceOptions,
): Promise<BatchSource & { dataset: YoloDataset }> {
  // data caps --workers by threadBudget / localWorldSize; YOLO_LAUNCH_THREADS is already per rank.
  const cpus = opts.threadBudget
    ? { threadBudget: opts.threadBudget, localWorldSize: 1 }
    : { localWorldSize: opts.localWorldSize };
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
