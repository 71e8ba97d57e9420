// The data plane: rank r PUSHes to rank r+1 and PULLs from rank r-1. Every collective is a
// ring algorithm over these two sockets, cut into segments so that sending, receiving and
// adding overlap. Collectives run one at a time, in the same order on every rank; messages
// of the next collective that arrive early wait in the inbox (the sockets are FIFO).
//
// Zero-copy rule: zeromq reads a sent Buffer when its I/O thread transmits it, possibly after
// the collective has returned. So we only ever hand zeromq memory that nobody writes before
// the next rank has received it: freshly allocated buffers, received buffers being forwarded,
// and views of the caller's data whose arrival at the next rank is a cause of something this
// rank still has to receive (see allReduceBody). The one all-reduce send without such a
// consequence, the owner's final sum, goes out from a scratch buffer that is provably read
// by the next rank before it is reused (see OwnerScratch).
import { CommError } from './errors.js';
import { copyBytes } from './copy.js';
import { addDecoded16, decode16, encode16, type WireCompression } from './half.js';
import { OwnerScratch } from './owner-scratch.js';
import { addDivInPlace, addInPlace } from './reduce.js';

/** How received segments are folded into local data (plain JS, or SIMD in wasm memory). */
export interface Reducer {
  /** Called once per all-reduce with the segment size; false: use plain JS this time. */
  prepare(segmentBytes: number): boolean;
  reduce(local: Float32Array, recv: Buffer, divisor: number): void;
}

const jsReducer: Reducer = {
  prepare: () => true,
  reduce(local, recv, divisor) {
    if (divisor === 1) addInPlace(local, f32(recv));
    else addDivInPlace(local, f32(recv), divisor);
  },
};
import { HEADER_BYTES, KIND_NAMES, Kind, readHeader, writeHeader, type Header } from './wire.js';

interface Incoming {
  h: Header;
  payload: Buffer;
}

function f32(buf: Buffer): Float32Array {
  if (buf.byteOffset % 4 === 0) return new Float32Array(buf.buffer, buf.byteOffset, buf.length >> 2);
  const copy = new Float32Array(buf.length >> 2);
  new Uint8Array(copy.buffer).set(buf);
  return copy;
}

/**
 * First element of chunk c (of n) of an all-reduce of L elements; chunk n starts at L. On
 * 16-byte multiples: V8 copies between a SharedArrayBuffer and other memory word by word only
 * when both sides agree modulo 8 (byte by byte, ~5x slower, otherwise), and zeromq's receive
 * buffers are 8-byte aligned.
 */
function chunkStart(c: number, L: number, n: number): number {
  return c >= n ? L : 4 * Math.floor((c * L) / (4 * n));
}

/** A received or fresh buffer as 16-bit words (copied when it is not 2-byte aligned). */
function u16(buf: Buffer): Uint16Array {
  if (buf.byteOffset % 2 === 0) return new Uint16Array(buf.buffer, buf.byteOffset, buf.length >> 1);
  const copy = new Uint16Array(buf.length >> 1);
  new Uint8Array(copy.buffer).set(buf);
  return copy;
}

const view = (a: Float32Array, from: number, to: number): Buffer =>
  Buffer.from(a.buffer, a.byteOffset + from * 4, (to - from) * 4);
/** The longest stretch the ring processes ready messages without yielding to the event loop. */
const YIELD_EVERY_MS = 20;

/** Segment sizes of the ring (ResolvedOptions: segmentBytes, minSegmentBytes, smallAllReduceMaxBytes). */
export interface RingSizes {
  /** Largest segment, bytes. */
  segmentBytes: number;
  /** Smallest adaptive all-reduce segment, bytes. */
  minSegmentBytes: number;
  /** Up to this size all-reduce is a gather then a local sum in rank order (fewer hops). */
  smallAllReduceMaxBytes: number;
}

/** What the ring needs of its input socket (zeromq's Pull; an in-memory fake in tests). */
export interface RingInput {
  receive(): Promise<Buffer[]>;
}

/** What the ring needs of its output socket (zeromq's Push): resolves once the frames are queued. */
export interface RingOutput {
  send(frames: Buffer[]): Promise<void>;
}

export interface RingStats {
  messagesSent: number;
  messagesReceived: number;
  dropped: number;
}

export class Ring {
  private inbox: (Incoming | undefined)[] = [];
  private inboxHead = 0;
  private waiter: { resolve: (m: Incoming) => void; reject: (e: Error) => void } | null = null;
  private failure: CommError | null = null;
  private seq = 0;
  private current = 'idle';
  private active = false;
  /** rank -> number of collectives it completed before it left (destroy()). */
  private readonly leftAfter = new Map<number, number>();
  private sendQ: (Buffer[] | undefined)[] = [];
  private sendHead = 0;
  private sending = false;
  private drainWaiters: (() => void)[] = [];
  private closed = false;
  readonly stats: RingStats = { messagesSent: 0, messagesReceived: 0, dropped: 0 };
  private readonly segBytes: number;
  private readonly minSegBytes: number;
  private readonly smallMaxBytes: number;
  private readonly ownerScratch = new OwnerScratch();
  /** When the engine's event loop last had a turn (see next()). */
  private sliceStartedAt = performance.now();

  constructor(
    readonly rank: number,
    readonly size: number,
    private readonly session: number,
    sizes: RingSizes,
    private readonly pull: RingInput,
    private readonly push: RingOutput,
  ) {
    this.segBytes = sizes.segmentBytes;
    this.minSegBytes = sizes.minSegmentBytes;
    this.smallMaxBytes = sizes.smallAllReduceMaxBytes;
    void this.receiveLoop();
  }

  fail(err: CommError): void {
    if (this.failure) return;
    this.failure = err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }

  close(): void {
    this.closed = true;
    this.fail(new CommError('DESTROYED', 'the process group was destroyed'));
  }

  /** Resolves once every queued message has been handed to zeromq (or after `ms`). */
  drain(ms: number): Promise<void> {
    if (!this.sending) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.drainWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  // ---- transport ----

  private async receiveLoop(): Promise<void> {
    while (!this.closed) {
      let frames: Buffer[];
      try {
        frames = await this.pull.receive();
      } catch {
        if (this.closed) return;
        continue;
      }
      const head = frames[0];
      // Anything that is not a well-formed frame of this job's session is dropped unseen.
      if (frames.length !== 2 || !head || head.length !== HEADER_BYTES) {
        this.stats.dropped++;
        continue;
      }
      const h = readHeader(head);
      if (h.session !== this.session) {
        this.stats.dropped++;
        continue;
      }
      this.stats.messagesReceived++;
      const m: Incoming = { h, payload: frames[1]! };
      const w = this.waiter;
      if (w) {
        this.waiter = null;
        w.resolve(m);
      } else this.inbox.push(m);
    }
  }

  private async next(): Promise<Incoming> {
    // Ready messages are consumed in a chain of microtasks, which starves timers and sockets
    // (the liveness heartbeats) for as long as data keeps arriving: a 256 MB all-reduce on a
    // loaded machine ran for seconds without a turn and got this rank declared dead.
    if (performance.now() - this.sliceStartedAt > YIELD_EVERY_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.sliceStartedAt = performance.now();
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.inboxHead < this.inbox.length) {
      const m = this.inbox[this.inboxHead]!;
      this.inbox[this.inboxHead++] = undefined;
      if (this.inboxHead === this.inbox.length) {
        this.inbox = [];
        this.inboxHead = 0;
      }
      return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private send(h: Header, payload: Buffer): void {
    this.sendQ.push([writeHeader(h), payload]);
    if (!this.sending) void this.pump();
  }

  private async pump(): Promise<void> {
    this.sending = true;
    try {
      while (this.sendHead < this.sendQ.length) {
        const frames = this.sendQ[this.sendHead]!;
        this.sendQ[this.sendHead++] = undefined;
        await this.push.send(frames);
        this.stats.messagesSent++;
      }
    } catch (e) {
      if (!this.closed)
        this.fail(
          new CommError(
            'PEER_DEAD',
            `sending to rank ${(this.rank + 1) % this.size} failed: ${(e as Error).message}`,
            (this.rank + 1) % this.size,
          ),
        );
    } finally {
      this.sendQ = [];
      this.sendHead = 0;
      this.sending = false;
      const ws = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of ws) w();
    }
  }

  /** The number of the last collective this ring started (see begin). */
  get collectives(): number {
    return this.seq;
  }

  private leftError(rank: number, after: number, seq: number): CommError {
    return new CommError(
      'PEER_DEAD',
      `rank ${rank} left the process group (destroy()) after ${after} collectives; this rank's collective #${seq} (${this.current}) needs it`,
      rank,
    );
  }

  /**
   * `rank` called destroy() after `after` collectives. The ones it finished can still finish
   * here (their data is in flight); any later one cannot.
   */
  peerLeft(rank: number, after: number): void {
    this.leftAfter.set(rank, after);
    if (this.active && this.seq > after) this.fail(this.leftError(rank, after, this.seq));
  }

  /**
   * Collective #seq starts. The caller numbers every collective of the group (1, 2, ...) in
   * the order it calls them, whichever plane runs it (native.ts): the number in each message
   * header is how ranks detect that they called different collectives.
   */
  private begin(name: string, seq: number): number {
    if (this.failure) throw this.failure;
    for (const [rank, after] of this.leftAfter) if (seq > after) throw this.leftError(rank, after, seq);
    this.current = name;
    this.active = true;
    this.seq = seq;
    return seq;
  }

  private async tracked<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } finally {
      this.active = false;
    }
  }

  /** Start-up check that the ring is connected: a hello to the next rank, one from the previous. */
  async handshake(): Promise<void> {
    this.send(
      { session: this.session, seq: 0, kind: Kind.Hello, step: 0, index: 0, origin: this.rank, total: 0, offset: 0 },
      Buffer.alloc(0),
    );
    const m = await this.next();
    if (m.h.kind !== Kind.Hello)
      throw new CommError(
        'RENDEZVOUS',
        `ring start-up: expected a hello from rank ${(this.rank - 1 + this.size) % this.size}, got kind ${m.h.kind}`,
      );
  }

  private expect(m: Incoming, seq: number, kind: Kind, step: number, index: number): void {
    const h = m.h;
    if (h.seq !== seq || h.kind !== kind || h.step !== step || h.index !== index) {
      const from = (this.rank - 1 + this.size) % this.size;
      const err = new CommError(
        'MISMATCH',
        `collective mismatch: rank ${from} sent ${KIND_NAMES[h.kind] ?? `kind ${h.kind}`} #${h.seq} (step ${h.step}, segment ${h.index}) while rank ${this.rank} is in ${this.current} #${seq} (step ${step}, segment ${index}); every rank must call the same collectives in the same order`,
        from,
      );
      this.fail(err);
      throw err;
    }
  }

  private sizeMismatch(what: string, got: number, want: number): never {
    const err = new CommError(
      'MISMATCH',
      `${what}: received ${got} bytes where rank ${this.rank} expected ${want}; every rank must pass buffers of the same length`,
    );
    this.fail(err);
    throw err;
  }

  // ---- collectives ----

  /** In-place ring all-reduce #seq: reduce-scatter then all-gather. */
  allReduce(
    seq: number,
    data: Float32Array,
    mean: boolean,
    reducer?: Reducer,
    compression?: WireCompression,
  ): Promise<void> {
    try {
      this.begin('allReduce', seq);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.tracked(
      compression ? this.allReduce16Body(seq, data, mean, compression) : this.allReduceBody(seq, data, mean, reducer),
    );
  }

  private async allReduceBody(
    seq: number,
    data: Float32Array,
    mean: boolean,
    reducer: Reducer | undefined,
  ): Promise<void> {
    const n = this.size;
    const r = this.rank;
    const L = data.length;
    if (n === 1 || L === 0) return;
    if (L * 4 <= this.smallMaxBytes) return this.smallAllReduce(seq, data, mean);
    const segE = this.segmentElements(L);
    const red = reducer && reducer.prepare(segE * 4) ? reducer : jsReducer;
    const lo = (c: number): number => chunkStart(c, L, n);
    const mod = (x: number): number => ((x % n) + n) % n;
    const S = this.session;
    const hdr = (kind: Kind, step: number, index: number, total: number, offset: number): Header => ({
      session: S,
      seq,
      kind,
      step,
      index,
      origin: r,
      total,
      offset,
    });

    // Reduce-scatter step 0: our own chunk r goes out as a view, untouched. Its sum comes back
    // to us in the all-gather phase, so the next rank has read it before we can return.
    {
      const a = lo(r);
      const b = lo(r + 1);
      for (let k = 0, o = a; o < b; k++, o += segE) {
        const e = Math.min(o + segE, b);
        this.send(hdr(Kind.ReduceScatter, 0, k, (b - a) * 4, (o - a) * 4), view(data, o, e));
      }
    }
    for (let s = 0; s < n - 1; s++) {
      const c = mod(r - s - 1);
      const a = lo(c);
      const b = lo(c + 1);
      const owner = s === n - 2; // after this step chunk c is complete here
      for (let k = 0, o = a; o < b; k++, o += segE) {
        const e = Math.min(o + segE, b);
        const m = await this.next();
        this.expect(m, seq, Kind.ReduceScatter, s, k);
        if (m.payload.length !== (e - o) * 4) this.sizeMismatch('allReduce', m.payload.length, (e - o) * 4);
        red.reduce(data.subarray(o, e), m.payload, owner && mean ? n : 1);
        if (owner) {
          // The final sum travels the ring unchanged, and nothing we receive depends on it:
          // it leaves from the owner scratch, so the caller may reuse `data` once we return.
          this.send(
            hdr(Kind.AllGatherPhase, 0, k, (b - a) * 4, (o - a) * 4),
            this.ownerScratch.copy(data, o, e, (o - a) * 4, (b - a) * 4),
          );
        } else {
          // A partial sum: its chunk's final value comes back to us in the all-gather phase.
          this.send(hdr(Kind.ReduceScatter, s + 1, k, (b - a) * 4, (o - a) * 4), view(data, o, e));
        }
      }
    }
    for (let s = 0; s < n - 1; s++) {
      const c = mod(r - s);
      const a = lo(c);
      const b = lo(c + 1);
      for (let k = 0, o = a; o < b; k++, o += segE) {
        const e = Math.min(o + segE, b);
        const m = await this.next();
        this.expect(m, seq, Kind.AllGatherPhase, s, k);
        if (m.payload.length !== (e - o) * 4) this.sizeMismatch('allReduce', m.payload.length, (e - o) * 4);
        if (s < n - 2) this.send(hdr(Kind.AllGatherPhase, s + 1, k, (b - a) * 4, (o - a) * 4), m.payload);
        copyBytes(m.payload, data, o * 4);
      }
    }
  }

  /**
   * All-reduce with 16-bit values on the wire (PyTorch's fp16/bf16 compress hooks): half the
   * bytes of the float32 ring. Same ring and chunk order as allReduceBody; every received
   * value is decoded and added in float32, every partial sum rounded to 16 bits for the next
   * hop. The owner rounds the final sum too and keeps the rounded value itself, so every rank
   * ends with the very same bits. `mean` divides each rank's input by the world size first,
   * as torch's hook does (keeps fp16 sums in range). Every send is a fresh buffer.
   */
  private async allReduce16Body(seq: number, data: Float32Array, mean: boolean, kind: WireCompression): Promise<void> {
    const n = this.size;
    const r = this.rank;
    const L = data.length;
    if (n === 1 || L === 0) return;
    if (mean) for (let i = 0; i < L; i++) data[i] = data[i]! / n;
    const [rsKind, agKind] =
      kind === 'fp16' ? [Kind.ReduceScatterF16, Kind.AllGatherF16] : [Kind.ReduceScatterBf16, Kind.AllGatherBf16];
    const segE = this.segmentElements(L);
    const lo = (c: number): number => chunkStart(c, L, n);
    const mod = (x: number): number => ((x % n) + n) % n;
    const hdr = (k: Kind, step: number, index: number, total: number, offset: number): Header => ({
      session: this.session,
      seq,
      kind: k,
      step,
      index,
      origin: r,
      total,
      offset,
    });
    const encoded = (o: number, e: number): Buffer => {
      const b = Buffer.allocUnsafeSlow((e - o) * 2);
      encode16(kind, data.subarray(o, e), u16(b));
      return b;
    };
    const receive = async (k: Kind, step: number, index: number, o: number, e: number): Promise<Buffer> => {
      const m = await this.next();
      this.expect(m, seq, k, step, index);
      if (m.payload.length !== (e - o) * 2) this.sizeMismatch('allReduce', m.payload.length, (e - o) * 2);
      return m.payload;
    };
    for (let c = r, k = 0, o = lo(c); o < lo(c + 1); k++, o += segE) {
      const e = Math.min(o + segE, lo(c + 1));
      this.send(hdr(rsKind, 0, k, (lo(c + 1) - lo(c)) * 2, (o - lo(c)) * 2), encoded(o, e));
    }
    for (let s = 0; s < n - 1; s++) {
      const c = mod(r - s - 1);
      const owner = s === n - 2;
      for (let k = 0, o = lo(c); o < lo(c + 1); k++, o += segE) {
        const e = Math.min(o + segE, lo(c + 1));
        const local = data.subarray(o, e);
        addDecoded16(kind, u16(await receive(rsKind, s, k, o, e)), local);
        const out = encoded(o, e);
        if (owner) decode16(kind, u16(out), local); // what every other rank will decode
        this.send(hdr(owner ? agKind : rsKind, owner ? 0 : s + 1, k, (lo(c + 1) - lo(c)) * 2, (o - lo(c)) * 2), out);
      }
    }
    for (let s = 0; s < n - 1; s++) {
      const c = mod(r - s);
      for (let k = 0, o = lo(c); o < lo(c + 1); k++, o += segE) {
        const e = Math.min(o + segE, lo(c + 1));
        const payload = await receive(agKind, s, k, o, e);
        if (s < n - 2) this.send(hdr(agKind, s + 1, k, (lo(c + 1) - lo(c)) * 2, (o - lo(c)) * 2), payload);
        decode16(kind, u16(payload), data.subarray(o, e));
      }
    }
  }

  /**
   * Segment length (elements) of an all-reduce of L elements: >= 8 segments per chunk so that
   * the steps overlap, never below the minimum (per-message costs) nor above the configured
   * segment size (GC churn at large sizes).
   */
  private segmentElements(L: number): number {
    const n = this.size;
    const segBytes = Math.min(this.segBytes, Math.max(this.minSegBytes, 2 ** Math.ceil(Math.log2((L * 4) / n / 8))));
    return segBytes >> 2;
  }

  /**
   * Small buffers: latency beats bandwidth. Gather every rank's buffer around the ring (n-1
   * hops instead of the ring all-reduce's 2(n-1)) and let every rank add them up in rank
   * order, so that every rank performs the very same additions: identical bits everywhere.
   */
  private async smallAllReduce(seq: number, data: Float32Array, mean: boolean): Promise<void> {
    const n = this.size;
    const mine = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const blobs = await this.gatherBody(seq, Kind.SmallReduce, mine, (_o, total) => {
      if (total !== data.byteLength) this.sizeMismatch('allReduce', total, data.byteLength);
      return new Uint8Array(new ArrayBuffer(total));
    });
    const acc = new Float32Array(data.length);
    acc.set(f32(Buffer.from(blobs[0]!.buffer, blobs[0]!.byteOffset, blobs[0]!.byteLength)));
    for (let r = 1; r < n; r++)
      addInPlace(acc, f32(Buffer.from(blobs[r]!.buffer, blobs[r]!.byteOffset, blobs[r]!.byteLength)));
    if (mean) for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! / n;
    data.set(acc);
  }

  /**
   * Pipelined ring broadcast of bytes from `root`. Non-roots get the size from the first
   * segment and ask `dest` for the buffer to fill.
   */
  broadcast(
    seq: number,
    root: number,
    src: Uint8Array | null,
    dest: (total: number) => Uint8Array,
  ): Promise<Uint8Array> {
    try {
      this.begin('broadcast', seq);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.tracked(this.broadcastBody(seq, root, src, dest));
  }

  private async broadcastBody(
    seq: number,
    root: number,
    src: Uint8Array | null,
    dest: (total: number) => Uint8Array,
  ): Promise<Uint8Array> {
    const n = this.size;
    const r = this.rank;
    if (r === root) {
      if (!src) throw new CommError('INVALID', 'broadcast root has no data');
      if (n === 1) return src;
      this.sendBlob(seq, Kind.Broadcast, r, src);
      return src;
    }
    const forward = (r + 1) % n !== root;
    return this.receiveBlob(seq, Kind.Broadcast, root, 0, forward, dest);
  }

  /** Ring all-gather of per-rank byte blobs (any sizes); an all-gather of empty blobs is a barrier. */
  allGather(seq: number, mine: Uint8Array, dest: (origin: number, total: number) => Uint8Array): Promise<Uint8Array[]> {
    try {
      this.begin('allGather', seq);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.tracked(this.gatherBody(seq, Kind.Gather, mine, dest));
  }

  private async gatherBody(
    seq: number,
    kind: Kind,
    mine: Uint8Array,
    dest: (origin: number, total: number) => Uint8Array,
  ): Promise<Uint8Array[]> {
    const n = this.size;
    const r = this.rank;
    const out: Uint8Array[] = new Array<Uint8Array>(n);
    out[r] = mine;
    if (n === 1) return out;
    this.sendBlob(seq, kind, r, mine);
    for (let s = 0; s < n - 1; s++) {
      const origin = (r - s - 1 + n) % n;
      out[origin] = await this.receiveBlob(seq, kind, origin, 0, s < n - 2, (total) => dest(origin, total));
    }
    return out;
  }

  private sendBlob(seq: number, kind: Kind, origin: number, src: Uint8Array): void {
    const total = src.length;
    const segs = Math.max(1, Math.ceil(total / this.segBytes));
    for (let k = 0; k < segs; k++) {
      const o = k * this.segBytes;
      const e = Math.min(total, o + this.segBytes);
      // A copy: the caller may reuse `src` as soon as this collective returns.
      const payload = Buffer.allocUnsafeSlow(e - o);
      payload.set(src.subarray(o, e));
      this.send({ session: this.session, seq, kind, step: 0, index: k, origin, total, offset: o }, payload);
    }
  }

  private async receiveBlob(
    seq: number,
    kind: Kind,
    origin: number,
    step: number,
    forward: boolean,
    dest: (total: number) => Uint8Array,
  ): Promise<Uint8Array> {
    let out: Uint8Array | undefined;
    let got = 0;
    let k = 0;
    do {
      const m = await this.next();
      this.expect(m, seq, kind, step, k);
      if (m.h.origin !== origin || m.h.offset !== got) {
        const err = new CommError(
          'MISMATCH',
          `${this.current}: expected data of rank ${origin} at offset ${got}, got rank ${m.h.origin} at ${m.h.offset}; every rank must call the same collectives with the same root`,
        );
        this.fail(err);
        throw err;
      }
      if (!out) {
        out = dest(m.h.total);
        if (out.length !== m.h.total) this.sizeMismatch(this.current, m.h.total, out.length);
      }
      if (got + m.payload.length > out.length) this.sizeMismatch(this.current, got + m.payload.length, out.length);
      if (forward) this.send(m.h, m.payload);
      out.set(m.payload, got);
      got += m.payload.length;
      k++;
    } while (got < out.length);
    return out;
  }
}
