// Liveness, apart from the data plane and from timeouts: every rank keeps one plain TCP
// connection (node:net, on the engine thread) to rank 0, and both ends heartbeat over it.
//
//  - a process that dies (SIGKILL, crash, exit) closes its connection: the kernel tells
//    the other end at once, so rank 0 learns "rank k died" within milliseconds and tells
//    everyone; the ranks learn the same about rank 0 from their own connection;
//  - a process that hangs or a network that drops stops the heartbeats: declared dead after
//    heartbeatTimeoutMs;
//  - a process that leaves on purpose says `bye` first on the same connection, so the close
//    that follows is never mistaken for a crash (TCP keeps the order);
//  - heartbeats come from the engine thread, so a rank whose main thread computes for
//    30 minutes, or sleeps in allReduceSync, is alive.
//
// Frames are JSON lines. A connection must present the job's liveness key (handed out at
// rendezvous to admitted ranks only) within a few seconds or it is dropped unheard.
import crypto from 'node:crypto';
import net from 'node:net';

export type LinkMessage =
  | { t: 'hello'; rank: number; key: string }
  | { t: 'hb' }
  | { t: 'bye'; seq: number }
  | { t: 'dead'; rank: number; reason: string }
  | { t: 'left'; rank: number; seq: number };

export type LivenessEvent = { t: 'dead'; rank: number; reason: string } | { t: 'left'; rank: number; seq: number };

const MAX_LINE = 64 * 1024;
const HELLO_WITHIN_MS = 10_000;

function lineReader(sock: net.Socket, onMessage: (m: LinkMessage) => void): void {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > MAX_LINE && buf.indexOf('\n') < 0) {
      sock.destroy();
      return;
    }
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let m: unknown;
      try {
        m = JSON.parse(line);
      } catch {
        sock.destroy();
        return;
      }
      if (typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string')
        onMessage(m as LinkMessage);
    }
  });
}

const write = (sock: net.Socket, m: LinkMessage): void => {
  if (!sock.destroyed && sock.writable) sock.write(JSON.stringify(m) + '\n');
};

interface Link {
  sock: net.Socket;
  lastSeen: number;
  gone: boolean;
}

/** Rank 0's side. `onEvent` reports deaths and departures to rank 0's own engine. */
export class LivenessServer {
  readonly key = crypto.randomBytes(16).toString('hex');
  private readonly server = net.createServer((s) => this.accept(s));
  private readonly links = new Map<number, Link>();
  private readonly pendingSockets = new Set<net.Socket>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  port = 0;

  constructor(
    private readonly worldSize: number,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly onEvent: (e: LivenessEvent) => void,
  ) {
    this.timer = setInterval(() => this.tick(), intervalMs);
  }

  async listen(host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: host === '*' ? '0.0.0.0' : host, port: 0 }, () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  private accept(sock: net.Socket): void {
    if (this.closed) return void sock.destroy();
    sock.setNoDelay(true);
    this.pendingSockets.add(sock);
    let rank = -1;
    const helloTimer = setTimeout(() => sock.destroy(), HELLO_WITHIN_MS);
    sock.on('error', () => undefined);
    lineReader(sock, (m) => {
      if (rank < 0) {
        // Only a hello with the job's key and a free, valid rank is heard at all.
        const ok =
          m.t === 'hello' &&
          typeof m.key === 'string' &&
          m.key.length === this.key.length &&
          crypto.timingSafeEqual(Buffer.from(m.key), Buffer.from(this.key)) &&
          Number.isInteger(m.rank) &&
          m.rank > 0 &&
          m.rank < this.worldSize &&
          !this.links.has(m.rank);
        if (!ok) return void sock.destroy();
        rank = (m as { rank: number }).rank;
        clearTimeout(helloTimer);
        this.pendingSockets.delete(sock);
        this.links.set(rank, { sock, lastSeen: Date.now(), gone: false });
        return;
      }
      const link = this.links.get(rank)!;
      link.lastSeen = Date.now();
      if (m.t === 'bye' && !link.gone) {
        link.gone = true;
        this.announce({ t: 'left', rank, seq: m.seq });
      }
    });
    sock.on('close', () => {
      clearTimeout(helloTimer);
      this.pendingSockets.delete(sock);
      if (rank < 0) return;
      const link = this.links.get(rank);
      if (link && !link.gone)
        this.declareDead(rank, `its connection to rank 0 closed: the process exited, crashed or was killed`);
    });
  }

  private announce(e: LivenessEvent): void {
    if (this.closed) return;
    for (const [r, l] of this.links) if (!l.gone && r !== e.rank) write(l.sock, e);
    this.onEvent(e);
  }

  private declareDead(rank: number, reason: string): void {
    const link = this.links.get(rank);
    if (!link || link.gone) return;
    link.gone = true;
    link.sock.destroy();
    this.announce({ t: 'dead', rank, reason });
  }

  private tick(): void {
    const now = Date.now();
    for (const [rank, l] of this.links) {
      if (l.gone) continue;
      if (now - l.lastSeen > this.timeoutMs)
        this.declareDead(rank, `no heartbeat for ${now - l.lastSeen} ms (hung, or the network to it is down)`);
      else write(l.sock, { t: 'hb' });
    }
  }

  /** Rank 0 leaves after `seq` collectives: tell everyone, then close. */
  async leave(seq: number): Promise<void> {
    for (const l of this.links.values()) {
      if (l.gone) continue;
      write(l.sock, { t: 'left', rank: 0, seq });
      l.gone = true;
      l.sock.end();
    }
    await new Promise((r) => setTimeout(r, 20));
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const l of this.links.values()) l.sock.destroy();
    for (const s of this.pendingSockets) s.destroy();
    this.server.close();
  }
}

/** A non-zero rank's side. */
export class LivenessClient {
  private sock: net.Socket | null = null;
  private lastHeard = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  private rank0Left = false;

  constructor(
    private readonly rank: number,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly onEvent: (e: LivenessEvent) => void,
  ) {}

  connect(host: string, port: number, key: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port });
      this.sock = sock;
      sock.setNoDelay(true);
      sock.once('connect', () => {
        write(sock, { t: 'hello', rank: this.rank, key });
        this.lastHeard = Date.now();
        this.timer = setInterval(() => this.tick(), this.intervalMs);
        resolve();
      });
      sock.on('error', (e) => reject(new Error(`cannot reach rank 0's liveness port ${host}:${port}: ${e.message}`)));
      lineReader(sock, (m) => {
        this.lastHeard = Date.now();
        if (m.t === 'dead') this.onEvent(m);
        else if (m.t === 'left') {
          if (m.rank === 0) this.rank0Left = true;
          this.onEvent(m);
        }
      });
      sock.on('close', () => {
        if (this.timer) clearInterval(this.timer);
        if (!this.closing && !this.rank0Left)
          this.onEvent({
            t: 'dead',
            rank: 0,
            reason: 'the connection to rank 0 closed: rank 0 exited, crashed or was killed',
          });
      });
    });
  }

  private tick(): void {
    const silent = Date.now() - this.lastHeard;
    if (silent > this.timeoutMs && !this.rank0Left) {
      this.onEvent({
        t: 'dead',
        rank: 0,
        reason: `no heartbeat from rank 0 for ${silent} ms (hung, or the network to it is down)`,
      });
      this.close();
      return;
    }
    if (this.sock) write(this.sock, { t: 'hb' });
  }

  /** Leave after `seq` collectives: the bye and the close travel in order. */
  async leave(seq: number): Promise<void> {
    const sock = this.sock;
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    if (!sock || sock.destroyed) return;
    write(sock, { t: 'bye', seq });
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      sock.once('close', () => (clearTimeout(t), resolve()));
      sock.end();
    });
  }

  close(): void {
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    this.sock?.destroy();
  }
}
