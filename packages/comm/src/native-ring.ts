// The engine's side of the native data plane (native.ts, native/*.c). When the addon is built,
// the ring's two sockets live in a C thread instead of zeromq.js:
//
//   - float32 all-reduce and barrier run entirely in that thread, called straight from the
//     caller's thread (process-group.ts) with the plane's id: no engine hand-offs, no JS
//     buffers, the sums are added from zeromq's receive buffers into the caller's memory;
//   - every other collective (broadcast, allGather, compressed all-reduce) still runs in the
//     TS Ring on the engine thread, with this class as its RingInput/RingOutput: the C thread
//     hands it the messages of that collective (in order) and sends what it gives back.
//
// Both planes put the same messages on the wire (a native rank and a TS rank interoperate),
// and every collective carries the caller's number (`seq`), by which the C thread sorts what
// arrives: messages of a later collective wait there until the caller has reached it.
import { CommError } from './errors.js';
import { commNative, zeromqLibraryPath, type CommNative, type NativeError } from './native.js';
import type { ResolvedOptions } from './options.js';
import type { RingInput, RingOutput } from './ring.js';

/** A native error as the CommError the rest of the group raises. */
export function commErrorOf(e: NativeError): CommError {
  return new CommError(e.code, e.message, e.peerRank >= 0 ? e.peerRank : undefined);
}

export class NativeRing implements RingInput, RingOutput {
  private readonly arrived: Buffer[][] = [];
  private waiting: ((frames: Buffer[]) => void) | null = null;
  private closed = false;
  private lastCollective = 0;

  private constructor(
    private readonly addon: CommNative,
    readonly id: number,
  ) {}

  /** The plane for this rank, or null when the addon is not available (YOLO_COMM_NATIVE=0, not built). */
  static create(o: ResolvedOptions, maxMessageBytes: number): NativeRing | null {
    if (!commNative || o.worldSize === 1) return null;
    const id = commNative.create({
      rank: o.rank,
      worldSize: o.worldSize,
      segmentBytes: o.segmentBytes,
      minSegmentBytes: o.minSegmentBytes,
      smallAllReduceMaxBytes: o.smallAllReduceMaxBytes,
      highWaterMark: o.highWaterMark,
      socketBufferBytes: o.socketBufferBytes,
      maxMessageBytes,
      timeoutMs: o.timeoutMs ?? 0,
      zmqLibrary: zeromqLibraryPath(),
    });
    return new NativeRing(commNative, id);
  }

  bind(endpoint: string): string {
    return this.addon.bind(this.id, endpoint);
  }

  connect(endpoint: string): void {
    this.addon.connect(this.id, endpoint);
  }

  /** Starts the C thread with the job's session number and exchanges hellos with the neighbours. */
  start(session: number, onFailure: (e: CommError) => void): Promise<void> {
    return this.addon.start(
      this.id,
      session,
      (header, payload) => this.deliver([header, payload]),
      (e) => onFailure(commErrorOf(e)),
    );
  }

  private deliver(frames: Buffer[]): void {
    const w = this.waiting;
    if (w) {
      this.waiting = null;
      w(frames);
    } else this.arrived.push(frames);
  }

  // ---- RingInput / RingOutput of the TS Ring ----

  receive(): Promise<Buffer[]> {
    const frames = this.arrived.shift();
    if (frames) return Promise.resolve(frames);
    if (this.closed) return Promise.reject(new CommError('DESTROYED', 'the process group was destroyed'));
    return new Promise((resolve) => (this.waiting = resolve));
  }

  send(frames: Buffer[]): Promise<void> {
    this.addon.send(this.id, frames[0]!, frames[1]!);
    return Promise.resolve();
  }

  // ---- the engine's calls ----

  // (Once closed, the addon refuses the plane's id: these calls become no-ops.)

  /** The TS collective #seq has finished here: the C thread may go on to the next one. */
  endJs(seq: number): void {
    if (!this.closed) this.addon.endJs(this.id, seq);
  }

  fail(e: CommError): void {
    if (!this.closed) this.addon.fail(this.id, e.code, e.message, e.peerRank ?? -1);
  }

  peerLeft(rank: number, after: number): void {
    if (!this.closed) this.addon.peerLeft(this.id, rank, after);
  }

  /** The number of the last collective the C thread started. */
  get collectives(): number {
    if (!this.closed) this.lastCollective = this.addon.collectives(this.id);
    return this.lastCollective;
  }

  /** Flushes what is queued (up to `lingerMs`), closes the sockets and ends the thread. */
  close(lingerMs: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.lastCollective = this.collectives;
    this.closed = true;
    return this.addon.close(this.id, lingerMs);
  }

  closeSync(lingerMs: number): void {
    if (this.closed) return;
    this.lastCollective = this.collectives;
    this.closed = true;
    this.addon.closeSync(this.id, lingerMs);
  }
}
