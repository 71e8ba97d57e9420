// The caller's side of the process group. Every operation becomes a Command for the engine
// thread (engine.ts). Collectives learn of completion through a word in shared memory:
// allReduceSync sleeps on it with Atomics.wait, the async forms await Atomics.waitAsync;
// commands with a result (objects, store) get a posted reply.
//
// With the native data plane (native-ring.ts), float32 all-reduce and barrier skip the engine:
// this thread hands them to the addon's C thread directly. Every collective gets its number
// here, in call order, so that both planes agree on it.
import { Worker } from 'node:worker_threads';
import { Packr } from 'msgpackr';
import { CommError, deserializeError, type SerializedError } from './errors.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import {
  SYNC_BYTES,
  SYNC_LEN,
  SYNC_MSG_OFFSET,
  SYNC_STATE,
  SYNC_STATUS,
  type Command,
  type CommandBody,
  type CommandResult,
  type EngineEvent,
  type Region,
  type StartInfo,
} from './protocol.js';
import { WIRE_COMPRESSIONS, type WireCompression } from './half.js';
import { commNative, type CommNative } from './native.js';
import { commErrorOf } from './native-ring.js';
import { StagingPool, isShared, regionOf } from './staging.js';
import { SyncSlots, type Slot } from './sync-slots.js';
import type { AllReduceOptions, BroadcastBuffer, ProcessGroup, ProcessGroupOptions, Store } from './types.js';

// Atomics.waitAsync is in Node 20 but not in the project's ES2023 lib.
const waitAsync = (
  Atomics as unknown as {
    waitAsync(a: Int32Array, i: number, v: number, t?: number): { async: boolean; value: Promise<string> | string };
  }
).waitAsync;

const objects = new Packr({ moreTypes: true, structuredClone: true });

interface Pending {
  resolve: (r: CommandResult) => void;
  reject: (e: Error) => void;
}

/** The compression field of an all-reduce command, checked (a typo must not silently send float32). */
function compressionOf(options: AllReduceOptions): { compression?: WireCompression } {
  const c = options.compression;
  if (c === undefined) return {};
  if (!WIRE_COMPRESSIONS.includes(c))
    throw new CommError(
      'INVALID',
      `allReduce compression must be one of ${WIRE_COMPRESSIONS.join(', ')} (got ${String(c)})`,
    );
  return { compression: c };
}

function checkRoot(root: number, worldSize: number): void {
  if (!Number.isInteger(root) || root < 0 || root >= worldSize)
    throw new CommError('INVALID', `root ${root} is not a rank of this group (0..${worldSize - 1})`);
}

export class ZmqProcessGroup implements ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  /** How this rank reaches the next one in the ring, and which interface it advertised. */
  readonly info: StartInfo;
  readonly store: Store;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly pool = new StagingPool();
  private readonly syncSlots = new SyncSlots();
  /** The one slot of allReduceSync (one blocking call at a time per thread). */
  private readonly blockingSlot = this.syncSlots.acquire();
  private failure: CommError | null = null;
  private fastPending = 0;
  private workerGone = false;
  private readonly sentIds = new Set<number>();
  private readonly finalizer = new FinalizationRegistry<number>((id) => {
    this.sentIds.delete(id);
    if (!this.destroyed && !this.workerGone)
      this.worker.postMessage({ op: 'forget', buffer: id, id: 0 } satisfies Command);
  });
  private destroyed: Promise<void> | null = null;
  /** The number of the last collective called (see protocol.ts CommandBody). */
  private seq = 0;
  /** The native data plane, when the engine runs one: the addon and the plane's id. */
  private readonly native: { addon: CommNative; id: number } | null;

  /** @internal use initProcessGroup() */
  constructor(
    private readonly worker: Worker,
    info: StartInfo,
    private readonly log: (line: string) => void,
  ) {
    this.info = info;
    this.rank = info.rank;
    this.worldSize = info.worldSize;
    this.native = info.nativePlane !== null && commNative ? { addon: commNative, id: info.nativePlane } : null;
    worker.on('message', (e: EngineEvent) => this.onEvent(e));
    worker.on('error', (e) =>
      this.onWorkerGone(
        new CommError('PEER_DEAD', `the comm engine thread of rank ${this.rank} crashed: ${e.message}`, this.rank),
      ),
    );
    worker.on('exit', () => this.onWorkerGone(new CommError('DESTROYED', 'the process group was destroyed')));
    worker.unref(); // an idle group does not keep the process alive...
    process.once('exit', this.onProcessExit); // ...but must close its sockets before it goes
    this.store = {
      set: async (key, value) => {
        await this.call({
          op: 'store',
          req: { op: 'set', key, value: typeof value === 'string' ? Buffer.from(value) : value },
        });
      },
      get: async (key) => ((await this.call({ op: 'store', req: { op: 'get', key } })) as { value: Uint8Array }).value,
      add: async (key, delta) =>
        ((await this.call({ op: 'store', req: { op: 'add', key, delta } })) as { num: number }).num,
      wait: async (keys, timeoutMs) => {
        const p = this.call({ op: 'store', req: { op: 'wait', keys } });
        if (timeoutMs === undefined) return void (await p);
        let t: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>(
          (_, rej) =>
            (t = setTimeout(
              () =>
                rej(new CommError('TIMEOUT', `store keys ${keys.join(', ')} did not appear within ${timeoutMs} ms`)),
              timeoutMs,
            )),
        );
        try {
          await Promise.race([p, timeout]);
        } finally {
          clearTimeout(t);
        }
      },
    };
  }

  /**
   * The process is exiting and destroy() has not completed: have the engine close its sockets
   * now, waiting synchronously (nothing else can run in an 'exit' handler). Without this, Node
   * tears the engine thread down with live ZeroMQ sockets, whose finalisers abort the process.
   */
  private readonly onProcessExit = (): void => {
    if (this.workerGone) return;
    const slot = new SharedArrayBuffer(SYNC_BYTES);
    const ctrl = new Int32Array(slot, 0, 4);
    this.worker.postMessage({ op: 'close-now', id: this.nextId++, sync: { id: 0, sab: slot } } satisfies Command);
    Atomics.wait(ctrl, SYNC_STATE, 0, 3000);
  };

  /** The error that made this group unusable (a dead peer, a timeout), if any. */
  get error(): CommError | null {
    return this.failure;
  }

  private onEvent(e: EngineEvent): void {
    switch (e.t) {
      case 'done': {
        const p = this.pending.get(e.id);
        if (!p) return;
        this.pending.delete(e.id);
        if (this.pending.size === 0 && this.fastPending === 0 && !this.destroyed) this.worker.unref();
        if (e.error) p.reject(deserializeError(e.error));
        else p.resolve(e.result);
        return;
      }
      case 'failed':
        this.failure ??= deserializeError(e.error);
        return;
      case 'log':
        this.log(e.line);
        return;
      default:
        return;
    }
  }

  private onWorkerGone(err: CommError): void {
    this.workerGone = true;
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private call(body: CommandBody): Promise<CommandResult> {
    if (this.destroyed && body.op !== 'destroy')
      return Promise.reject(new CommError('DESTROYED', 'the process group was destroyed'));
    const id = this.nextId++;
    return new Promise<CommandResult>((resolve, reject) => {
      if (this.pending.size === 0 && this.fastPending === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...body, id } satisfies Command);
    });
  }

  /** Runs `body` synchronously: posts it and sleeps on the sync word until the engine is done. */
  private callSync(body: CommandBody): void {
    if (this.destroyed) throw new CommError('DESTROYED', 'the process group was destroyed');
    const slot = this.blockingSlot;
    const ctrl = slot.ctrl;
    Atomics.store(ctrl, SYNC_STATE, 0);
    this.worker.postMessage({ ...body, id: this.nextId++, sync: this.syncSlots.wire(slot) } satisfies Command);
    // (A crashed engine thread cannot be noticed while this thread sleeps: its 'exit' event
    // needs the event loop. The engine answers every command it received, failures included.)
    while (Atomics.load(ctrl, SYNC_STATE) === 0) Atomics.wait(ctrl, SYNC_STATE, 0, 1000);
    this.checkSlot(slot);
  }

  /**
   * Async form of a collective without a result: the engine reports through a shared word,
   * as for the sync form, and we await it with Atomics.waitAsync. That wakes this thread
   * directly, about twice as fast as a posted reply.
   */
  private async callFast(body: CommandBody): Promise<void> {
    if (this.destroyed) throw new CommError('DESTROYED', 'the process group was destroyed');
    const slot = this.syncSlots.acquire();
    const ctrl = slot.ctrl;
    Atomics.store(ctrl, SYNC_STATE, 0);
    this.fastPending++;
    if (this.fastPending === 1 && this.pending.size === 0) this.worker.ref(); // waitAsync alone keeps no one alive
    this.worker.postMessage({ ...body, id: this.nextId++, sync: this.syncSlots.wire(slot) } satisfies Command);
    try {
      while (Atomics.load(ctrl, SYNC_STATE) === 0) {
        if (this.workerGone) throw this.failure!; // the engine thread is gone
        const w = waitAsync(ctrl, SYNC_STATE, 0, 1000);
        if (w.async) await w.value;
      }
      this.checkSlot(slot);
    } finally {
      this.fastPending--;
      if (this.fastPending === 0 && this.pending.size === 0 && !this.destroyed) this.worker.unref();
      this.syncSlots.release(slot);
    }
  }

  /** The number of the next collective, which the engine's TS ring runs. */
  private tsCollective(): number {
    const seq = ++this.seq;
    this.native?.addon.beginJs(this.native.id, seq);
    return seq;
  }

  /** Runs a native collective (async), with the group's error type. */
  private async nativeCall(run: (addon: CommNative, id: number, seq: number) => Promise<void>): Promise<void> {
    if (this.destroyed) throw new CommError('DESTROYED', 'the process group was destroyed');
    const { addon, id } = this.native!;
    try {
      await run(addon, id, ++this.seq);
    } catch (e) {
      throw nativeError(e);
    }
  }

  private checkSlot(slot: Slot): void {
    const ctrl = slot.ctrl;
    if (Atomics.load(ctrl, SYNC_STATUS) !== 0) {
      const len = Atomics.load(ctrl, SYNC_LEN);
      const json = Buffer.from(new Uint8Array(slot.sab, SYNC_MSG_OFFSET, len)).toString('utf8');
      throw deserializeError(JSON.parse(json) as SerializedError);
    }
  }

  /**
   * What to post for a region: the buffer itself the first time, its id afterwards. When the
   * caller's buffer is collected, the engine is told to drop its reference.
   */
  private wire(r: Region & { sab: SharedArrayBuffer }): Region {
    if (this.sentIds.has(r.id)) return { id: r.id, byteOffset: r.byteOffset, byteLength: r.byteLength };
    this.sentIds.add(r.id);
    this.finalizer.register(r.sab, r.id);
    return r;
  }

  private stage(buf: ArrayBufferView, copyIn: boolean): Region & { sab: SharedArrayBuffer } {
    if (isShared(buf)) return regionOf(buf);
    const r = this.pool.acquire(buf.byteLength);
    if (copyIn)
      new Uint8Array(r.sab, 0, buf.byteLength).set(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
    return r;
  }

  private unstage(buf: ArrayBufferView, r: Region & { sab: SharedArrayBuffer }, copyOut: boolean): void {
    if (r.sab === buf.buffer) return;
    if (copyOut)
      new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).set(new Uint8Array(r.sab, 0, buf.byteLength));
    this.pool.release(r);
  }

  async allReduce(buf: Float32Array, options: AllReduceOptions = {}): Promise<Float32Array> {
    if (!(buf instanceof Float32Array)) throw new CommError('INVALID', 'allReduce takes a Float32Array');
    const wire = compressionOf(options);
    if (this.native && !wire.compression) {
      await this.nativeCall((addon, id, seq) => addon.allReduce(id, seq, buf, options.op === 'mean'));
      return buf;
    }
    const region = this.stage(buf, true);
    let ok = false;
    try {
      await this.callFast({
        op: 'allReduce',
        seq: this.tsCollective(),
        region: this.wire(region),
        mean: options.op === 'mean',
        ...wire,
      });
      ok = true;
    } finally {
      this.unstage(buf, region, ok);
    }
    return buf;
  }

  allReduceSync(buf: Float32Array, options: AllReduceOptions = {}): Float32Array {
    if (!(buf instanceof Float32Array)) throw new CommError('INVALID', 'allReduceSync takes a Float32Array');
    const wire = compressionOf(options);
    if (this.native && !wire.compression) {
      if (this.destroyed) throw new CommError('DESTROYED', 'the process group was destroyed');
      try {
        this.native.addon.allReduceSync(this.native.id, ++this.seq, buf, options.op === 'mean');
      } catch (e) {
        throw nativeError(e);
      }
      return buf;
    }
    const region = this.stage(buf, true);
    let ok = false;
    try {
      this.callSync({
        op: 'allReduce',
        seq: this.tsCollective(),
        region: this.wire(region),
        mean: options.op === 'mean',
        ...wire,
      });
      ok = true;
    } finally {
      this.unstage(buf, region, ok);
    }
    return buf;
  }

  async broadcast<T extends BroadcastBuffer>(buf: T, root: number): Promise<T> {
    checkRoot(root, this.worldSize);
    const isRoot = root === this.rank;
    const region = this.stage(buf, isRoot);
    let ok = false;
    try {
      await this.callFast({ op: 'broadcast', seq: this.tsCollective(), region: this.wire(region), root });
      ok = true;
    } finally {
      this.unstage(buf, region, ok && !isRoot);
    }
    return buf;
  }

  async allGather(buf: Float32Array): Promise<Float32Array> {
    if (!(buf instanceof Float32Array)) throw new CommError('INVALID', 'allGather takes a Float32Array');
    const out = new Float32Array(buf.length * this.worldSize);
    const input = this.stage(buf, true);
    const output = this.pool.acquire(out.byteLength);
    let ok = false;
    try {
      await this.callFast({
        op: 'allGather',
        seq: this.tsCollective(),
        input: this.wire(input),
        output: this.wire(output),
      });
      ok = true;
    } finally {
      this.unstage(buf, input, false);
      if (ok) new Uint8Array(out.buffer).set(new Uint8Array(output.sab, 0, out.byteLength));
      this.pool.release(output);
    }
    return out;
  }

  async barrier(): Promise<void> {
    if (this.native) return this.nativeCall((addon, id, seq) => addon.barrier(id, seq));
    await this.callFast({ op: 'barrier', seq: this.tsCollective() });
  }

  async broadcastObject<T>(value: T, root: number): Promise<T> {
    checkRoot(root, this.worldSize);
    const bytes = root === this.rank ? new Uint8Array(objects.pack(value)) : null;
    const got = (await this.call({ op: 'broadcastBytes', seq: this.tsCollective(), root, bytes })) as Uint8Array;
    return root === this.rank ? value : (objects.unpack(got) as T);
  }

  async allGatherObject<T>(value: T): Promise<T[]> {
    const bytes = new Uint8Array(objects.pack(value));
    const got = (await this.call({ op: 'allGatherBytes', seq: this.tsCollective(), bytes })) as Uint8Array[];
    return got.map((b, r) => (r === this.rank ? value : (objects.unpack(b) as T)));
  }

  destroy(): Promise<void> {
    this.destroyed ??= (async () => {
      const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      const gave = this.call({ op: 'destroy' }).catch(() => undefined);
      this.worker.ref(); // until the thread is gone
      let timer: NodeJS.Timeout | undefined;
      const limit = (ms: number) => new Promise<void>((r) => (timer = setTimeout(r, ms)));
      await Promise.race([gave, limit(10_000)]);
      clearTimeout(timer);
      // With every socket and timer closed the engine thread ends by itself; make sure.
      await Promise.race([exited, limit(1000)]);
      clearTimeout(timer);
      await this.worker.terminate();
      process.off('exit', this.onProcessExit);
      this.pool.clear();
    })();
    return this.destroyed;
  }
}

/** An error of the native addon as a CommError (anything else is a bug: passed on as it is). */
function nativeError(e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === 'string' && !(e instanceof CommError)
    ? commErrorOf(e as Parameters<typeof commErrorOf>[0])
    : e;
}

function defaultLog(line: string): void {
  process.stderr.write(line + '\n');
}

/** Joins the process group described by `options` and the environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, YOLO_LAUNCH_TOKEN, ...). */
export async function initProcessGroup(options: ProcessGroupOptions = {}): Promise<ZmqProcessGroup> {
  const resolved: ResolvedOptions = resolveOptions(options);
  const log = options.log === false ? () => undefined : (options.log ?? defaultLog);
  const worker = new Worker(new URL('./engine-worker.js', import.meta.url), { workerData: { options: resolved } });
  return new Promise<ZmqProcessGroup>((resolve, reject) => {
    const onMessage = (e: EngineEvent): void => {
      if (e.t === 'log') log(e.line);
      else if (e.t === 'ready') {
        cleanup();
        resolve(new ZmqProcessGroup(worker, e.info, log));
      } else if (e.t === 'init-failed') {
        cleanup();
        // The engine closes its sockets and its thread ends by itself (rank 0 first lingers up
        // to 5 s to tell late ranks why the rendezvous was aborted). terminate() is only a last
        // resort: stopping a thread that still has ZeroMQ sockets can abort the process.
        const t = setTimeout(() => void worker.terminate(), 15_000);
        worker.once('exit', () => {
          clearTimeout(t);
          reject(deserializeError(e.error));
        });
      }
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new CommError('RENDEZVOUS', `the comm engine thread failed to start: ${err.message}`));
    };
    const cleanup = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
  });
}
