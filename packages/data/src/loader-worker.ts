/** A loader worker thread: receives batch jobs, answers with batches whose buffers it transfers. */
import { parentPort, workerData } from 'node:worker_threads';
import { ImageStore, type SharedImage } from './image-store.js';
import { runBatchJob, BufferPool, type BatchJob, type LoadedBatch, type PipelineConfig } from './batch-job.js';
import type { YoloDataset } from './dataset.js';

export interface WorkerInit {
  dataset: YoloDataset;
  imgsz: number;
  diskCache: boolean;
  config: PipelineConfig;
  shared: Array<[number, SharedImage]>;
  /** The node's --cache ram file and the process-wide descriptor the loader opened for it. */
  nodeCache: { file: string; fd: number } | null;
}

export type ToWorker =
  | { type: 'job'; job: BatchJob }
  | { type: 'share'; entries: Array<[number, SharedImage]> }
  | { type: 'recycle'; buffer: ArrayBuffer };
export type FromWorker =
  { type: 'batch'; id: number; batch: LoadedBatch } | { type: 'error'; id: number; message: string; stack?: string };

const init = workerData as WorkerInit;
const store = new ImageStore(init.dataset, init.imgsz, init.diskCache);
store.adoptShared(init.shared);
if (init.nodeCache) store.useNodeCache(init.nodeCache.file, init.nodeCache.fd);
const port = parentPort!;
const buffers = new BufferPool();

// jobs run one after another: a worker is one thread of decode + augment work
let chain: Promise<void> = Promise.resolve();

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'share') {
    store.adoptShared(msg.entries);
    return;
  }
  if (msg.type === 'recycle') {
    buffers.give(msg.buffer);
    return;
  }
  const job = msg.job;
  chain = chain.then(async () => {
    try {
      const batch = await runBatchJob(store, init.config, job, buffers);
      const reply: FromWorker = { type: 'batch', id: job.id, batch };
      port.postMessage(reply, [batch.images.buffer as ArrayBuffer, batch.targets.buffer as ArrayBuffer]);
    } catch (e) {
      const err = e as Error;
      port.postMessage({
        type: 'error',
        id: job.id,
        message: err.message,
        ...(err.stack ? { stack: err.stack } : {}),
      } satisfies FromWorker);
    }
  });
});
