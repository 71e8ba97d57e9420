// Two network namespaces joined by a veth pair, shaped with tc netem: a link that is not
// loopback, for the benchmark (a rank per namespace, ours and gloo over the same link).
// Needs root and iproute2; every namespace and link made here is removed on every path
// (close(), process exit, SIGINT/SIGTERM), and no traffic leaves these namespaces.
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

export interface LinkProfile {
  name: string;
  /** tc rate, e.g. '10gbit'. */
  rate: string;
  /** Line rate in GB/s (10^9 bytes), for the "share of line rate" column. */
  lineGBs: number;
  /** One-way delay added on each side's egress, ms (0: none). */
  delayMs: number;
}

export const LINK_PROFILES: readonly LinkProfile[] = [
  { name: '10gbit', rate: '10gbit', lineGBs: 1.25, delayMs: 0 },
  { name: '1gbit+0.2ms', rate: '1gbit', lineGBs: 0.125, delayMs: 0.2 },
];

/** The interface name inside each namespace. */
export const LINK_IFNAME = 'yl0';

function ip(...args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** Why shaped links cannot be made here, or null when they can. */
export function shapedLinkUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not running as root (network namespaces need it)';
  if (spawnSync('ip', ['-V']).status !== 0) return '`ip` (iproute2) is not installed';
  if (spawnSync('tc', ['-V']).status !== 0) return '`tc` (iproute2) is not installed';
  const probe = `ylq${process.pid % 100000}`;
  const add = ip('netns', 'add', probe);
  if (!add.ok) return `cannot create a network namespace: ${add.out}`;
  ip('netns', 'del', probe);
  return null;
}

export class ShapedLink {
  readonly namespaces: [string, string];
  readonly addresses: [string, string];
  private readonly veth: [string, string];
  private closed = false;
  /** False when the kernel has no netem and the link is rate-limited only (tbf). */
  delayApplied = true;
  qdisc = 'netem';
  private readonly onSignal = (): void => {
    this.close();
    process.exit(130);
  };
  private readonly onExit = (): void => this.close();

  private constructor(readonly profile: LinkProfile) {
    const id = `${process.pid % 100000}${randomInt(100)}`;
    this.namespaces = [`ylbA${id}`, `ylbB${id}`];
    this.veth = [`ylba${id}`, `ylbb${id}`];
    const subnet = `10.232.${randomInt(1, 255)}`;
    this.addresses = [`${subnet}.1`, `${subnet}.2`];
  }

  /** Makes the namespaces, the veth pair and the shaping; throws (after cleaning up) on failure. */
  static create(profile: LinkProfile): ShapedLink {
    const link = new ShapedLink(profile);
    process.once('exit', link.onExit);
    process.once('SIGINT', link.onSignal);
    process.once('SIGTERM', link.onSignal);
    try {
      link.setUp();
    } catch (e) {
      link.close();
      throw e;
    }
    return link;
  }

  private setUp(): void {
    const [nsA, nsB] = this.namespaces;
    const [vA, vB] = this.veth;
    const netem = [
      'netem',
      ...(this.profile.delayMs > 0 ? ['delay', `${this.profile.delayMs}ms`] : []),
      'rate',
      this.profile.rate,
      'limit',
      '100000',
    ];
    const steps: string[][] = [
      ['netns', 'add', nsA],
      ['netns', 'add', nsB],
      ['link', 'add', vA, 'type', 'veth', 'peer', 'name', vB],
      ['link', 'set', vA, 'netns', nsA],
      ['link', 'set', vB, 'netns', nsB],
    ];
    for (const [i, ns] of this.namespaces.entries()) {
      steps.push(
        ['-n', ns, 'link', 'set', this.veth[i]!, 'name', LINK_IFNAME],
        ['-n', ns, 'addr', 'add', `${this.addresses[i]}/24`, 'dev', LINK_IFNAME],
        ['-n', ns, 'link', 'set', LINK_IFNAME, 'up'],
        ['-n', ns, 'link', 'set', 'lo', 'up'],
      );
    }
    for (const step of steps) {
      const r = ip(...step);
      if (!r.ok) throw new Error(`ip ${step.join(' ')}: ${r.out}`);
    }
    for (const ns of this.namespaces) this.shape(ns, netem);
  }

  /**
   * netem (rate and delay) when the kernel has it; else tbf (rate only, burst = 1 ms of line
   * rate): some kernels (this machine's) ship without sch_netem. `delayApplied` tells which.
   */
  private shape(ns: string, netem: string[]): void {
    const tc = (q: string[]) =>
      spawnSync('tc', ['-n', ns, 'qdisc', 'add', 'dev', LINK_IFNAME, 'root', ...q], { encoding: 'utf8' });
    const r = tc(netem);
    if (r.status === 0) return;
    if (!/unknown/i.test(r.stderr))
      throw new Error(`tc -n ${ns} qdisc add dev ${LINK_IFNAME} root ${netem.join(' ')}: ${r.stderr}`);
    const burst = Math.max(64 * 1024, Math.round(this.profile.lineGBs * 1e9 * 1e-3));
    const tbf = ['tbf', 'rate', this.profile.rate, 'burst', String(burst), 'latency', '100ms'];
    const t = tc(tbf);
    if (t.status !== 0)
      throw new Error(
        `tc -n ${ns} qdisc add dev ${LINK_IFNAME} root ${tbf.join(' ')} (netem is not available): ${t.stderr}`,
      );
    this.delayApplied = false;
    this.qdisc = 'tbf';
  }

  /** The command prefix that runs a program as `rank` (0 or 1) inside its namespace. */
  wrap(rank: number): string[] {
    return ['ip', 'netns', 'exec', this.namespaces[rank]!];
  }

  /** Kills whatever still runs in the namespaces and removes them (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    for (const ns of this.namespaces) {
      for (const pid of ip('netns', 'pids', ns)
        .out.split('\n')
        .filter((p) => /^\d+$/.test(p))) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      ip('netns', 'del', ns);
    }
    ip('link', 'del', this.veth[0]); // exists only if set-up stopped half-way
  }
}
