/**
 * DistributedDataParallel for tfjs variables: identical replicas at construction, bucketed
 * gradient all-reduce after each backward, noSync() for accumulation micro-steps and an
 * optional bit-identity check after every optimizer step.
 *
 * The gradient convention (mean over ranks, loss scaled by WORLD_SIZE as train.py does) is
 * documented in ./convention.ts.
 */
import {
  WIRE_COMPRESSIONS,
  sharedFloat32Array,
  type AllReduceOptions,
  type ProcessGroup,
  type WireCompression,
} from '@yolo-launch/comm';
import { tf } from '@yolo-launch/backend';
import {
  DEFAULT_BUCKET_CAP_MB,
  DEFAULT_FIRST_BUCKET_CAP_MB,
  DEFAULT_LAST_BUCKET_CAP_MB,
  planBuckets,
  type Bucket,
} from './buckets.js';
import { GRADIENT_REDUCE_OP, ddpLossScale } from './convention.js';
import { broadcastVariables, verifyReplicas } from './replicas.js';
import { syncBuffers, type BufferSyncPolicy } from './buffers.js';
import { copyTensorInto } from './host-view.js';
import { BucketFiller } from './overlap.js';

export interface DistributedDataParallelOptions {
  /** Non-trainable state kept identical across ranks (e.g. BN running mean/var). */
  buffers?: readonly tf.Variable[];
  /** Bucket size in MiB (torch's bucket_cap_mb); default 25. */
  bucketCapMb?: number;
  /** Size of the first bucket (the last layers) in MiB; default 1, as torch DDP. */
  firstBucketCapMb?: number;
  /**
   * Size of the last bucket (the first layers, whose gradients come last) in MiB; default 1/16
   * (64 KiB, comm's latency-bound small all-reduce): with beginOverlappedReduction only this
   * bucket's all-reduce is left after the backward. 0: no such bucket (torch's plan).
   */
  lastBucketCapMb?: number;
  /** Debug: after every optimizer step, check that all ranks hold bit-identical params. */
  checkReplicasEveryStep?: boolean;
  /** Rank whose parameters every rank starts from; default 0. */
  broadcastFrom?: number;
  /**
   * How gradients are moved between device and host. 'host': read each gradient and copy it
   * into the bucket (cheapest on cpu/wasm, whose tensors live in host memory); 'device': concat
   * the bucket on the device and download it once (one transfer per bucket on a GPU). Default:
   * 'host' on cpu/wasm, 'device' otherwise.
   */
  transfer?: 'host' | 'device';
  /**
   * Gradients travel as fp16 or bf16 (PyTorch DDP's fp16_compress_hook / bf16_compress_hook):
   * half the bytes, still added in float32 and identical on every rank, rounded to 16 bits.
   * Default: none (float32, exact).
   */
  gradCompression?: WireCompression;
}

/** Timing of the last synchronised reduceGradients call, in ms. */
export interface ReduceTimings {
  total: number;
  /** Time spent waiting for all-reduces that had nothing else to overlap with. */
  allReduceWait: number;
  /** Time spent copying gradients to the host buckets (device to host). */
  download: number;
  /** Time spent handing reduced buckets back (host to device, or views for the host form). */
  upload: number;
  buckets: number;
  bytes: number;
}

/** Where reduced gradients go: tensors (reduceGradients) or host arrays (reduceGradientsToHost). */
interface ReduceSink {
  /** World size 1: the gradient itself (undefined when the caller gave none). */
  identity(param: tf.Variable, grad: tf.Tensor | undefined): void;
  /** A reduced bucket; `reduced` is reused by the next reduce call. */
  bucket(bucket: Bucket, reduced: Float32Array): void;
  abort(): void;
}

export class DistributedDataParallel {
  readonly pg: ProcessGroup;
  readonly params: readonly tf.Variable[];
  readonly buffers: readonly tf.Variable[];
  readonly buckets: readonly Bucket[];
  readonly checkReplicasEveryStep: boolean;
  lastTimings: ReduceTimings | null = null;
  private syncEnabled = true;
  private accumulated: Map<string, tf.Tensor> | null = null;
  private readonly transfer: 'host' | 'device';
  private readonly paramNames: ReadonlySet<string>;
  /** One shared-memory host buffer per bucket, reused every step. */
  private readonly hostBuffers: Float32Array[];
  private readonly backendKeepsArrays: boolean;
  /** How every gradient all-reduce is issued (the mean, and the wire compression if any). */
  private readonly reduceOptions: AllReduceOptions;
  /** The reduction overlapped with the current backward, if the trainer started one. */
  private filler: BucketFiller | null = null;
  private overlapStartedAt = 0;

  private constructor(pg: ProcessGroup, params: readonly tf.Variable[], options: DistributedDataParallelOptions) {
    this.pg = pg;
    this.params = params;
    this.buffers = options.buffers ?? [];
    this.checkReplicasEveryStep = options.checkReplicasEveryStep ?? false;
    const names = new Set<string>();
    for (const p of params) {
      if (p.dtype !== 'float32')
        throw new Error(`parameter '${p.name}' is ${p.dtype}; DDP reduces float32 parameters only`);
      if (names.has(p.name)) throw new Error(`parameter '${p.name}' was given twice to DistributedDataParallel`);
      names.add(p.name);
    }
    this.paramNames = names;
    const compression = options.gradCompression;
    if (compression !== undefined && !WIRE_COMPRESSIONS.includes(compression)) {
      throw new Error(`gradCompression must be one of ${WIRE_COMPRESSIONS.join(', ')} (got '${String(compression)}')`);
    }
    this.reduceOptions = { op: GRADIENT_REDUCE_OP, ...(compression ? { compression } : {}) };
    const mib = 1024 * 1024;
    this.buckets = planBuckets(params, {
      capBytes: (options.bucketCapMb ?? DEFAULT_BUCKET_CAP_MB) * mib,
      firstCapBytes: (options.firstBucketCapMb ?? DEFAULT_FIRST_BUCKET_CAP_MB) * mib,
      ...(options.lastBucketCapMb === 0
        ? {}
        : { lastCapBytes: (options.lastBucketCapMb ?? DEFAULT_LAST_BUCKET_CAP_MB) * mib }),
    });
    const backend = tf.getBackend();
    this.transfer = options.transfer ?? (backend === 'cpu' || backend === 'wasm' ? 'host' : 'device');
    this.backendKeepsArrays = backend !== 'wasm';
    // comm's shared memory: reduced in place, with SIMD, without staging copies
    this.hostBuffers = this.buckets.map((b) => sharedFloat32Array(b.size));
  }

  /**
   * Wrap `params` (the trainable variables, in registration order: first layer first). Every
   * rank must call this with the same model; parameters and buffers are broadcast from rank 0
   * (`broadcastFrom`) and then checked bit-identical on all ranks.
   */
  static async create(
    pg: ProcessGroup,
    params: readonly tf.Variable[],
    options: DistributedDataParallelOptions = {},
  ): Promise<DistributedDataParallel> {
    const ddp = new DistributedDataParallel(pg, params, options);
    const all = [...ddp.params, ...ddp.buffers];
    if (pg.worldSize > 1) {
      await broadcastVariables(pg, all, options.broadcastFrom ?? 0);
      await verifyReplicas(pg, all, 'parameters and buffers after the initial broadcast');
      // every rank must cut the same buckets, or the all-reduces would not pair up
      const plan = `${ddp.buckets.map((b) => b.size).join(',')} (${ddp.reduceOptions.compression ?? 'float32'} gradients)`;
      const plans = await pg.allGatherObject(plan);
      const odd = plans.findIndex((q) => q !== plans[0]);
      if (odd >= 0) {
        throw new Error(
          `rank ${odd} planned different gradient buckets than rank 0 (${plans[odd]} vs ${plans[0]} elements): ` +
            'pass the same bucketCapMb / firstBucketCapMb / lastBucketCapMb / gradCompression on every rank',
        );
      }
    }
    return ddp;
  }

  get rank(): number {
    return this.pg.rank;
  }

  get worldSize(): number {
    return this.pg.worldSize;
  }

  /** Multiply the per-rank loss by this (== WORLD_SIZE); see convention.ts. */
  get lossScale(): number {
    return ddpLossScale(this.pg.worldSize);
  }

  /** True while inside noSync(): reduceGradients only accumulates. */
  get isSyncDisabled(): boolean {
    return !this.syncEnabled;
  }

  /**
   * Run `fn` (one or more accumulation micro-steps) with communication off: reduceGradients
   * adds the gradients to a local accumulator and returns null. The next reduceGradients
   * outside noSync all-reduces the sum of everything accumulated, as torch's no_sync().
   */
  async noSync<T>(fn: () => T | Promise<T>): Promise<T> {
    const before = this.syncEnabled;
    this.syncEnabled = false;
    try {
      return await fn();
    } finally {
      this.syncEnabled = before;
    }
  }

  /**
   * Overlap the all-reduce with the backward pass (torch DDP's gradient hooks). Call before
   * the backward; hand each gradient to the returned hook as soon as it exists (scaled like
   * the ones given to reduceGradients; the hook copies it, the caller still owns it). A bucket
   * whose gradients are all in starts its all-reduce at once, in plan order (last layers
   * first), while the backward goes on. Then call reduceGradients / reduceGradientsToHost as
   * usual: it fills in what was not handed over and waits only for what is still in flight.
   * Returns null when there is nothing to overlap (inside noSync, world size 1, the device
   * transfer path): reduceGradients then works as before.
   */
  beginOverlappedReduction(): ((name: string, grad: tf.Tensor) => void) | null {
    if (!this.syncEnabled || this.pg.worldSize === 1 || this.transfer === 'device' || this.buckets.length === 0)
      return null;
    const filler = new BucketFiller(
      this.buckets,
      this.hostBuffers,
      (i) => this.pg.allReduce(this.hostBuffers[i]!, this.reduceOptions),
      this.accumulated,
    );
    this.filler = filler;
    this.overlapStartedAt = performance.now();
    return (name, grad) => filler.add(name, grad);
  }

  /**
   * Hand over the gradients of one backward (a map from variable name to gradient, as
   * tf.variableGrads returns). Inside noSync(): accumulated locally, returns null. Otherwise:
   * the accumulated gradients plus these are averaged over all ranks (bucketed, last layer
   * first) and returned as new tensors the caller owns, one per DDP parameter (zeros for a
   * parameter no rank had a gradient for). The input tensors are not disposed.
   */
  async reduceGradients(grads: tf.NamedTensorMap): Promise<tf.NamedTensorMap | null> {
    const out: tf.NamedTensorMap = {};
    const done = await this.reduce(grads, {
      identity: (p, g) => (out[p.name] = tf.keep(g ? tf.clone(g) : tf.zeros(p.shape))),
      bucket: (b, reduced) => this.upload(b, reduced, out),
      abort: () => tf.dispose(Object.values(out)),
    });
    return done ? out : null;
  }

  /**
   * Like reduceGradients, but hands the averaged gradients over as host Float32Arrays, for a
   * trainer whose optimizer runs on the host: saves the upload to tensors and the download
   * back. The arrays are views into DDP's bucket buffers: valid (and writable, e.g. for
   * gradient clipping) until the next reduce call on this object.
   */
  async reduceGradientsToHost(grads: tf.NamedTensorMap): Promise<Record<string, Float32Array> | null> {
    const out: Record<string, Float32Array> = {};
    const done = await this.reduce(grads, {
      identity: (p, g) => {
        const a = new Float32Array(p.size);
        if (g) copyTensorInto(g, a, 0);
        out[p.name] = a;
      },
      bucket: (b, reduced) => {
        for (const e of b.entries) out[e.name] = reduced.subarray(e.offset, e.offset + e.size);
      },
      abort: () => undefined,
    });
    return done ? out : null;
  }

  private async reduce(grads: tf.NamedTensorMap, sink: ReduceSink): Promise<boolean> {
    for (const name of Object.keys(grads)) {
      if (!this.paramNames.has(name)) {
        throw new Error(`gradient for '${name}', which is not a parameter of this DistributedDataParallel`);
      }
    }
    if (!this.syncEnabled) {
      this.accumulate(grads);
      return false;
    }
    const filler = this.filler;
    this.filler = null;
    let local: tf.NamedTensorMap = grads;
    const acc = this.accumulated;
    if (acc !== null && filler === null) {
      this.accumulate(grads);
      local = Object.fromEntries(acc);
    }
    try {
      if (filler) await this.finishOverlapped(filler, local, sink);
      else await this.allReduceBuckets(local, sink);
      return true;
    } finally {
      if (acc !== null) {
        tf.dispose([...acc.values()]);
        this.accumulated = null;
      }
    }
  }

  /** Discard gradients accumulated under noSync (e.g. after a skipped step). */
  clearAccumulated(): void {
    if (this.accumulated) tf.dispose([...this.accumulated.values()]);
    this.accumulated = null;
  }

  /**
   * Convenience for the common loop: reduce, apply with `optimizer`, dispose the reduced
   * gradients, run the debug replica check. Returns false inside noSync (nothing applied).
   */
  async step(optimizer: tf.Optimizer, grads: tf.NamedTensorMap): Promise<boolean> {
    const reduced = await this.reduceGradients(grads);
    if (reduced === null) return false;
    try {
      optimizer.applyGradients(reduced);
    } finally {
      tf.dispose(Object.values(reduced));
    }
    await this.afterStep();
    return true;
  }

  /** Call after optimizer.applyGradients when not using step(): runs the debug check if on. */
  async afterStep(): Promise<void> {
    if (this.checkReplicasEveryStep && this.pg.worldSize > 1) {
      await verifyReplicas(this.pg, this.params, 'parameters after the optimizer step');
    }
  }

  /** Throw ReplicaMismatchError unless all ranks hold bit-identical params (and buffers). */
  async verifyReplicas(includeBuffers = true): Promise<void> {
    const vars = includeBuffers ? [...this.params, ...this.buffers] : [...this.params];
    await verifyReplicas(this.pg, vars, includeBuffers ? 'parameters and buffers' : 'parameters');
  }

  /** Make buffers (BN running statistics) identical before validation or a checkpoint. */
  async syncBuffers(policy: BufferSyncPolicy = 'broadcast'): Promise<void> {
    await syncBuffers(this.pg, this.buffers, policy);
  }

  dispose(): void {
    this.clearAccumulated();
  }

  private accumulate(grads: tf.NamedTensorMap): void {
    const acc = this.accumulated ?? new Map<string, tf.Tensor>();
    for (const [name, g] of Object.entries(grads)) {
      const prev = acc.get(name);
      acc.set(name, tf.keep(prev ? tf.add(prev, g) : g.clone()));
      prev?.dispose();
    }
    this.accumulated = acc;
  }

  /**
   * The pipeline, per bucket i: the all-reduce of bucket i runs while bucket i+1 is read to
   * the host, and the upload of bucket i's result runs while bucket i+1 is being reduced.
   * One all-reduce is in flight at a time, issued in the same bucket order on every rank.
   */
  private async allReduceBuckets(grads: tf.NamedTensorMap, sink: ReduceSink): Promise<void> {
    const t0 = performance.now();
    let wait = 0;
    let bytes = 0;
    const n = this.buckets.length;
    if (this.pg.worldSize === 1) {
      // the mean over one rank is the identity: no host round trip for single-process runs
      for (const p of this.params) sink.identity(p, grads[p.name]);
      this.lastTimings = {
        total: performance.now() - t0,
        allReduceWait: 0,
        download: 0,
        upload: 0,
        buckets: 0,
        bytes: 0,
      };
      return;
    }
    if (n === 0) return;
    let download = 0;
    let upload = 0;
    let d0 = performance.now();
    let reducing: Promise<Float32Array> = this.pg.allReduce(await this.download(0, grads), this.reduceOptions);
    download += performance.now() - d0;
    try {
      for (let i = 0; i < n; i++) {
        d0 = performance.now();
        const next = i + 1 < n ? await this.download(i + 1, grads) : null;
        const w0 = performance.now();
        download += w0 - d0;
        const reduced = await reducing;
        const u0 = performance.now();
        wait += u0 - w0;
        bytes += reduced.byteLength;
        if (next !== null) reducing = this.pg.allReduce(next, this.reduceOptions);
        sink.bucket(this.buckets[i]!, reduced);
        upload += performance.now() - u0;
      }
    } catch (err) {
      reducing.catch(() => undefined); // an abandoned in-flight all-reduce must not crash the process
      sink.abort();
      throw err;
    }
    this.lastTimings = { total: performance.now() - t0, allReduceWait: wait, download, upload, buckets: n, bytes };
  }

  /** The end of an overlapped reduction: the rest of the buckets, then the results in order. */
  private async finishOverlapped(filler: BucketFiller, grads: tf.NamedTensorMap, sink: ReduceSink): Promise<void> {
    const t0 = performance.now();
    const inFlight = filler.finish(grads);
    const download = performance.now() - t0;
    let wait = 0;
    let upload = 0;
    let bytes = 0;
    try {
      for (const [i, p] of inFlight.entries()) {
        const w0 = performance.now();
        const reduced = await p;
        const u0 = performance.now();
        wait += u0 - w0;
        bytes += reduced.byteLength;
        sink.bucket(this.buckets[i]!, reduced);
        upload += performance.now() - u0;
      }
    } catch (err) {
      sink.abort();
      throw err;
    }
    // total: from the backward's start; allReduceWait: what the backward did not hide
    this.lastTimings = {
      total: performance.now() - this.overlapStartedAt,
      allReduceWait: wait,
      download,
      upload,
      buckets: inFlight.length,
      bytes,
    };
  }

  /**
   * Flatten one bucket's gradients into its persistent host buffer (missing ones as zeros).
   * The buffers live in shared memory, so comm's engine thread reduces them in place with no
   * staging copy.
   */
  private async download(i: number, grads: tf.NamedTensorMap): Promise<Float32Array> {
    const bucket = this.buckets[i]!;
    const flat = this.hostBuffers[i]!;
    if (this.transfer === 'device') {
      const dev = tf.tidy(() =>
        tf.concat(bucket.entries.map((e) => (grads[e.name] ? tf.reshape(grads[e.name]!, [-1]) : tf.zeros([e.size])))),
      );
      try {
        flat.set((await dev.data()) as Float32Array);
      } finally {
        dev.dispose();
      }
      return flat;
    }
    for (const e of bucket.entries) {
      const g = grads[e.name];
      if (!g) {
        flat.fill(0, e.offset, e.offset + e.size);
        continue;
      }
      if (g.size !== e.size) {
        throw new Error(`gradient for '${e.name}' has ${g.size} elements, the parameter ${e.size}`);
      }
      copyTensorInto(g, flat, e.offset);
    }
    return flat;
  }

  private upload(bucket: Bucket, reduced: Float32Array, out: tf.NamedTensorMap): void {
    if (this.transfer === 'device') {
      // a non-shared copy: native backends (tfjs-node) are not guaranteed to accept typed
      // arrays over a SharedArrayBuffer, and one host copy is cheap next to the upload
      const flat = tf.tensor1d(isSharedArray(reduced) ? reduced.slice() : reduced);
      try {
        for (const e of bucket.entries) {
          out[e.name] = tf.keep(tf.tidy(() => tf.reshape(tf.slice(flat, [e.offset], [e.size]), e.shape as number[])));
        }
      } finally {
        flat.dispose();
      }
      return;
    }
    // The bucket buffer is reused next step: the cpu backend keeps the array it is given, so
    // it gets a copy; wasm copies into its heap by itself.
    const copy = this.backendKeepsArrays;
    for (const e of bucket.entries) {
      const view = reduced.subarray(e.offset, e.offset + e.size);
      out[e.name] = tf.keep(tf.tensor(copy ? view.slice() : view, e.shape as number[], 'float32'));
    }
  }
}

function isSharedArray(a: Float32Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;
}
