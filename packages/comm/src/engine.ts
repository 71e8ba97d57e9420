// The engine: owns every socket of one rank and runs in a worker thread, so it keeps
// heartbeating and moving data while the caller's thread computes or blocks in
// allReduceSync. Both call forms (async and sync) arrive here as the same Command.
//
// Sockets:
//   control   ZeroMQ DEALER -> rank 0's ROUTER (rendezvous and store)
//   server    ZeroMQ ROUTER at MASTER_ADDR:MASTER_PORT, rank 0 only (RendezvousServer)
//   pull      ring input, bound on an OS-chosen tcp port (and an ipc:// path)
//   push      ring output, connected to rank+1 over ipc:// when it shares our host, else tcp
// When the native addon is built, pull and push live in its C thread instead (native-ring.ts).
//   liveness  node:net link to rank 0 with heartbeats (liveness.ts)
// No ZeroMQ socket monitors are used: their callbacks can fire while a worker thread is torn
// down and abort the process; the liveness link covers what they would tell us.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Dealer, Pull, Push, Router } from 'zeromq';
import { CommError, serializeError, type SerializedError } from './errors.js';
import { LivenessClient, LivenessServer, type LivenessEvent } from './liveness.js';
import { chooseAdvertiseAddress, hostIdentity, isLocalAddress, resolveIPv4 } from './net.js';
import type { ResolvedOptions } from './options.js';
import {
  SYNC_LEN,
  SYNC_MSG_OFFSET,
  SYNC_STATE,
  SYNC_STATUS,
  type Command,
  type CommandResult,
  type EngineEvent,
  type Region,
  type StartInfo,
} from './protocol.js';
import { NativeRing } from './native-ring.js';
import { RendezvousServer } from './rendezvous-server.js';
import { Ring, type Reducer } from './ring.js';
import { SimdReducer, type WasmMemory } from './simd.js';
import {
  PROTOCOL,
  PROTOCOL_VERSION,
  decodeControl,
  encodeControl,
  type ClientMessage,
  type PeerInfo,
  type ServerMessage,
  type StoreRequest,
} from './wire.js';

const MAX_MESSAGE = 256 * 1024 * 1024;

/** A shared buffer of the caller, as the engine knows it (see Region). */
interface KnownBuffer {
  sab: SharedArrayBuffer;
  memory?: WasmMemory;
  memoryDataBytes?: number;
  reducer?: SimdReducer;
}

/** ipc socket files of processes that no longer exist (killed ranks cannot clean up). */
function removeStaleSockets(): void {
  try {
    for (const name of fs.readdirSync(os.tmpdir())) {
      const m = /^yolo-comm-(\d+)-[0-9a-f]+\.sock$/.exec(name);
      if (!m) continue;
      try {
        process.kill(Number(m[1]), 0);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ESRCH') fs.rmSync(path.join(os.tmpdir(), name), { force: true });
      }
    }
  } catch {
    /* best effort */
  }
}

class Deferred<T> {
  resolve!: (v: T) => void;
  reject!: (e: Error) => void;
  readonly promise = new Promise<T>((res, rej) => {
    this.resolve = res;
    this.reject = rej;
  });
}

/** Where this rank's ring input listens: a tcp endpoint ('' in a world of one) and maybe an ipc one. */
interface RingInput {
  tcp: string;
  ipc: string | null;
}

interface PeersAnswer {
  session: number;
  peers: PeerInfo[];
  liveness: { host: string; port: number; key: string };
}

export class Engine {
  private dealer: Dealer | null = null;
  private router: Router | null = null;
  private server: RendezvousServer | null = null;
  private livenessServer: LivenessServer | null = null;
  private livenessClient: LivenessClient | null = null;
  private pull: Pull | null = null;
  private push: Push | null = null;
  /** The ring's sockets in the native addon (null: zeromq.js's pull and push above). */
  private native: NativeRing | null = null;
  private ring: Ring | null = null;
  private failure: CommError | null = null;
  private destroyed = false;
  private running = false;
  private queue: Command[] = [];
  private nextStoreId = 1;
  private readonly storeWaiters = new Map<number, Deferred<{ value?: Uint8Array; num?: number }>>();
  private readonly peersD = new Deferred<PeersAnswer>();
  private readonly goD = new Deferred<void>();
  private started = false;
  private ipcFile: string | null = null;
  private closedNow = false;
  /** Completion words of the caller by slot id (see SyncSlot). */
  private readonly syncSlots = new Map<number, SharedArrayBuffer>();
  /** The caller's shared buffers by region id (dropped on 'forget'). */
  private readonly buffers = new Map<number, KnownBuffer>();
  /** Resolves once destroy() has closed everything. */
  readonly whenDestroyed = new Deferred<void>();

  constructor(
    private readonly o: ResolvedOptions,
    private readonly post: (e: EngineEvent) => void,
  ) {
    // The init promises may reject before anyone awaits them.
    this.peersD.promise.catch(() => undefined);
    this.goD.promise.catch(() => undefined);
  }

  private log(line: string): void {
    this.post({ t: 'log', line: `[comm rank ${this.o.rank}] ${line}` });
  }

  // ---------------- start-up and rendezvous ----------------

  async start(): Promise<StartInfo> {
    const o = this.o;
    const timer = setTimeout(
      () =>
        this.fail(
          new CommError(
            'RENDEZVOUS',
            `rendezvous timed out after ${o.rendezvousTimeoutMs} ms: not every rank of WORLD_SIZE=${o.worldSize} reached rank 0 at ${o.masterAddr}:${o.masterPort} (see YOLO_COMM_TIMEOUT_MS)`,
          ),
        ),
      o.rendezvousTimeoutMs,
    );
    try {
      return await Promise.race([this.rendezvous(), this.goD.promise.then(() => new Promise<never>(() => undefined))]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Start-up in order: bind the ring input, rank 0 serves the rendezvous, register with it,
   * wait for everyone's addresses, connect the ring; then wait for rank 0's go.
   */
  private async rendezvous(): Promise<StartInfo> {
    const o = this.o;
    const single = o.worldSize === 1;
    const choice = single
      ? { address: '127.0.0.1', ifname: 'lo', why: 'world of one' }
      : await chooseAdvertiseAddress(o.masterAddr, o.masterPort, o.socketIfname);
    const input = single ? { tcp: '', ipc: null } : await this.bindRingInput(choice.address);
    const masterEndpoint = o.rank === 0 ? await this.serveRendezvous(single) : `tcp://${o.masterAddr}:${o.masterPort}`;
    this.log(
      single
        ? 'world of one: no ring sockets'
        : `interface ${choice.ifname} ${choice.address} (${choice.why}); ring input ${input.tcp}${input.ipc ? ` and ${input.ipc}` : ''}; rendezvous at ${o.masterAddr}:${o.masterPort}`,
    );
    this.register(masterEndpoint, input);
    const answer = await this.peersD.promise;
    const transport = single ? 'none' : await this.connectRing(answer);
    this.sendControl({ t: 'ready' });
    await this.goD.promise;
    this.started = true;
    const nativePlane = this.native?.id ?? null;
    return {
      rank: o.rank,
      worldSize: o.worldSize,
      address: choice.address,
      ifname: choice.ifname,
      transport,
      nativePlane,
    };
  }

  /** The ring input (pull): a tcp port the OS picks on `address`, plus an ipc:// path unless --transport tcp. */
  private async bindRingInput(address: string): Promise<RingInput> {
    const o = this.o;
    this.native = NativeRing.create(o, MAX_MESSAGE);
    const native = this.native;
    const bind = native ? (endpoint: string) => Promise.resolve(native.bind(endpoint)) : this.zeromqPull();
    const tcp = await bind(`tcp://${address}:*`);
    if (o.transport === 'tcp') return { tcp, ipc: null };
    removeStaleSockets();
    const file = path.join(os.tmpdir(), `yolo-comm-${process.pid}-${crypto.randomBytes(4).toString('hex')}.sock`);
    try {
      await bind(`ipc://${file}`);
      this.ipcFile = file;
      return { tcp, ipc: `ipc://${file}` };
    } catch (e) {
      // 'auto' falls back to tcp alone; only an explicit ipc request fails.
      if (o.transport === 'ipc') throw new CommError('INVALID', `cannot bind ipc://${file}: ${(e as Error).message}`);
      return { tcp, ipc: null };
    }
  }

  /** The ring input as a zeromq.js Pull; returns its bind function (resolves to the endpoint bound). */
  private zeromqPull(): (endpoint: string) => Promise<string> {
    const o = this.o;
    const pull = new Pull({
      receiveHighWaterMark: o.highWaterMark,
      maxMessageSize: MAX_MESSAGE,
      linger: 0,
      ...(o.socketBufferBytes ? { receiveBufferSize: o.socketBufferBytes } : {}),
    });
    this.pull = pull;
    return async (endpoint) => {
      await pull.bind(endpoint);
      return pull.lastEndpoint!;
    };
  }

  /** Rank 0: the liveness server and the rendezvous ROUTER; returns where this rank reaches it. */
  private async serveRendezvous(single: boolean): Promise<string> {
    const o = this.o;
    const masterIp = single ? '127.0.0.1' : await resolveIPv4(o.masterAddr);
    const bindHost = isLocalAddress(masterIp) ? masterIp : '*';
    this.livenessServer = new LivenessServer(o.worldSize, o.heartbeatIntervalMs, o.heartbeatTimeoutMs, (e) =>
      this.onLiveness(e),
    );
    const livePort = await this.livenessServer.listen(bindHost);
    this.router = new Router({ maxMessageSize: 16 * 1024 * 1024, linger: 0 });
    try {
      await this.router.bind(`tcp://${bindHost}:${single ? '*' : o.masterPort}`);
    } catch (e) {
      throw new CommError(
        'RENDEZVOUS',
        `rank 0 cannot listen on ${bindHost}:${o.masterPort} (MASTER_ADDR:MASTER_PORT): ${(e as Error).message}; pick a free MASTER_PORT`,
      );
    }
    const liveHost = bindHost === '*' ? masterIp : bindHost;
    this.server = new RendezvousServer(
      this.router,
      {
        token: o.token,
        worldSize: o.worldSize,
        digest: o.configDigest,
        liveness: { host: liveHost, port: livePort, key: this.livenessServer.key },
      },
      (l) => this.log(l),
    );
    return this.router.lastEndpoint!.replace('tcp://0.0.0.0:', 'tcp://127.0.0.1:');
  }

  /** Connects the control socket to rank 0 and registers this rank (its ring input) there. */
  private register(masterEndpoint: string, input: RingInput): void {
    const o = this.o;
    this.dealer = new Dealer({ linger: 0, maxMessageSize: 16 * 1024 * 1024 });
    this.dealer.connect(masterEndpoint);
    void this.controlLoop();
    this.sendControl({
      t: 'register',
      reg: {
        proto: PROTOCOL,
        version: PROTOCOL_VERSION,
        token: o.token,
        rank: o.rank,
        worldSize: o.worldSize,
        digest: o.configDigest,
        host: os.hostname(),
        hostId: hostIdentity(),
        pid: process.pid,
        tcp: input.tcp,
        ipc: input.ipc,
      },
    });
  }

  /** Every rank but 0 links to rank 0's liveness server; then the ring output to rank+1, and the handshake. */
  private async connectRing({ session, peers, liveness }: PeersAnswer): Promise<'tcp' | 'ipc'> {
    const o = this.o;
    if (o.rank !== 0) {
      this.livenessClient = new LivenessClient(o.rank, o.heartbeatIntervalMs, o.heartbeatTimeoutMs, (e) =>
        this.onLiveness(e),
      );
      // Rank 0 advertises the address it bound; reach it the way we reach MASTER_ADDR.
      const host = liveness.host === '0.0.0.0' ? o.masterAddr : liveness.host;
      await this.livenessClient.connect(host, liveness.port, liveness.key);
    }
    const next = peers[(o.rank + 1) % o.worldSize]!;
    const sameHost = next.hostId === hostIdentity() && next.ipc !== null;
    const transport = o.transport === 'tcp' || !sameHost ? 'tcp' : 'ipc';
    const endpoint = transport === 'ipc' ? next.ipc! : next.tcp;
    if (this.native) {
      // The C thread exchanges the hellos itself (Ring.handshake's messages).
      this.native.connect(endpoint);
      this.ring = new Ring(o.rank, o.worldSize, session, o, this.native, this.native);
      await this.native.start(session, (e) => this.fail(e));
      return transport;
    }
    this.push = new Push({
      sendHighWaterMark: o.highWaterMark,
      linger: 0,
      ...(o.socketBufferBytes ? { sendBufferSize: o.socketBufferBytes } : {}),
    });
    this.push.connect(endpoint);
    this.ring = new Ring(o.rank, o.worldSize, session, o, this.pull!, this.push);
    await this.ring.handshake();
    return transport;
  }

  private sendControl(m: ClientMessage): void {
    const d = this.dealer;
    if (!d || d.closed) return;
    d.send(encodeControl(m)).catch(() => undefined);
  }

  private async controlLoop(): Promise<void> {
    const d = this.dealer!;
    while (!d.closed) {
      let frames: Buffer[];
      try {
        frames = await d.receive();
      } catch {
        return;
      }
      const m = decodeControl(frames[0]!) as ServerMessage | undefined;
      if (!m || typeof m !== 'object') continue;
      switch (m.t) {
        case 'refused':
          this.fail(new CommError('RENDEZVOUS', m.reason, this.o.rank));
          break;
        case 'abort':
          this.fail(new CommError('RENDEZVOUS', `rendezvous aborted by rank 0: ${m.reason}`, m.rank));
          break;
        case 'peers':
          this.peersD.resolve({ session: m.session, peers: m.peers, liveness: m.liveness });
          break;
        case 'go':
          this.goD.resolve();
          break;
        case 'store': {
          const w = this.storeWaiters.get(m.id);
          this.storeWaiters.delete(m.id);
          if (m.error) w?.reject(new CommError('INVALID', m.error));
          else w?.resolve({ value: m.value, num: m.num });
          break;
        }
      }
    }
  }

  private onLiveness(e: LivenessEvent): void {
    if (this.destroyed) return;
    if (e.t === 'dead') this.fail(new CommError('PEER_DEAD', `rank ${e.rank} is dead: ${e.reason}`, e.rank));
    else if (this.ring) {
      this.ring.peerLeft(e.rank, e.seq);
      this.native?.peerLeft(e.rank, e.seq);
    } else this.fail(new CommError('PEER_DEAD', `rank ${e.rank} left the process group during start-up`, e.rank));
  }

  internalError(e: unknown): void {
    const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
    this.log(`internal error: ${msg}`);
    this.fail(
      new CommError('INVALID', `internal error in the comm engine of rank ${this.o.rank}: ${msg}`, this.o.rank),
    );
  }

  /** The group is unusable from now on: reject what is pending and everything after. */
  private fail(err: CommError): void {
    if (this.failure || this.destroyed) return;
    this.failure = err;
    this.ring?.fail(err);
    this.native?.fail(err);
    this.peersD.reject(err);
    this.goD.reject(err);
    if (!this.started || err.peerRank === 0) {
      // The store lives on rank 0: its requests only fail with rank 0.
      for (const w of this.storeWaiters.values()) w.reject(err);
      this.storeWaiters.clear();
    }
    if (this.started) this.post({ t: 'failed', error: serializeError(err) });
  }

  // ---------------- commands ----------------

  submit(cmd: Command): void {
    if (cmd.sync?.sab) this.syncSlots.set(cmd.sync.id, cmd.sync.sab);
    if (cmd.op === 'forget') {
      this.buffers.delete(cmd.buffer);
      return;
    }
    if (cmd.op === 'close-now') {
      this.closeNow();
      this.reply(cmd, undefined);
      return;
    }
    // Learn every buffer a command carries at once, whatever happens to the command: the
    // caller sends each buffer only the first time.
    for (const r of 'region' in cmd ? [cmd.region] : 'input' in cmd ? [cmd.input, cmd.output] : [])
      if (r.sab) this.known(r);
    if (cmd.op === 'store') {
      void this.execute(cmd); // the control plane does not wait behind collectives
      return;
    }
    this.queue.push(cmd);
    if (!this.running) void this.runQueue();
  }

  private async runQueue(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) await this.execute(this.queue.shift()!);
    this.running = false;
  }

  private async execute(cmd: Command): Promise<void> {
    let result: CommandResult;
    try {
      result = await this.withTimeout(cmd, () => this.run(cmd));
    } catch (e) {
      this.reply(cmd, undefined, serializeError(e));
      return;
    } finally {
      // The native plane waits for the end of each TS collective before it runs the next one.
      if ('seq' in cmd) this.native?.endJs(cmd.seq);
    }
    this.reply(cmd, result);
  }

  private async withTimeout<T>(cmd: Command, fn: () => Promise<T>): Promise<T> {
    const ms = this.o.timeoutMs;
    if (ms === undefined || cmd.op === 'destroy' || cmd.op === 'store') return fn();
    const t = setTimeout(
      () =>
        this.fail(
          new CommError(
            'TIMEOUT',
            `${cmd.op} did not complete within timeoutMs=${ms}; the process group is unusable now`,
          ),
        ),
      ms,
    );
    try {
      return await fn();
    } finally {
      clearTimeout(t);
    }
  }

  private reply(cmd: Command, result: CommandResult, error?: SerializedError): void {
    const slot = cmd.sync && this.syncSlots.get(cmd.sync.id);
    if (slot) {
      const ctrl = new Int32Array(slot, 0, 4);
      if (error) {
        const bytes = Buffer.from(JSON.stringify(error));
        const room = new Uint8Array(slot, SYNC_MSG_OFFSET);
        const n = Math.min(bytes.length, room.length);
        room.set(bytes.subarray(0, n));
        Atomics.store(ctrl, SYNC_LEN, n);
        Atomics.store(ctrl, SYNC_STATUS, 1);
      } else Atomics.store(ctrl, SYNC_STATUS, 0);
      Atomics.store(ctrl, SYNC_STATE, 1);
      Atomics.notify(ctrl, SYNC_STATE);
      return;
    }
    this.post({ t: 'done', id: cmd.id, result, error });
  }

  private run(cmd: Command): Promise<CommandResult> {
    if (cmd.op === 'destroy') return this.destroy().then(() => undefined);
    if (this.destroyed) return Promise.reject(new CommError('DESTROYED', 'the process group was destroyed'));
    if (cmd.op === 'store') return this.storeRequest(cmd.req);
    if (this.failure) return Promise.reject(this.failure);
    const ring = this.ring;
    switch (cmd.op) {
      case 'allReduce':
        if (!ring) return Promise.resolve(undefined); // world of one: sum and mean are the identity
        return ring
          .allReduce(cmd.seq, this.f32(cmd.region), cmd.mean, this.reducerFor(cmd.region), cmd.compression)
          .then(() => undefined);
      case 'broadcast': {
        const view = this.u8(cmd.region);
        if (!ring) return Promise.resolve(undefined);
        return ring.broadcast(cmd.seq, cmd.root, view, () => view).then(() => undefined);
      }
      case 'broadcastBytes':
        if (!ring) return Promise.resolve(cmd.bytes ?? new Uint8Array(0));
        return ring.broadcast(cmd.seq, cmd.root, cmd.bytes, (total) => new Uint8Array(total));
      case 'allGather': {
        const input = this.u8(cmd.input);
        const out = this.u8(cmd.output);
        const B = input.length;
        out.set(input, this.o.rank * B);
        if (!ring) return Promise.resolve(undefined);
        // A rank with another length is drained into scratch (the ring stays in step) and reported.
        let odd: { origin: number; total: number } | undefined;
        return ring
          .allGather(cmd.seq, input, (origin, total) => {
            if (total === B) return out.subarray(origin * B, (origin + 1) * B);
            odd ??= { origin, total };
            return new Uint8Array(total);
          })
          .then(() => {
            if (odd)
              throw new CommError(
                'MISMATCH',
                `allGather: rank ${odd.origin} passed ${odd.total / 4} elements, rank ${this.o.rank} passed ${B / 4}; every rank must pass the same length`,
                odd.origin,
              );
            return undefined;
          });
      }
      case 'allGatherBytes':
        if (!ring) return Promise.resolve([cmd.bytes]);
        return ring.allGather(cmd.seq, cmd.bytes, (_o, total) => new Uint8Array(total));
      case 'forget': // handled in submit()
      case 'close-now':
        return Promise.resolve(undefined);
      case 'barrier':
        if (!ring) return Promise.resolve(undefined);
        return ring.allGather(cmd.seq, new Uint8Array(0), (_o, total) => new Uint8Array(total)).then(() => undefined);
    }
  }

  private known(r: Region): KnownBuffer {
    let k = this.buffers.get(r.id);
    if (!k) {
      if (!r.sab) throw new CommError('INVALID', `internal: region ${r.id} was never sent to the engine`);
      k = { sab: r.sab, memory: r.memory, memoryDataBytes: r.memoryDataBytes };
      this.buffers.set(r.id, k);
    }
    return k;
  }

  private f32(r: Region): Float32Array {
    return new Float32Array(this.known(r).sab, r.byteOffset, r.byteLength >> 2);
  }

  private u8(r: Region): Uint8Array {
    return new Uint8Array(this.known(r).sab, r.byteOffset, r.byteLength);
  }

  private reducerFor(r: Region): Reducer | undefined {
    const k = this.known(r);
    if (!k.memory || k.memoryDataBytes === undefined) return undefined;
    k.reducer ??= new SimdReducer(k.memory, k.memoryDataBytes);
    return k.reducer;
  }

  private storeRequest(req: StoreRequest): Promise<{ value?: Uint8Array; num?: number }> {
    const id = this.nextStoreId++;
    const d = new Deferred<{ value?: Uint8Array; num?: number }>();
    this.storeWaiters.set(id, d);
    this.sendControl({ t: 'store', id, req });
    return d.promise;
  }

  // ---------------- shutdown ----------------

  /** The number of the last collective this rank started, on either plane. */
  private collectives(): number {
    return Math.max(this.ring?.collectives ?? 0, this.native?.collectives ?? 0);
  }

  /**
   * The caller's process is exiting without destroy() (or before it finished). Close every
   * socket synchronously: a ZeroMQ socket still open when the thread is torn down makes its
   * finaliser throw, which aborts the whole process. Peers are told we left (or see us die).
   */
  closeNow(): void {
    if (this.closedNow) return;
    this.closedNow = true;
    const healthy = this.failure === null && this.started && !this.destroyed;
    this.destroyed = true;
    const seq = this.collectives();
    if (healthy) {
      void this.livenessServer?.leave(seq);
      void this.livenessClient?.leave(seq);
    }
    this.ring?.close();
    this.server?.close();
    for (const w of this.storeWaiters.values()) w.reject(new CommError('DESTROYED', 'the process is exiting'));
    this.storeWaiters.clear();
    this.native?.closeSync(healthy ? 1000 : 0);
    for (const s of [this.push, this.pull, this.dealer, this.router]) {
      if (!s || s.closed) continue;
      // A short linger lets the last ring segments out; the thread's teardown waits for it.
      s.linger = healthy && s === this.push ? 1000 : 0;
      s.close();
    }
    if (this.ipcFile) fs.rmSync(this.ipcFile, { force: true });
    this.whenDestroyed.resolve();
  }

  /** Closes every socket and timer; afterwards the thread has nothing left to run. */
  async destroy(): Promise<void> {
    if (this.destroyed) return this.whenDestroyed.promise;
    if (this.server?.aborted) await this.server.lingerAfterAbort(5000);
    const healthy = this.failure === null && this.started;
    // Our last ring messages must reach the next rank: hand them all to zeromq, and give the
    // push socket a linger so zeromq transmits them after close.
    if (this.ring && healthy) await this.ring.drain(5000);
    this.destroyed = true;
    const seq = this.collectives();
    if (healthy) {
      if (this.livenessServer) await this.livenessServer.leave(seq);
      if (this.livenessClient) await this.livenessClient.leave(seq);
    }
    this.livenessClient?.close();
    this.livenessServer?.close();
    this.ring?.close();
    this.server?.close();
    for (const w of this.storeWaiters.values()) w.reject(new CommError('DESTROYED', 'the process group was destroyed'));
    this.storeWaiters.clear();
    if (this.push && !this.push.closed) {
      this.push.linger = healthy ? 10_000 : 0;
      this.push.close();
    }
    await this.native?.close(healthy ? 10_000 : 0);
    for (const s of [this.pull, this.dealer, this.router]) if (s && !s.closed) s.close();
    if (this.ipcFile) fs.rmSync(this.ipcFile, { force: true });
    this.closedNow = true;
    this.whenDestroyed.resolve();
  }
}
