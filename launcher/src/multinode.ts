/**
 * The multi-node controller: from a hostfile, start one node launcher per host through
 * `--ssh`, stream their output with a host prefix, stop every node when one fails, and
 * restart the whole job for --max-restarts.
 *
 * The node launcher is this same CLI with hidden flags (--stdin-config, --rank-offset,
 * --world-size). The token, run id, restart count and forwarded environment travel as one JSON
 * line on the ssh session's stdin, so they never appear in a process listing. The stdin stays
 * open: when it closes (the controller stopped it, or died), the node launcher stops its
 * workers. That is also what ends a job whose controller was killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type net from 'node:net';
import { constants } from 'node:os';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { failedJobExitCode, UsageError } from './errors.js';
import type { SelectedHost } from './hostfile.js';
import { LineSplitter } from './output.js';
import { OPTION_VARIABLES } from './option-names.js';
import { isLocalAddress, listen, portTakenError } from './ports.js';
import type { ProbeResult } from './probe.js';
import { shellJoin } from './shell.js';

const CLI = fileURLToPath(new URL('./cli.js', import.meta.url));

/** What a node launcher reads from its stdin before anything else. */
export interface NodeLaunchConfig {
  token: string;
  runId: string;
  restartCount: number;
  env: Record<string, string>;
}

export interface MultiNodeConfig {
  hosts: readonly SelectedHost[];
  /** Workers per host, same order as `hosts`. */
  nprocs: readonly number[];
  masterAddr: string;
  masterPort: number;
  runId: string;
  token: string;
  ssh: readonly string[];
  cwd: string;
  /** Launcher flags every node launcher gets (--log-dir, --tee, ...). */
  nodeFlags: readonly string[];
  /** What runs per rank, as typed: ['train', ...] or ['--', cmd, ...]. */
  workerArgs: readonly string[];
  env: NodeJS.ProcessEnv;
  maxRestarts: number;
  graceMs: number;
  preflight: boolean;
  stdout: Writable;
  stderr: Writable;
}

/** Variables forwarded to every node (ssh does not forward the environment). */
export function forwardedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    // Options travel as flags, the token and run id in the stdin line itself.
    if (value === undefined || OPTION_VARIABLES.has(key) || key === 'YOLO_LAUNCH_TOKEN') continue;
    if (/^(YOLO_|TF_|OMP_|NCCL_|UV_THREADPOOL_SIZE$)/.test(key)) out[key] = value;
  }
  return out;
}

/** How the first failing node launcher of an attempt ended. */
interface NodeFailure {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface NodeProcess {
  index: number;
  host: string;
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: boolean;
}

export class MultiNodeController {
  private nodes: NodeProcess[] = [];
  private stopped: NodeJS.Signals | undefined;
  private readonly log: (line: string) => void;

  constructor(private readonly config: MultiNodeConfig) {
    this.log = (line) => config.stderr.write(`yolo-launch: ${line}\n`);
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): void {
    const again = this.stopped !== undefined;
    this.stopped ??= signal;
    this.stopNodes(again);
  }

  async run(): Promise<{ exitCode: number; restarts: number }> {
    const c = this.config;
    await this.preflight();
    let failure: NodeFailure | null = null;
    for (let attempt = 0; attempt <= c.maxRestarts; attempt++) {
      if (this.stopped) break;
      if (attempt > 0) this.log(`restarting every node (restart ${attempt} of ${c.maxRestarts})`);
      failure = await this.runAttempt(attempt);
      if (failure === null) return { exitCode: 0, restarts: attempt };
    }
    if (this.stopped) return { exitCode: 128 + (constants.signals[this.stopped] ?? 15), restarts: 0 };
    return { exitCode: failedJobExitCode(failure), restarts: c.maxRestarts };
  }

  private remoteCommand(index: number, offset: number, worldSize: number, argv: readonly string[]): string {
    const c = this.config;
    const flags = [
      '--stdin-config',
      '--nnodes',
      String(c.hosts.length),
      '--node-rank',
      String(index),
      '--nproc',
      String(c.nprocs[index]),
      '--rank-offset',
      String(offset),
      '--world-size',
      String(worldSize),
      '--master-addr',
      c.masterAddr,
      '--master-port',
      String(c.masterPort),
      '--max-restarts',
      '0',
      '--no-preflight',
      ...c.nodeFlags,
    ];
    return `cd ${shellJoin([c.cwd])} && exec ${shellJoin([process.execPath, CLI, ...flags, ...argv])}`;
  }

  private spawnSsh(host: string, remote: string): ChildProcess {
    const [ssh, ...sshArgs] = this.config.ssh;
    return spawn(ssh!, [...sshArgs, host, remote], {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: this.config.cwd,
    });
  }

  /** Every node must reach the master port; prints the interface each one will use. */
  private async preflight(): Promise<void> {
    const c = this.config;
    let holder: net.Server | undefined;
    if (await isLocalAddress(c.masterAddr)) {
      try {
        holder = await listen(c.masterPort);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw portTakenError(c.masterPort, 'choose another with --master-port');
        }
        throw err;
      }
    }
    try {
      if (!c.preflight) return;
      const results = await Promise.all(c.hosts.map((h) => this.probeHost(h.host)));
      for (const [i, r] of results.entries()) {
        const host = c.hosts[i]!.host;
        if (!r.ok) {
          throw new UsageError(
            `preflight: node ${i} (${host}) cannot reach the master ${c.masterAddr}:${c.masterPort}: ${r.error}`,
          );
        }
        const how = r.listening ? 'connected' : 'reachable, not listening yet';
        this.log(
          `preflight: node ${i} (${host}) → ${c.masterAddr}:${c.masterPort} ${how}, interface ${r.iface ?? '?'} (${r.localAddress ?? '?'})`,
        );
        const chosen = c.env.YOLO_SOCKET_IFNAME;
        if (chosen && r.iface && chosen !== r.iface) {
          this.log(
            `preflight: warning: node ${i} (${host}) reaches the master through ${r.iface}, but YOLO_SOCKET_IFNAME=${chosen}`,
          );
        }
      }
    } finally {
      await new Promise<void>((resolve) => (holder ? holder.close(() => resolve()) : resolve()));
    }
  }

  private probeHost(host: string): Promise<ProbeResult> {
    const c = this.config;
    const remote = `cd ${shellJoin([c.cwd])} && exec ${shellJoin([process.execPath, CLI, '__probe', c.masterAddr, String(c.masterPort)])}`;
    return new Promise((resolve) => {
      const child = this.spawnSsh(host, remote);
      child.stdin!.end();
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 30_000);
      child.on('error', (e) => {
        clearTimeout(timer);
        resolve({ ok: false, listening: false, error: `cannot run ${c.ssh[0]}: ${e.message}` });
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        const line = out.trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(line) as ProbeResult);
        } catch {
          const why = err.trim().split('\n').pop() || `exit code ${code}`;
          resolve({ ok: false, listening: false, error: `the probe did not run through ${c.ssh.join(' ')}: ${why}` });
        }
      });
    });
  }

  /** Null when every node finished with 0, else the first node that did not. */
  private async runAttempt(restartCount: number): Promise<NodeFailure | null> {
    const c = this.config;
    const worldSize = c.nprocs.reduce((a, b) => a + b, 0);
    const base = forwardedEnv(c.env);
    let offset = 0;
    this.nodes = c.hosts.map((h, index) => {
      const remote = this.remoteCommand(index, offset, worldSize, c.workerArgs);
      offset += c.nprocs[index]!;
      const child = this.spawnSsh(h.host, remote);
      const config: NodeLaunchConfig = {
        token: c.token,
        runId: c.runId,
        restartCount,
        env: { ...base, CUDA_VISIBLE_DEVICES: h.slots.slice(0, c.nprocs[index]).join(',') },
      };
      child.stdin!.on('error', () => {});
      child.stdin!.write(`${JSON.stringify(config)}\n`);
      const prefix = `[${h.host}] `;
      for (const [stream, sink] of [
        [child.stdout!, c.stdout],
        [child.stderr!, c.stderr],
      ] as const) {
        const splitter = new LineSplitter((line) => sink.write(`${prefix}${line}\n`));
        stream.on('data', (d: Buffer) => splitter.push(d));
        stream.on('close', () => splitter.end());
      }
      const node: NodeProcess = {
        index,
        host: h.host,
        child,
        exited: false,
        exit: new Promise((resolve) => {
          child.on('error', (e) => {
            c.stderr.write(`yolo-launch: cannot run ${c.ssh[0]} for node ${index} (${h.host}): ${e.message}\n`);
            node.exited = true;
            resolve({ code: 127, signal: null });
          });
          child.on('close', (code, signal) => {
            node.exited = true;
            resolve({ code, signal });
          });
        }),
      };
      return node;
    });
    if (this.stopped) this.stopNodes(false);
    let failure: NodeFailure | null = null;
    await Promise.all(
      this.nodes.map(async (node) => {
        const { code, signal } = await node.exit;
        if ((code === 0 && !signal) || this.stopped || failure) return;
        failure = { code, signal };
        const how = signal ? `was killed by signal ${signal}` : `exited with code ${code}`;
        this.log(`node ${node.index} (${node.host}) ${how}; stopping every node`);
        this.stopNodes(false);
      }),
    );
    if (this.stopped) return failure ?? { code: null, signal: this.stopped };
    return failure;
  }

  /** Closes each node launcher's stdin (it stops its workers); ssh itself is killed later if needed. */
  private stopNodes(now: boolean): void {
    for (const node of this.nodes) {
      if (node.exited) continue;
      if (now) {
        killGroup(node.child.pid, 'SIGKILL');
        continue;
      }
      node.child.stdin!.end();
      const grace = this.config.graceMs + 5000;
      setTimeout(() => !node.exited && killGroup(node.child.pid, 'SIGTERM'), grace).unref();
      setTimeout(() => !node.exited && killGroup(node.child.pid, 'SIGKILL'), grace + 2000).unref();
    }
  }
}

function killGroup(pgid: number | undefined, signal: NodeJS.Signals): void {
  if (pgid === undefined) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}
