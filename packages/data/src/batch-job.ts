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
 * later batches of the same size. A fresh 16 x 640 x 640 x 3 buffer costs a page fault per
 * 4 KiB on first write: ~4 ms per 640² image here, more than the HSV step.
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();

  constructor(private readonly maxPerSize = 4) {}

  take(bytes: number): Uint8Array {
    const buf = this.free.get(bytes)?.pop();
    return buf ? new Uint8Array(buf) : new Uint8Array(bytes);
  }

  give(buffer: ArrayBuffer): void {
    const list = this.free.get(buffer.byteLength) ?? [];
    if (list.length < this.maxPerSize) list.push(buffer);
    this.free.set(buffer.byteLength, list);
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
