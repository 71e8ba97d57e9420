/**
 * One batch of work, the same in the main thread (workers: 0) and in a loader worker: build
 * each sample with its own RNG, collate (or quad-collate), done. The result depends only on
 * the job, never on which thread ran it, so batches are identical for any worker count.
 */
import { Rng } from './rng.js';
import { getSample, sampleRng, type Sample } from './sample.js';
import { collate, collateQuad, type Batch } from './collate.js';
import type { ImageStore } from './image-store.js';
import { closedMosaicHyp, type AugmentHyp } from './hyp.js';

const SAMPLES_IN_FLIGHT = 2;

export interface BatchJob {
  id: number;
  epoch: number;
  /** Position of this batch in the rank's epoch. */
  batchNo: number;
  /** Dataset indices and how often each index already appeared earlier in this epoch's order. */
  items: Array<[index: number, occurrence: number]>;
  /** Letterbox target (h, w) for rect batches; null for square imgsz. */
  shape: [number, number] | null;
  /** Mosaic and mixup off for this batch (the epoch's EpochAugment); the other augmentations stay. */
  closeMosaic: boolean;
}

export interface PipelineConfig {
  augment: boolean;
  hyp: AugmentHyp;
  mosaic: boolean;
  quad: boolean;
  seed: number;
  rank: number;
}

export interface LoadedBatch extends Batch {
  /** Dataset indices of the batch's samples (before quad collation). */
  indices: number[];
  epoch: number;
  batchNo: number;
}

/**
 * Image buffers of batches the consumer has finished with (DataLoader.recycle), reused for
 * later batches. A fresh buffer costs a page fault per 4 KiB on first write: measured here
 * 8.6 CPU-ms for one 640x672 letterbox slot, 0.14 ms in a reused one (bench/canvas.ts). A
 * buffer serves any batch that fits in it (the batch is a view of its start), so rect
 * validation batches, whose shapes differ from batch to batch, reuse buffers too.
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];

  constructor(private readonly maxBuffers = 4) {}

  /** `bytes` bytes: a view of the smallest free buffer that holds them, else a new array. */
  take(bytes: number): Uint8Array {
    let best = -1;
    this.free.forEach((buf, i) => {
      if (buf.byteLength >= bytes && (best < 0 || buf.byteLength < this.free[best]!.byteLength)) best = i;
    });
    if (best < 0) return new Uint8Array(bytes);
    const [buf] = this.free.splice(best, 1);
    return new Uint8Array(buf!, 0, bytes);
  }

  /** Keeps the largest `maxBuffers` buffers given back. */
  give(buffer: ArrayBuffer): void {
    this.free.push(buffer);
    if (this.free.length > this.maxBuffers) {
      this.free.sort((a, b) => b.byteLength - a.byteLength);
      this.free.length = this.maxBuffers;
    }
  }
}

export async function runBatchJob(
  store: ImageStore,
  cfg: PipelineConfig,
  job: BatchJob,
  buffers?: BufferPool,
): Promise<LoadedBatch> {
  // two samples in flight: one decodes on libuv's pool while the other is augmented in JS;
  // each sample has its own RNG, so the order of completion does not matter
  const samples = new Array<Sample>(job.items.length);
  // every sample of a non-quad batch has the same final size: build them in place in the
  // batch buffer (no per-sample allocation, no copy in collate)
  const [h, w] = job.shape ?? [store.imgsz, store.imgsz];
  const hyp = job.closeMosaic ? closedMosaicHyp(cfg.hyp) : cfg.hyp;
  const per = h * w * 3;
  // every pixel of every slot is written (fill + blit or warp), so a recycled buffer is fine
  const batchBuf = cfg.quad ? null : (buffers?.take(per * job.items.length) ?? new Uint8Array(per * job.items.length));
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < job.items.length) {
      const k = next++;
      const [index, occ] = job.items[k]!;
      const rng = sampleRng(cfg.seed, job.epoch, index, occ);
      const slot = batchBuf ? batchBuf.subarray(k * per, (k + 1) * per) : undefined;
      samples[k] = await getSample(
        store,
        index,
        { augment: cfg.augment, hyp, mosaic: cfg.mosaic, ...(job.shape ? { shape: job.shape } : {}) },
        rng,
        slot,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(SAMPLES_IN_FLIGHT, job.items.length) }, lane));
  const batch = cfg.quad
    ? await collateQuad(samples, Rng.from(cfg.seed, job.epoch, cfg.rank, job.batchNo, 0x9aad))
    : collate(samples, batchBuf ?? undefined);
  return { ...batch, indices: job.items.map(([i]) => i), epoch: job.epoch, batchNo: job.batchNo };
}
