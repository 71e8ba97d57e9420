/**
 * One attempt of the workers of one node: spawn them (each behind a keeper), stream their
 * output, and stop all of them when one fails or the launcher is told to stop.
 * The agent (agent.ts) runs attempts one after the other for --max-restarts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { WorkerPlacement } from './contract.js';
import type { KeeperReport } from './keeper.js';
import { RankOutput, type TeeStreams } from './output.js';

const KEEPER = fileURLToPath(new URL('./keeper.js', import.meta.url));

export interface WorkerSpec {
  placement: WorkerPlacement;
  env: NodeJS.ProcessEnv;
}

export interface GroupOptions {
  /** argv of the worker: [file, ...args]. */
  command: readonly string[];
  cwd: string;
  workers: readonly WorkerSpec[];
  /** SIGTERM → SIGKILL delay, for the launcher's stop and for the keeper's orphan path. */
  graceMs: number;
  monitorIntervalMs: number;
  logDir?: string;
  appendLogs: boolean;
  attemptNote?: string;
  tee: TeeStreams;
  consoleRanks?: ReadonlySet<number>;
  stdout: Writable;
  stderr: Writable;
  tailLines: number;
}

export interface WorkerFailure {
  rank: number;
  localRank: number;
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: string;
  lastLines: string[];
}

export type GroupResult =
  { kind: 'succeeded' } | { kind: 'failed'; failure: WorkerFailure } | { kind: 'stopped'; signal: NodeJS.Signals };

interface RunningWorker {
  spec: WorkerSpec;
  keeper: ChildProcess;
  output: RankOutput;
  workerPid?: number;
  report?: KeeperReport;
  exited: boolean;
  done: Promise<void>;
}

export function describeFailure(f: WorkerFailure): string {
  if (f.spawnError) return `could not be started: ${f.spawnError}`;
  if (f.signal) return `was killed by signal ${f.signal}`;
  return `exited with code ${f.code}`;
}

export class WorkerGroup {
  private readonly workers: RunningWorker[] = [];
  private state: 'running' | 'stopping' | 'done' = 'running';
  private failure: WorkerFailure | undefined;
  private stopSignal: NodeJS.Signals | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  readonly result: Promise<GroupResult>;

  constructor(private readonly options: GroupOptions) {
    const [file, ...args] = options.command;
    if (file === undefined) throw new Error('empty worker command');
    for (const spec of options.workers) {
      const keeper = spawn(
        process.execPath,
        [KEEPER, String(options.graceMs), String(options.monitorIntervalMs), '--', file, ...args],
        { cwd: options.cwd, env: spec.env, detached: true, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
      );
      const rank = spec.placement.rank;
      const output = new RankOutput({
        prefix: `[rank${rank}]: `,
        logFile: options.logDir ? path.join(options.logDir, `rank${rank}.log`) : undefined,
        appendLog: options.appendLogs,
        tee: options.tee,
        toConsole: options.consoleRanks ? options.consoleRanks.has(rank) : true,
        stdout: options.stdout,
        stderr: options.stderr,
        tailLines: options.tailLines,
      });
      if (options.attemptNote) output.note(options.attemptNote);
      const worker: RunningWorker = { spec, keeper, output, exited: false, done: Promise.resolve() };
      keeper.on('message', (m: KeeperReport) => {
        if (m.type === 'started') worker.workerPid = m.pid;
        else worker.report = m;
      });
      const streams = Promise.all([output.attach(keeper.stdout!, 'stdout'), output.attach(keeper.stderr!, 'stderr')]);
      const exited = new Promise<void>((resolve) => {
        keeper.on('error', (err) => {
          worker.report ??= { type: 'spawn-error', message: err.message };
          resolve();
        });
        keeper.on('exit', (code, signal) => {
          worker.report ??= { type: 'exit', code, signal };
          resolve();
        });
      });
      worker.done = exited.then(async () => {
        worker.exited = true;
        this.onWorkerExit(worker);
        // A grandchild that escaped the group could hold the pipes open: do not wait forever.
        await Promise.race([streams, new Promise((r) => setTimeout(r, 2000).unref())]);
        if (this.failure?.rank === spec.placement.rank) this.failure.lastLines = output.lastLines();
      });
      this.workers.push(worker);
    }
    this.result = Promise.all(this.workers.map((w) => w.done)).then(async () => {
      clearTimeout(this.killTimer);
      // Anything still in a worker's process group (a stray child) goes now.
      for (const w of this.workers) killGroup(w.keeper.pid, 'SIGKILL');
      await Promise.all(this.workers.map((w) => w.output.close()));
      this.state = 'done';
      if (this.failure) return { kind: 'failed', failure: this.failure } as const;
      if (this.stopSignal) return { kind: 'stopped', signal: this.stopSignal } as const;
      return { kind: 'succeeded' } as const;
    });
  }

  /** Process ids of the keepers (each is also the process group id of its worker). */
  get pids(): number[] {
    return this.workers.map((w) => w.keeper.pid).filter((p): p is number => p !== undefined);
  }

  /**
   * Stops every worker: `signal` to each process group, SIGKILL after the grace period.
   * A second call with SIGKILL (a second Ctrl-C) kills at once.
   */
  stop(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.state === 'done') return;
    if (this.state === 'running') {
      this.state = 'stopping';
      this.stopSignal ??= signal;
      for (const w of this.workers) if (!w.exited) killGroup(w.keeper.pid, signal);
      this.killTimer = setTimeout(() => this.killAll(), this.options.graceMs);
      this.killTimer.unref();
    } else if (signal === 'SIGKILL') {
      this.killAll();
    }
  }

  private killAll(): void {
    for (const w of this.workers) if (!w.exited) killGroup(w.keeper.pid, 'SIGKILL');
  }

  private onWorkerExit(worker: RunningWorker): void {
    const report = worker.report!;
    const failed =
      report.type === 'spawn-error' || (report.type === 'exit' && (report.code !== 0 || report.signal != null));
    if (!failed || this.state !== 'running') return;
    this.failure = {
      rank: worker.spec.placement.rank,
      localRank: worker.spec.placement.localRank,
      pid: worker.workerPid ?? worker.keeper.pid,
      code: report.code ?? null,
      signal: report.signal ?? null,
      spawnError: report.type === 'spawn-error' ? report.message : undefined,
      lastLines: worker.output.lastLines(),
    };
    this.stop('SIGTERM');
  }
}

function killGroup(pgid: number | undefined, signal: NodeJS.Signals): void {
  if (pgid === undefined) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    /* ESRCH: the group is already gone */
  }
}
