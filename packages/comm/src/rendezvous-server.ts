// Rank 0's half of the rendezvous: a ROUTER at MASTER_ADDR:MASTER_PORT that admits ranks,
// checks that they belong to this job and agree on the configuration, hands out the peer
// table (and the liveness port and key, see liveness.ts), and serves the store.
//
// Admission rules: a message from a connection that has not registered with the right token
// is dropped (or answered with a refusal) and changes nothing. A rank with the right token
// but a different protocol version, world size or config digest, or a second claimant of a
// rank, aborts the whole job: every rank gets the same message naming the rank and the field.
import crypto from 'node:crypto';
import type { Router } from 'zeromq';
import { KeyValueStore } from './store.js';
import {
  PROTOCOL,
  PROTOCOL_VERSION,
  decodeControl,
  encodeControl,
  type ClientMessage,
  type PeerInfo,
  type Registration,
  type ServerMessage,
} from './wire.js';

export interface ServerExpectations {
  token: string;
  worldSize: number;
  digest: string;
  /** Where admitted ranks connect for liveness (see liveness.ts). */
  liveness: { host: string; port: number; key: string };
}

interface Member {
  id: Buffer; // ZeroMQ routing id
  reg: Registration;
  ready: boolean;
}

const sha = (s: string): Buffer => crypto.createHash('sha256').update(s).digest();
const who = (r: Registration): string => `rank ${r.rank} (pid ${r.pid} on ${r.host})`;

export class RendezvousServer {
  private readonly members = new Map<number, Member>();
  private readonly byId = new Map<string, number>();
  private readonly store = new KeyValueStore();
  private phase: 'collecting' | 'connecting' | 'running' | 'aborted' = 'collecting';
  private abortReason: string | undefined;
  private abortRank: number | undefined;
  /** Ranks that have been sent the abort (late registrants are told too, see lingerAfterAbort). */
  private readonly told = new Set<number>();
  private closed = false;
  private sendChain: Promise<unknown> = Promise.resolve();
  private readonly session = crypto.randomBytes(4).readUInt32LE(0);
  private readonly tokenHash: Buffer;
  private warnedGarbage = false;

  constructor(
    private readonly router: Router,
    private readonly expect: ServerExpectations,
    private readonly log: (line: string) => void,
  ) {
    this.tokenHash = sha(expect.token);
    void this.receiveLoop();
  }

  close(): void {
    this.closed = true;
  }

  get aborted(): boolean {
    return this.phase === 'aborted';
  }

  /**
   * After an abort, keep answering for a while so that ranks that register late learn why
   * instead of waiting for their rendezvous timeout: until every rank was told, or `ms`.
   */
  async lingerAfterAbort(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (this.told.size < this.expect.worldSize && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    await this.sendChain;
  }

  private async receiveLoop(): Promise<void> {
    while (!this.closed) {
      let frames: Buffer[];
      try {
        frames = await this.router.receive();
      } catch {
        return; // socket closed
      }
      if (frames.length !== 2) continue;
      const [id, body] = frames as [Buffer, Buffer];
      const msg = decodeControl(body);
      if (typeof msg !== 'object' || msg === null || typeof (msg as { t?: unknown }).t !== 'string') {
        if (!this.warnedGarbage) this.log('rendezvous: ignored an undecodable message from an unknown connection');
        this.warnedGarbage = true;
        continue;
      }
      try {
        this.dispatch(id, msg as ClientMessage);
      } catch (e) {
        this.log(`rendezvous: ignored a malformed message: ${(e as Error).message}`);
      }
    }
  }

  private send(id: Buffer, m: ServerMessage): void {
    if (this.closed) return;
    // zeromq allows one send at a time per socket: chain them.
    this.sendChain = this.sendChain.then(() => this.router.send([id, encodeControl(m)]).catch(() => undefined));
  }

  private broadcastAll(m: ServerMessage, except?: number): void {
    for (const mem of this.members.values()) if (mem.reg.rank !== except) this.send(mem.id, m);
  }

  private dispatch(id: Buffer, msg: ClientMessage): void {
    const key = id.toString('hex');
    if (msg.t === 'register') return this.register(id, msg.reg);
    const rank = this.byId.get(key);
    if (rank === undefined) return; // not admitted: ignore
    const mem = this.members.get(rank)!;
    switch (msg.t) {
      case 'ready':
        mem.ready = true;
        if (this.phase === 'connecting' && [...this.members.values()].every((m) => m.ready)) {
          this.phase = 'running';
          this.broadcastAll({ t: 'go' });
        }
        return;
      case 'store':
        this.store.handle(msg.req, (a) => this.send(id, { t: 'store', id: msg.id, ...a }));
        return;
    }
  }

  private refuse(id: Buffer, reason: string): void {
    this.send(id, { t: 'refused', reason });
  }

  private abort(reason: string, offender: Buffer, rank: number): void {
    this.log(`rendezvous aborted: ${reason}`);
    this.phase = 'aborted';
    this.abortReason = reason;
    this.abortRank = rank;
    this.broadcastAll({ t: 'abort', reason, rank });
    this.send(offender, { t: 'abort', reason, rank });
    for (const r of this.members.keys()) this.told.add(r);
    this.told.add(rank);
  }

  private register(id: Buffer, reg: Registration): void {
    if (typeof reg !== 'object' || reg === null || reg.proto !== PROTOCOL) return; // not one of ours
    const token = typeof reg.token === 'string' ? reg.token : '';
    if (!crypto.timingSafeEqual(sha(token), this.tokenHash)) {
      this.log(
        `rendezvous: refused a registration claiming rank ${reg.rank} from pid ${reg.pid} on ${reg.host}: wrong job token`,
      );
      return this.refuse(
        id,
        `rank 0 refused rank ${reg.rank} (pid ${reg.pid} on ${reg.host}): wrong job token (YOLO_LAUNCH_TOKEN differs from rank 0's)`,
      );
    }
    if (this.phase === 'aborted') {
      this.told.add(reg.rank);
      return this.send(id, { t: 'abort', reason: this.abortReason ?? 'aborted', rank: this.abortRank });
    }
    const key = id.toString('hex');
    if (this.byId.has(key)) return; // a repeat from the same connection
    if (reg.version !== PROTOCOL_VERSION)
      return this.abort(
        `${who(reg)} speaks comm protocol version ${reg.version} but rank 0 speaks ${PROTOCOL_VERSION}: run the same yolo-launch version on every node`,
        id,
        reg.rank,
      );
    if (reg.worldSize !== this.expect.worldSize)
      return this.abort(
        `${who(reg)} has WORLD_SIZE=${reg.worldSize} but rank 0 has WORLD_SIZE=${this.expect.worldSize}`,
        id,
        reg.rank,
      );
    if (!Number.isInteger(reg.rank) || reg.rank < 0 || reg.rank >= this.expect.worldSize)
      return this.abort(
        `a process registered RANK=${reg.rank}, outside 0..${this.expect.worldSize - 1} (pid ${reg.pid} on ${reg.host})`,
        id,
        reg.rank,
      );
    if (reg.digest !== this.expect.digest)
      return this.abort(
        `${who(reg)} has config digest ${JSON.stringify(reg.digest)} but rank 0 has ${JSON.stringify(this.expect.digest)}: the ranks were started with different configurations`,
        id,
        reg.rank,
      );
    const existing = this.members.get(reg.rank);
    if (existing)
      return this.abort(
        `duplicate rank ${reg.rank}: registered by pid ${existing.reg.pid} on ${existing.reg.host} and again by pid ${reg.pid} on ${reg.host}; check the RANK each process was given`,
        id,
        reg.rank,
      );
    if (this.phase !== 'collecting')
      return this.refuse(id, `rank 0 refused ${who(reg)}: the job already has all ${this.expect.worldSize} ranks`);
    this.members.set(reg.rank, { id, reg, ready: false });
    this.byId.set(key, reg.rank);
    if (this.members.size === this.expect.worldSize) {
      this.phase = 'connecting';
      const peers: PeerInfo[] = [...this.members.values()]
        .map((m) => ({
          rank: m.reg.rank,
          host: m.reg.host,
          hostId: m.reg.hostId,
          pid: m.reg.pid,
          tcp: m.reg.tcp,
          ipc: m.reg.ipc,
        }))
        .sort((a, b) => a.rank - b.rank);
      this.broadcastAll({ t: 'peers', session: this.session, peers, liveness: this.expect.liveness });
    }
  }
}
