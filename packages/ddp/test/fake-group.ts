/**
 * An in-memory process group for unit tests: N ProcessGroup objects in one process, each used
 * by one concurrently running async "rank". The k-th collective of every rank meets the k-th
 * collective of the others. Sums run in rank order, as a deterministic ring would. The
 * blocking allReduceSync only works at world size 1 (one thread cannot block for its peers);
 * multi-rank SyncBN is tested with real processes and the real comm.
 */
import type { AllReduceOptions, BroadcastBuffer, ProcessGroup } from '@yolo-launch/comm';

interface Meeting {
  payloads: Map<number, unknown>;
  waiters: Array<{ resolve: (all: unknown[]) => void; reject: (e: Error) => void }>;
}

class Hub {
  private meetings = new Map<number, Meeting>();
  private dead: number | null = null;
  constructor(readonly worldSize: number) {}

  meet(rank: number, seq: number, payload: unknown): Promise<unknown[]> {
    if (this.dead !== null) return Promise.reject(new Error(`rank ${this.dead} died`));
    let m = this.meetings.get(seq);
    if (!m) {
      m = { payloads: new Map(), waiters: [] };
      this.meetings.set(seq, m);
    }
    m.payloads.set(rank, payload);
    const meeting = m;
    const p = new Promise<unknown[]>((resolve, reject) => meeting.waiters.push({ resolve, reject }));
    if (meeting.payloads.size === this.worldSize) {
      this.meetings.delete(seq);
      const all = Array.from({ length: this.worldSize }, (_, r) => meeting.payloads.get(r));
      for (const w of meeting.waiters) w.resolve(all);
    }
    return p;
  }

  kill(rank: number): void {
    this.dead = rank;
    for (const m of this.meetings.values()) for (const w of m.waiters) w.reject(new Error(`rank ${rank} died`));
    this.meetings.clear();
  }
}

class FakeGroup implements ProcessGroup {
  private seq = 0;
  constructor(
    private readonly hub: Hub,
    readonly rank: number,
    readonly worldSize: number,
  ) {}

  async allReduce(buf: Float32Array, options: AllReduceOptions = {}): Promise<Float32Array> {
    const all = (await this.hub.meet(this.rank, this.seq++, buf.slice())) as Float32Array[];
    reduceInto(buf, all, options);
    return buf;
  }

  allReduceSync(buf: Float32Array, options: AllReduceOptions = {}): Float32Array {
    if (this.worldSize !== 1) throw new Error('fake group: allReduceSync needs world size 1');
    this.seq++;
    reduceInto(buf, [buf.slice()], options);
    return buf;
  }

  async broadcast<T extends BroadcastBuffer>(buf: T, root: number): Promise<T> {
    const all = (await this.hub.meet(this.rank, this.seq++, buf.slice())) as T[];
    if (this.rank !== root) buf.set(all[root]! as never);
    return buf;
  }

  async allGather(buf: Float32Array): Promise<Float32Array> {
    const all = (await this.hub.meet(this.rank, this.seq++, buf.slice())) as Float32Array[];
    const out = new Float32Array(buf.length * this.worldSize);
    all.forEach((a, r) => out.set(a, r * buf.length));
    return out;
  }

  async barrier(): Promise<void> {
    await this.hub.meet(this.rank, this.seq++, null);
  }

  async broadcastObject<T>(value: T, root: number): Promise<T> {
    const all = await this.hub.meet(this.rank, this.seq++, structuredClone(value));
    return structuredClone(all[root]) as T;
  }

  async allGatherObject<T>(value: T): Promise<T[]> {
    const all = await this.hub.meet(this.rank, this.seq++, structuredClone(value));
    return all.map((v) => structuredClone(v)) as T[];
  }

  async destroy(): Promise<void> {}
}

function reduceInto(buf: Float32Array, all: Float32Array[], options: AllReduceOptions): void {
  const acc = new Float32Array(buf.length);
  for (const a of all) for (let i = 0; i < a.length; i++) acc[i] = acc[i]! + a[i]!;
  if (options.op === 'mean') for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! / all.length;
  buf.set(acc);
}

export interface FakeWorld {
  groups: ProcessGroup[];
  kill(rank: number): void;
}

export function createFakeWorld(worldSize: number): FakeWorld {
  const hub = new Hub(worldSize);
  return {
    groups: Array.from({ length: worldSize }, (_, r) => new FakeGroup(hub, r, worldSize)),
    kill: (rank) => hub.kill(rank),
  };
}
