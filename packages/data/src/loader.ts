/**
 * The DataLoader: a pool of worker threads building batches ahead of the trainer.
 *
 *   const loader = await createDataLoader({ dataset, batchSize: 16, imgsz: 640, augment: true, workers: 2, seed: 0, rank });
 *   for await (const batch of loader.epoch(indices, epoch)) { ... }   // indices: this rank's sample order
 *   await loader.close();
 *
 * Batch k of an epoch goes to worker k % workers; up to `prefetch` batches are in flight and
 * they are handed out in order. Each sample's randomness comes from (seed, epoch, index,
 * occurrence), so the batches do not depend on the worker count or on timing. Batch buffers
 * are transferred from the worker, not copied.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { YoloDataset } from './dataset.js';
import { augmentHypFrom, type AugmentHyp } from './hyp.js';
import { ImageStore } from './image-store.js';
import { rectOrder, rectBatchShape } from './rect.js';
import { runBatchJob, BufferPool, type BatchJob, type LoadedBatch, type PipelineConfig } from './batch-job.js';
import type { WorkerInit, ToWorker, FromWorker } from './loader-worker.js';
import { setUpRamCache, type NodeCacheOptions } from './ram-cache.js';
import { readWorkerEnv } from '@yolo-launch/core';

export type { LoadedBatch } from './batch-job.js';

export interface DataLoaderOptions {
  dataset: YoloDataset;
  /** Samples per batch on this rank. */
  batchSize: number;
  imgsz: number;
  /** Training augmentation (mosaic etc.); false for validation. */
  augment: boolean;
  /** hyp dict (YOLOv5 names); only the augmentation keys are read. */
  hyp?: Partial<AugmentHyp> | Record<string, unknown>;
  /** --rect: the dataset is ordered by aspect ratio and each batch gets its own shape. */
  rect?: boolean;
  /** rect padding in strides: default 0.0 when augmenting (train), 0.5 otherwise (val). */
  pad?: number;
  stride?: number;
  /** --quad collate (batchSize a multiple of 4). */
  quad?: boolean;
  /**
   * --workers: worker threads per rank (0 = build batches in the calling thread), capped as
   * YOLOv5 does by the CPUs per local rank and by the batch size (see effectiveWorkers).
   */
  workers?: number;
  /** Ranks on this node sharing the CPUs (default $LOCAL_WORLD_SIZE or 1). */
  localWorldSize?: number;
  /** CPUs to share (default os.availableParallelism()). */
  threadBudget?: number;
  /** Batches in flight ahead of the consumer (default 2 per worker, at least 2). */
  prefetch?: number;
  seed?: number;
  rank?: number;
  /** --cache: 'ram' keeps resized images in shared memory, 'disk' reads <stem>.rgb.npy files written by cacheImagesToDisk. */
  cache?: 'ram' | 'disk' | false;
  /** For cache 'ram': the dataset indices this rank needs (default all). */
  cacheIndices?: Iterable<number>;
  /** For cache 'ram' with several ranks on a node: one copy per node (see ram-cache.ts). */
  nodeCache?: NodeCacheOptions;
  log?: (line: string) => void;
}

/** Per-epoch changes to the augmentation, the same on every rank for the same epoch. */
export interface EpochAugment {
  /** Mosaic and mixup off this epoch (YOLOv6 --stop-aug-last-n-epoch, ultralytics close_mosaic). */
  closeMosaic?: boolean;
}

export interface DataLoader {
  /** The dataset in loader order (sorted by aspect ratio with rect). Indices refer to it. */
  readonly dataset: YoloDataset;
  readonly size: number;
  /** Worker threads actually used (after the cap). */
  readonly workers: number;
  readonly batchSize: number;
  /** --cache ram: bytes cached, and the node cache file (null: this rank's own copy); null without --cache ram or when it did not fit. */
  readonly ramCache: { bytes: number; nodeFile: string | null; builtHere: boolean } | null;
  /** Batches of this rank's sample order for one epoch, in order (`augment`: this epoch's changes). */
  epoch(indices: readonly number[], epoch: number, augment?: EpochAugment): AsyncGenerator<LoadedBatch>;
  /**
   * Hands a batch's image buffer back for reuse by a later batch (optional; saves the page
   * faults of a fresh buffer). The batch's `images` must not be read afterwards.
   */
  recycle(batch: LoadedBatch): void;
  /** Adds images to the RAM cache (shared with the workers). */
  cacheRam(indices: Iterable<number>): Promise<number>;
  close(): Promise<void>;
}

/** YOLOv5's worker count: min(cpus / local world size, batch size (0 if 1), --workers). */
export function effectiveWorkers(
  workers: number,
  opts: { batchSize: number; localWorldSize?: number; threadBudget?: number },
): number {
  const budget = opts.threadBudget ?? os.availableParallelism();
  return Math.max(
    0,
    Math.min(
      Math.floor(budget / Math.max(1, opts.localWorldSize ?? 1)),
      opts.batchSize > 1 ? opts.batchSize : 0,
      workers,
    ),
  );
}

function reorder(ds: YoloDataset, order: number[]): YoloDataset {
  return {
    ...ds,
    imFiles: order.map((i) => ds.imFiles[i]!),
    labels: order.map((i) => ds.labels[i]!),
    shapes: order.map((i) => ds.shapes[i]!),
  };
}

interface Pending {
  resolve: (b: LoadedBatch) => void;
  reject: (e: Error) => void;
}

class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private failed: Error | null = null;
  private closing = false;

  constructor(n: number, init: WorkerInit) {
    for (let k = 0; k < n; k++) {
      const w = new Worker(new URL('./loader-worker.js', import.meta.url), { workerData: init });
      w.on('message', (m: FromWorker) => {
        const p = this.pending.get(m.id);
        if (!p) return; // a consumer that stopped early: drop the batch
        this.pending.delete(m.id);
        this.updateRefs();
        if (m.type === 'batch') p.resolve(m.batch);
        else p.reject(new Error(`data loader worker ${k}: ${m.message}`));
      });
      w.on('error', (e) => this.fail(new Error(`data loader worker ${k} crashed: ${e.message}`)));
      w.on('exit', (code) => {
        if (!this.closing) this.fail(new Error(`data loader worker ${k} exited with code ${code}`));
      });
      w.unref();
      this.workers.push(w);
    }
  }

  /**
   * Idle workers do not keep the process alive (a trainer that forgets close() still
   * exits); while batches are pending they do, or the process could exit mid-await.
   */
  private updateRefs(): void {
    const busy = this.pending.size > 0;
    for (const w of this.workers) {
      if (busy) w.ref();
      else w.unref();
    }
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    this.updateRefs();
  }

  get size(): number {
    return this.workers.length;
  }

  run(job: BatchJob): Promise<LoadedBatch> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.pending.set(job.id, { resolve, reject });
      this.updateRefs();
      this.workers[job.batchNo % this.workers.length]!.postMessage({ type: 'job', job } satisfies ToWorker);
    });
  }

  /** Gives a finished batch's image buffer to the worker that will build batch batchNo + n. */
  recycle(batch: LoadedBatch): void {
    const buffer = batch.images.buffer;
    // a batch built by BufferPool is a view of the start of its buffer, which it owns
    if (buffer instanceof SharedArrayBuffer || batch.images.byteOffset !== 0) return;
    this.workers[batch.batchNo % this.workers.length]!.postMessage({ type: 'recycle', buffer } satisfies ToWorker, [
      buffer,
    ]);
  }

  broadcast(msg: ToWorker): void {
    for (const w of this.workers) w.postMessage(msg);
  }

  forget(id: number): void {
    this.pending.delete(id);
    this.updateRefs();
  }

  async close(): Promise<void> {
    this.closing = true;
    this.fail(new Error('data loader closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function validateOptions(opts: DataLoaderOptions): void {
  if (!(opts.batchSize >= 1)) throw new Error(`batchSize must be >= 1, got ${opts.batchSize}`);
  if (opts.quad && opts.batchSize % 4 !== 0)
    throw new Error(`--quad needs a batch size that is a multiple of 4, got ${opts.batchSize}`);
}

function pipelineConfig(opts: DataLoaderOptions, rect: boolean): PipelineConfig {
  return {
    augment: opts.augment,
    hyp: augmentHypFrom(opts.hyp as Record<string, unknown> | undefined),
    mosaic: opts.augment && !rect,
    quad: opts.quad ?? false,
    seed: opts.seed ?? 0,
    rank: opts.rank ?? 0,
  };
}

/** How one epoch's batches are cut and shaped. */
interface BatchPlan {
  dataset: YoloDataset;
  batchSize: number;
  imgsz: number;
  /** --rect: per-batch shapes with this stride and padding. */
  rect: boolean;
  stride: number;
  pad: number;
}

/**
 * The jobs of one epoch: consecutive slices of `indices`, each sample with its occurrence
 * number in this epoch (its randomness depends on it); job ids continue from `ids.next`.
 */
function epochJobs(
  plan: BatchPlan,
  indices: readonly number[],
  epochNo: number,
  closeMosaic: boolean,
  ids: { next: number },
): BatchJob[] {
  const { dataset, batchSize } = plan;
  const seen = new Map<number, number>();
  const jobs: BatchJob[] = [];
  for (let b = 0; b * batchSize < indices.length; b++) {
    const items: Array<[number, number]> = indices.slice(b * batchSize, (b + 1) * batchSize).map((i) => {
      if (!Number.isInteger(i) || i < 0 || i >= dataset.imFiles.length)
        throw new Error(`sample index ${i} out of range 0..${dataset.imFiles.length - 1}`);
      const occ = seen.get(i) ?? 0;
      seen.set(i, occ + 1);
      return [i, occ];
    });
    const shape = plan.rect
      ? rectBatchShape(
          items.map(([i]) => dataset.shapes[i]!),
          plan.imgsz,
          plan.stride,
          plan.pad,
        )
      : null;
    jobs.push({ id: ids.next++, epoch: epochNo, batchNo: b, items, shape, closeMosaic });
  }
  return jobs;
}

/**
 * Runs the jobs with up to `prefetch` in flight and yields their batches in order. A consumer
 * that stops early leaves batches in flight: the pool is told to drop them.
 */
async function* inOrder(
  jobs: BatchJob[],
  run: (job: BatchJob) => Promise<LoadedBatch>,
  prefetch: number,
  pool: WorkerPool | null,
): AsyncGenerator<LoadedBatch> {
  const inflight: Array<Promise<LoadedBatch>> = [];
  let dispatched = 0;
  const fill = (): void => {
    while (dispatched < jobs.length && inflight.length < prefetch) {
      const p = run(jobs[dispatched++]!);
      p.catch(() => {}); // observed when awaited; avoid unhandled rejections of abandoned batches
      inflight.push(p);
    }
  };
  try {
    fill();
    while (inflight.length) {
      const batch = await inflight.shift()!;
      fill();
      yield batch;
    }
  } finally {
    // consumer stopped early: results of batches still in flight are dropped
    if (pool) for (let k = dispatched - inflight.length; k < dispatched; k++) pool.forget(jobs[k]!.id);
  }
}

export async function createDataLoader(opts: DataLoaderOptions): Promise<DataLoader> {
  validateOptions(opts);
  const rect = opts.rect ?? false;
  const dataset = rect ? reorder(opts.dataset, rectOrder(opts.dataset.shapes)) : opts.dataset;
  const plan: BatchPlan = {
    dataset,
    batchSize: opts.batchSize,
    imgsz: opts.imgsz,
    rect,
    stride: opts.stride ?? 32,
    pad: opts.pad ?? (opts.augment ? 0.0 : 0.5),
  };
  const config = pipelineConfig(opts, rect);
  const nWorkers = effectiveWorkers(Math.max(0, Math.floor(opts.workers ?? 0)), {
    batchSize: opts.batchSize,
    localWorldSize: opts.localWorldSize ?? readWorkerEnv().localWorldSize,
    ...(opts.threadBudget !== undefined ? { threadBudget: opts.threadBudget } : {}),
  });
  const store = new ImageStore(dataset, opts.imgsz, opts.cache === 'disk');
  const ramCache =
    opts.cache === 'ram'
      ? await setUpRamCache(store, opts.cacheIndices ?? dataset.imFiles.keys(), {
          ...opts.nodeCache,
          ...(opts.log ? { log: opts.log } : {}),
        })
      : null;
  const nodeCache = ramCache?.node ? { file: ramCache.node.file, fd: ramCache.node.fd } : null;
  const pool =
    nWorkers > 0
      ? new WorkerPool(nWorkers, {
          dataset,
          imgsz: opts.imgsz,
          diskCache: opts.cache === 'disk',
          config,
          shared: store.sharedEntries(),
          nodeCache,
        })
      : null;
  const prefetch = Math.max(1, opts.prefetch ?? Math.max(2, 2 * nWorkers));
  const localBuffers = new BufferPool(); // workers: 0
  const ids = { next: 0 };
  const run = (job: BatchJob): Promise<LoadedBatch> =>
    pool ? pool.run(job) : runBatchJob(store, config, job, localBuffers);

  return {
    dataset,
    size: dataset.imFiles.length,
    workers: nWorkers,
    batchSize: opts.batchSize,
    ramCache: ramCache
      ? { bytes: ramCache.bytes, nodeFile: ramCache.node?.file ?? null, builtHere: ramCache.node?.built ?? true }
      : null,
    // a generator: the jobs are made (and a bad index throws) at the first next(), not at the call
    async *epoch(indices: readonly number[], epochNo: number, augment: EpochAugment = {}): AsyncGenerator<LoadedBatch> {
      // carried by every job, so a worker never builds a batch with another epoch's setting
      const closeMosaic = augment.closeMosaic ?? false;
      yield* inOrder(epochJobs(plan, indices, epochNo, closeMosaic, ids), run, prefetch, pool);
    },
    recycle(batch: LoadedBatch): void {
      if (pool) pool.recycle(batch);
      else if (batch.images.byteOffset === 0 && batch.images.buffer instanceof ArrayBuffer)
        localBuffers.give(batch.images.buffer);
    },
    async cacheRam(indices: Iterable<number>): Promise<number> {
      const entries = await store.cacheRam(indices);
      pool?.broadcast({ type: 'share', entries });
      return entries.length;
    },
    async close(): Promise<void> {
      await pool?.close();
      ramCache?.close(); // after the workers: they read through its descriptor
    },
  };
}
