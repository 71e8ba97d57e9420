// The engine: owns every socket of one rank and runs in a worker thread, so it keeps
// heartbeating and moving data while the caller's thread computes or blocks in
// allReduceSync. Both call forms (async and sync) arrive here as the same Command.
//
// Sockets:
//   control  DEALER -> rank 0's ROUTER (rendezvous, store, heartbeats, death notices)
//   server   ROUTER on rank 0 only (RendezvousServer)
//   pull     ring input, bound on an OS-chosen tcp port (and an ipc:// path)
//   push     ring output, connected to rank+1 over ipc:// when it shares our host, else tcp
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Dealer, Pull, Push, Router } from 'zeromq';
import { CommError, serializeError, type SerializedError } from './errors.js';
import { chooseAdvertiseAddress, hostIdentity, isLocalAddress, resolveIPv4 } from './net.js';
import type { ResolvedOptions } from './options.js';
import { SYNC_LEN, SYNC_MSG_OFFSET, SYNC_STATE, SYNC_STATUS, type Command, type CommandResult, type EngineEvent, type Region, type StartInfo } from './protocol.js';
import { RendezvousServer } from './rendezvous-server.js';
import { Ring } from './ring.js';
import { PROTOCOL, PROTOCOL_VERSION, decodeControl, encodeControl, type ClientMessage, type PeerInfo, type ServerMessage, type StoreRequest } from './wire.js';

const MAX_MESSAGE = 256 * 1024 * 1024;

function f32(r: Region): Float32Array {
  return new Float32Array(r.sab, r.byteOffset, r.byteLength >> 2);
}
function u8(r: Region): Uint8Array {
  return new Uint8Array(r.sab, r.byteOffset, r.byteLength);
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

/**
 * Socket event listeners run inside a native callback: an exception there aborts the whole
 * process (std::terminate), so none may escape.
 */
function guard(fn: () => void): () => void {
  return () => {
    try {
      fn();
    } catch (e) {
      process.stderr.write(`[comm] internal error in a socket event handler: ${(e as Error).stack ?? String(e)}\n`);
    }
  };
}

class Deferred<T> {
  resolve!: (v: T) => void;
  reject!: (e: Error) => void;
  readonly promise = new Promise<T>((res, rej) => {
    this.resolve = res;
    this.reject = rej;
  });
}

export class Engine {
  private dealer: Dealer | null = null;
  private router: Router | null = null;
  private server: RendezvousServer | null = null;
  private pull: Pull | null = null;
  private push: Push | null = null;
  private ring: Ring | null = null;
  private failure: CommError | null = null;
  private destroyed = false;
  private running = false;
  private queue: Command[] = [];
  private hbTimer: NodeJS.Timeout | null = null;
  private lastHeard = 0; // 0: nothing heard from rank 0 yet
  private nextStoreId = 1;
  private readonly storeWaiters = new Map<number, Deferred<{ value?: Uint8Array; num?: number }>>();
  private readonly peersD = new Deferred<{ session: number; peers: PeerInfo[] }>();
  private readonly goD = new Deferred<void>();
  private started = false;
  private ipcFile: string | null = null;
  /** Ranks that called destroy(): collectives started from now on fail, pending ones finish. */
  private readonly left = new Set<number>();
  private byeAck: Deferred<void> | null = null;

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
      () => this.fail(new CommError('RENDEZVOUS', `rendezvous timed out after ${o.rendezvousTimeoutMs} ms: not every rank of WORLD_SIZE=${o.worldSize} reached rank 0 at ${o.masterAddr}:${o.masterPort} (see YOLO_COMM_TIMEOUT_MS)`)),
      o.rendezvousTimeoutMs,
    );
    try {
      return await this.rendezvous();
    } finally {
      clearTimeout(timer);
    }
  }

  private async rendezvous(): Promise<StartInfo> {
    const o = this.o;
    const single = o.worldSize === 1;
    const choice = single ? { address: '127.0.0.1', ifname: 'lo', why: 'world of one' } : await chooseAdvertiseAddress(o.masterAddr, o.masterPort, o.socketIfname);

    let tcp = '';
    let ipc: string | null = null;
    if (!single) {
      this.pull = new Pull({ receiveHighWaterMark: o.highWaterMark, maxMessageSize: MAX_MESSAGE, linger: 0 });
      await this.pull.bind(`tcp://${choice.address}:*`);
      tcp = this.pull.lastEndpoint!;
      if (o.transport !== 'tcp') {
        removeStaleSockets();
        const file = path.join(os.tmpdir(), `yolo-comm-${process.pid}-${crypto.randomBytes(4).toString('hex')}.sock`);
        try {
          await this.pull.bind(`ipc://${file}`);
          ipc = `ipc://${file}`;
          this.ipcFile = file;
        } catch (e) {
          if (o.transport === 'ipc') throw new CommError('INVALID', `cannot bind ipc://${file}: ${(e as Error).message}`);
        }
      }
    }

    let masterEndpoint = `tcp://${o.masterAddr}:${o.masterPort}`;
    if (o.rank === 0) {
      this.router = new Router({ maxMessageSize: 16 * 1024 * 1024, linger: 500 });
      const masterIp = single ? '127.0.0.1' : await resolveIPv4(o.masterAddr);
      const bindHost = isLocalAddress(masterIp) ? masterIp : '*';
      try {
        await this.router.bind(`tcp://${bindHost}:${single ? '*' : o.masterPort}`);
      } catch (e) {
        throw new CommError('RENDEZVOUS', `rank 0 cannot listen on ${bindHost}:${o.masterPort} (MASTER_ADDR:MASTER_PORT): ${(e as Error).message}; pick a free MASTER_PORT`);
      }
      masterEndpoint = this.router.lastEndpoint!.replace('tcp://0.0.0.0:', 'tcp://127.0.0.1:');
      this.server = new RendezvousServer(this.router, { token: o.token, worldSize: o.worldSize, digest: o.configDigest, heartbeatTimeoutMs: o.heartbeatTimeoutMs }, (l) => this.log(l));
    }

    this.log(
      single
        ? 'world of one: no ring sockets'
        : `interface ${choice.ifname} ${choice.address} (${choice.why}); ring input ${tcp}${ipc ? ` and ${ipc}` : ''}; rendezvous at ${o.masterAddr}:${o.masterPort}`,
    );

    this.dealer = new Dealer({ linger: 500, maxMessageSize: 16 * 1024 * 1024 });
    this.dealer.events.on('disconnect', guard(() => {
      if (this.lastHeard !== 0 && !this.destroyed && !this.left.has(0)) this.fail(new CommError('PEER_DEAD', `lost the connection to rank 0 at ${o.masterAddr}:${o.masterPort} (rank 0 exited or crashed)`, 0));
    }));
    this.dealer.connect(masterEndpoint);
    void this.controlLoop();
    this.sendControl({
      t: 'register',
      reg: { proto: PROTOCOL, version: PROTOCOL_VERSION, token: o.token, rank: o.rank, worldSize: o.worldSize, digest: o.configDigest, host: os.hostname(), hostId: hostIdentity(), pid: process.pid, tcp, ipc },
    });
    this.hbTimer = setInterval(() => this.heartbeat(), o.heartbeatIntervalMs);

    const { session, peers } = await this.peersD.promise;
    let transport: StartInfo['transport'] = 'none';
    if (!single) {
      const next = peers[(o.rank + 1) % o.worldSize]!;
      const sameHost = next.hostId === hostIdentity() && next.ipc !== null;
      transport = o.transport === 'tcp' || !sameHost ? 'tcp' : 'ipc';
      const endpoint = transport === 'ipc' ? next.ipc! : next.tcp;
      this.push = new Push({ sendHighWaterMark: o.highWaterMark, linger: 0 });
      const connected = new Promise<void>((resolve) => this.push!.events.on('connect', guard(() => resolve())));
      this.push.events.on('disconnect', guard(() => this.peerLost(next.rank, `rank ${next.rank} (pid ${next.pid} on ${next.host}) closed its ring connection: the process exited or crashed`)));
      this.push.connect(endpoint);
      await Promise.race([connected, this.goD.promise]);
      this.ring = new Ring(o.rank, o.worldSize, session, o.segmentBytes, this.pull!, this.push);
    }
    this.sendControl({ t: 'ready' });
    await this.goD.promise;
    this.started = true;
    return { rank: o.rank, worldSize: o.worldSize, address: choice.address, ifname: choice.ifname, transport };
  }

  private sendControl(m: ClientMessage): void {
    const d = this.dealer;
    if (!d || d.closed) return;
    // Control messages are tiny and rare; a send that cannot be queued at once is dropped
    // rather than blocking the engine (sendTimeout 0 would throw, we catch).
    d.send(encodeControl(m)).catch(() => undefined);
  }

  private heartbeat(): void {
    this.sendControl({ t: 'hb' });
    const silent = Date.now() - this.lastHeard;
    if (this.lastHeard !== 0 && silent > this.o.heartbeatTimeoutMs && !this.destroyed && !this.left.has(0)) {
      this.fail(new CommError('PEER_DEAD', `rank 0 sent no heartbeat for ${silent} ms (it hung, died, or the network to ${this.o.masterAddr} is down)`, 0));
    }
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
      this.lastHeard = Date.now();
      switch (m.t) {
        case 'refused':
          this.fail(new CommError('RENDEZVOUS', m.reason, this.o.rank));
          break;
        case 'abort':
          this.fail(new CommError('RENDEZVOUS', `rendezvous aborted by rank 0: ${m.reason}`, m.rank));
          break;
        case 'peers':
          this.peersD.resolve({ session: m.session, peers: m.peers });
          break;
        case 'go':
          this.goD.resolve();
          break;
        case 'dead':
          this.fail(new CommError('PEER_DEAD', `rank ${m.rank} is dead: ${m.reason}`, m.rank));
          break;
        case 'left':
          this.left.add(m.rank);
          if (m.rank === 0) this.byeAck?.resolve(); // no one is left to acknowledge a goodbye
          break;
        case 'bye-ack':
          this.byeAck?.resolve();
          break;
        case 'store': {
          const w = this.storeWaiters.get(m.id);
          this.storeWaiters.delete(m.id);
          if (m.error) w?.reject(new CommError('INVALID', m.error));
          else w?.resolve({ value: m.value, num: m.num });
          break;
        }
        case 'hb':
          break;
      }
    }
  }

  /**
   * Our ring connection to `rank` closed. Rank 0 knows whether that rank said goodbye; it
   * answers with 'dead' (to everyone) if it did not. When rank 0 itself is the lost peer
   * there is no one to ask: its control connection drops too and we fail from there.
   */
  private peerLost(rank: number, reason: string): void {
    if (this.destroyed || this.failure || this.left.has(rank)) return;
    this.sendControl({ t: 'lost', rank, reason });
  }

  /** The group is unusable from now on: reject what is pending and everything after. */
  private fail(err: CommError): void {
    if (this.failure || this.destroyed) return;
    this.failure = err;
    this.ring?.fail(err);
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
    }
    this.reply(cmd, result);
  }

  private async withTimeout<T>(cmd: Command, fn: () => Promise<T>): Promise<T> {
    const ms = this.o.timeoutMs;
    if (ms === undefined || cmd.op === 'destroy') return fn();
    const t = setTimeout(() => this.fail(new CommError('TIMEOUT', `${cmd.op} did not complete within timeoutMs=${ms}; the process group is unusable now`)), ms);
    try {
      return await fn();
    } finally {
      clearTimeout(t);
    }
  }

  private reply(cmd: Command, result: CommandResult, error?: SerializedError): void {
    if (cmd.sync) {
      const ctrl = new Int32Array(cmd.sync, 0, 4);
      if (error) {
        const bytes = Buffer.from(JSON.stringify(error));
        const room = new Uint8Array(cmd.sync, SYNC_MSG_OFFSET);
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
    if (this.left.size > 0) {
      const k = Math.min(...this.left);
      return Promise.reject(new CommError('PEER_DEAD', `rank ${k} has left the process group (it called destroy()); no collective can run without it`, k));
    }
    const ring = this.ring;
    const n = this.o.worldSize;
    switch (cmd.op) {
      case 'allReduce':
        if (!ring) return Promise.resolve(undefined); // world of one: sum and mean are the identity
        return ring.allReduce(f32(cmd.region), cmd.mean).then(() => undefined);
      case 'broadcast': {
        const view = u8(cmd.region);
        if (!ring) return Promise.resolve(undefined);
        return ring.broadcast(cmd.root, view, () => view).then(() => undefined);
      }
      case 'broadcastBytes':
        if (!ring) return Promise.resolve(cmd.bytes ?? new Uint8Array(0));
        return ring.broadcast(cmd.root, cmd.bytes, (total) => new Uint8Array(total));
      case 'allGather': {
        const input = u8(cmd.input);
        const out = u8(cmd.output);
        const B = input.length;
        out.set(input, this.o.rank * B);
        if (!ring) return Promise.resolve(undefined);
        return ring.allGather(input, (origin, total) => (total === B ? out.subarray(origin * B, (origin + 1) * B) : new Uint8Array(total))).then(() => undefined);
      }
      case 'allGatherBytes':
        if (!ring || n === 1) return Promise.resolve([cmd.bytes]);
        return ring.allGather(cmd.bytes, (_o, total) => new Uint8Array(total));
      case 'barrier':
        if (!ring) return Promise.resolve(undefined);
        return ring.allGather(new Uint8Array(0), (_o, total) => new Uint8Array(total)).then(() => undefined);
    }
  }

  private storeRequest(req: StoreRequest): Promise<{ value?: Uint8Array; num?: number }> {
    const id = this.nextStoreId++;
    const d = new Deferred<{ value?: Uint8Array; num?: number }>();
    this.storeWaiters.set(id, d);
    this.sendControl({ t: 'store', id, req });
    return d.promise;
  }

  // ---------------- shutdown ----------------

  /** Closes every socket and timer; afterwards the thread has nothing left to run. */
  /** Resolves once destroy() has closed everything. */
  readonly whenDestroyed = new Deferred<void>();

  async destroy(): Promise<void> {
    if (this.destroyed) return this.whenDestroyed.promise;
    const healthy = this.failure === null;
    if (this.ring && healthy) await this.ring.drain(2000);
    this.destroyed = true;
    if (this.hbTimer) clearInterval(this.hbTimer);
    this.hbTimer = null;
    if (healthy && this.started) {
      if (this.server) await this.server.announceLeaving();
      else if (this.dealer && !this.dealer.closed && !this.left.has(0)) {
        // Say goodbye and wait until rank 0 has it, so that our closing ring sockets are
        // not mistaken for a crash by our neighbours.
        this.byeAck = new Deferred<void>();
        this.sendControl({ t: 'bye' });
        let t: NodeJS.Timeout | undefined;
        await Promise.race([this.byeAck.promise, new Promise((r) => (t = setTimeout(r, 1000)))]);
        clearTimeout(t);
      }
    }
    this.ring?.close();
    this.server?.close();
    for (const w of this.storeWaiters.values()) w.reject(new CommError('DESTROYED', 'the process group was destroyed'));
    this.storeWaiters.clear();
    // Socket monitors first: a monitor event delivered while the thread is being torn down
    // would run JS in a dead environment and abort the process.
    for (const s of [this.push, this.dealer]) if (s && !s.closed) s.events.close();
    for (const s of [this.push, this.pull, this.dealer, this.router]) {
      if (!s || s.closed) continue;
      // Unsent control messages to a rank 0 that is gone would hold the thread for `linger` ms.
      if (!healthy || (s === this.dealer && this.left.has(0))) s.linger = 0;
      s.close();
    }
    await new Promise((r) => setTimeout(r, 10));
    if (this.ipcFile) fs.rmSync(this.ipcFile, { force: true });
    this.whenDestroyed.resolve();
  }
}
