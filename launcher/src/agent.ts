/**
 * The agent of one node (PyTorch elastic's split: launcher → agent → workers): builds each
 * worker's environment from the contract, runs the worker group, reports a failure and
 * restarts the whole group up to --max-restarts times with RESTART_COUNT incremented.
 */
import { constants } from 'node:os';
import type { Writable } from 'node:stream';
import { assignDevices, workerEnv, type WorkerPlacement } from './contract.js';
import { failedJobExitCode } from './errors.js';
import { freePort } from './ports.js';
import type { TeeStreams } from './output.js';
import { describeFailure, WorkerGroup, type GroupResult, type WorkerFailure } from './worker-group.js';

export interface AgentConfig {
  command: readonly string[];
  cwd: string;
  baseEnv: NodeJS.ProcessEnv;
  /** The workers of this node (global ranks already decided). */
  placements: readonly WorkerPlacement[];
  masterAddr: string;
  /** A number, or 'standalone' for a fresh port from the OS on every attempt. */
  masterPort: number | 'standalone';
  runId: string;
  token: string;
  maxRestarts: number;
  firstRestartCount: number;
  graceMs: number;
  monitorIntervalMs: number;
  logDir?: string;
  tee: TeeStreams;
  consoleRanks?: ReadonlySet<number>;
  threads: number;
  detectedGpus: readonly number[];
  stdout: Writable;
  stderr: Writable;
}

export interface AgentResult {
  exitCode: number;
  restarts: number;
  failure?: WorkerFailure;
  stoppedBy?: NodeJS.Signals;
}

export class Agent {
  private group: WorkerGroup | undefined;
  private stopped: NodeJS.Signals | undefined;

  constructor(private readonly config: AgentConfig) {}

  /** Stops the current group (and any restart) with `signal`, SIGKILL after the grace period. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): void {
    const again = this.stopped !== undefined;
    this.stopped ??= signal;
    this.group?.stop(again ? 'SIGKILL' : signal);
  }

  /** Keeper pids (= process group ids) of the current attempt, for tests and diagnostics. */
  get workerGroupIds(): number[] {
    return this.group?.pids ?? [];
  }

  async run(): Promise<AgentResult> {
    const c = this.config;
    const log = (line: string) => c.stderr.write(`yolo-launch: ${line}\n`);
    let lastFailure: WorkerFailure | undefined;
    for (let attempt = 0; attempt <= c.maxRestarts; attempt++) {
      if (this.stopped) break;
      const restartCount = c.firstRestartCount + attempt;
      const port = c.masterPort === 'standalone' ? await freePort() : c.masterPort;
      const localWorldSize = c.placements.length;
      const devices = assignDevices(
        c.placements[0]?.localWorldSize ?? localWorldSize,
        c.baseEnv.CUDA_VISIBLE_DEVICES,
        c.detectedGpus,
      );
      const job = { masterAddr: c.masterAddr, masterPort: port, runId: c.runId, token: c.token, restartCount };
      this.group = new WorkerGroup({
        command: c.command,
        cwd: c.cwd,
        workers: c.placements.map((placement) => ({
          placement,
          env: workerEnv(c.baseEnv, placement, job, devices[placement.localRank], c.threads),
        })),
        graceMs: c.graceMs,
        monitorIntervalMs: c.monitorIntervalMs,
        logDir: c.logDir,
        appendLogs: restartCount > 0,
        attemptNote: restartCount > 0 ? `=== yolo-launch: restart ${restartCount} ===` : undefined,
        tee: c.tee,
        consoleRanks: c.consoleRanks,
        stdout: c.stdout,
        stderr: c.stderr,
        tailLines: 10,
      });
      if (this.stopped) this.group.stop(this.stopped);
      const result: GroupResult = await this.group.result;
      if (result.kind === 'succeeded') return { exitCode: 0, restarts: attempt };
      if (result.kind === 'stopped') {
        const signo = constants.signals[result.signal] ?? 15;
        return { exitCode: 128 + signo, restarts: attempt, stoppedBy: result.signal };
      }
      const f = result.failure;
      lastFailure = f;
      log(`rank ${f.rank} (local rank ${f.localRank}, pid ${f.pid ?? '?'}) ${describeFailure(f)}`);
      if (f.lastLines.length > 0) {
        log(`last ${f.lastLines.length} line(s) of rank ${f.rank}:`);
        for (const line of f.lastLines) c.stderr.write(`    ${line}\n`);
      } else {
        log(`rank ${f.rank} printed nothing`);
      }
      if (attempt < c.maxRestarts && !this.stopped) {
        log(
          `restarting every worker (restart ${restartCount + 1}, ${c.maxRestarts - attempt - 1} left after this one)`,
        );
      }
    }
    if (this.stopped && !lastFailure) {
      return { exitCode: 128 + (constants.signals[this.stopped] ?? 15), restarts: 0, stoppedBy: this.stopped };
    }
    return { exitCode: failedJobExitCode(lastFailure), restarts: c.maxRestarts, failure: lastFailure };
  }
}
