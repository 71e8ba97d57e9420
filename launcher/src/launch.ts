/**
 * `launch(options)`: the programmatic form of the CLI, which only parses flags and calls it.
 * It decides where this process sits (single node, one node of many, a task of a scheduler,
 * the controller of a hostfile job), then hands over to an Agent (workers on this node) or a
 * MultiNodeController (node launchers over ssh).
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type { Writable } from 'node:stream';
import { Agent, type AgentResult } from './agent.js';
import { assignDevices, threadBudget, type WorkerPlacement } from './contract.js';
import { UsageError } from './errors.js';
import { detectGpus, parseNproc, resolveNproc, type NprocSpec } from './gpus.js';
import { readHostfile, selectHosts, type SelectedHost } from './hostfile.js';
import { MultiNodeController } from './multinode.js';
import type { TeeStreams } from './output.js';
import { assertPortFree, isLocalAddress } from './ports.js';
import {
  derivedToken,
  detectScheduler,
  type NodePlacement,
  type SchedulerPlacement,
  type TaskPlacement,
} from './schedulers.js';
import { splitCommand } from './shell.js';
import { resolveTrainCli, type WorkerCommand } from './train-entry.js';
import type { WorkerFailure } from './worker-group.js';

export const DEFAULT_MASTER_PORT = 29500;

export interface LaunchOptions {
  /** Arguments of the trainer (`yolo-launch ... train <trainArgs>`); or use `command`. */
  trainArgs?: readonly string[];
  /** Which per-rank command `trainArgs` belong to (default train; val and detect are val.py / detect.py). */
  workerCommand?: WorkerCommand;
  /** Any command run once per rank: [file, ...args]. */
  command?: readonly string[];
  /** Workers per node: a number, 'gpu' or 'auto'. Default 1 (hostfile: the host's slots). */
  nproc?: NprocSpec | string;
  nnodes?: number;
  nodeRank?: number;
  masterAddr?: string;
  masterPort?: number;
  standalone?: boolean;
  hostfile?: string;
  include?: string;
  exclude?: string;
  /** The command that reaches a host, e.g. "ssh -p 2222". Default "ssh". */
  ssh?: string;
  maxRestarts?: number;
  /** Seconds between liveness checks (keepers watching the launcher). Default 0.5. */
  monitorInterval?: number;
  logDir?: string;
  /** Which worker streams reach the console: 0 none, 1 stdout, 2 stderr, 3 both (default). */
  tee?: number;
  /** Only these ranks reach the console (all by default); log files stay complete. */
  localRanksFilter?: string | readonly number[];
  runId?: string;
  /** Seconds between SIGTERM and SIGKILL when stopping workers. Default 10. */
  termTimeout?: number;
  /** CPU thread budget per worker; default cores / local world size. */
  threads?: number;
  /** 'auto' (default): ranks from Slurm / Open MPI / Kubernetes variables when present; 'none': ignore them. */
  scheduler?: 'auto' | 'none' | string;
  /** Multi-node preflight (reachability of the master port). Default true. */
  preflight?: boolean;
  cwd?: string;
  /** The launcher's environment (default process.env): option defaults, scheduler variables. */
  env?: NodeJS.ProcessEnv;
  stdout?: Writable;
  stderr?: Writable;
  /** Install SIGINT/SIGTERM/SIGHUP handlers that stop the workers (the CLI does). */
  handleSignals?: boolean;
  /** Aborting stops the workers like SIGTERM. */
  signal?: AbortSignal;
  /** Node launchers started by a multi-node controller. */
  rankOffset?: number;
  worldSize?: number;
  restartCount?: number;
  token?: string;
}

export interface LaunchResult {
  exitCode: number;
  restarts: number;
  failure?: WorkerFailure;
}

function positiveInt(name: string, value: number | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min)
    throw new UsageError(`${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

function parseTee(tee: number | undefined): TeeStreams {
  if (tee === undefined) return 3;
  if (tee === 0 || tee === 1 || tee === 2 || tee === 3) return tee;
  throw new UsageError(`--tee must be 0 (none), 1 (stdout), 2 (stderr) or 3 (both), got ${tee}`);
}

function parseRanksFilter(filter: string | readonly number[] | undefined): Set<number> | undefined {
  if (filter === undefined || filter === '') return undefined;
  const items = typeof filter === 'string' ? filter.split(',').map((s) => s.trim()) : filter.map(String);
  if (items.some((s) => !/^\d+$/.test(s)))
    throw new UsageError(`--local-ranks-filter takes comma-separated ranks, got "${String(filter)}"`);
  return new Set(items.map(Number));
}

/** The secret the user exported: YOLO_LAUNCH_TOKEN, or the file YOLO_LAUNCH_TOKEN_FILE names (a Docker/Kubernetes secret). */
export function exportedToken(env: NodeJS.ProcessEnv): string | undefined {
  if (env.YOLO_LAUNCH_TOKEN) return env.YOLO_LAUNCH_TOKEN;
  const file = env.YOLO_LAUNCH_TOKEN_FILE;
  if (!file) return undefined;
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new UsageError(
      `cannot read YOLO_LAUNCH_TOKEN_FILE=${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  if (token === '') throw new UsageError(`YOLO_LAUNCH_TOKEN_FILE=${file} is empty`);
  return token;
}

function newRunId(): string {
  return `yl-${randomBytes(4).toString('hex')}`;
}

/** Where the launcher writes and what it reads: the options' streams, or this process's. */
interface LaunchIo {
  env: NodeJS.ProcessEnv;
  stdout: Writable;
  stderr: Writable;
  cwd: string;
  log: (line: string) => void;
}

function launchIo(options: LaunchOptions): LaunchIo {
  const stderr = options.stderr ?? process.stderr;
  return {
    env: options.env ?? process.env,
    stdout: options.stdout ?? process.stdout,
    stderr,
    cwd: options.cwd ?? process.cwd(),
    log: (line: string) => stderr.write(`yolo-launch: ${line}\n`),
  };
}

/** What runs per rank: the argv spawned here, and the same as the user typed it (for node launchers). */
interface PerRankCommand {
  command: string[];
  workerArgs: string[];
}

function perRankCommand(options: LaunchOptions): PerRankCommand {
  if ((options.trainArgs === undefined) === (options.command === undefined)) {
    throw new UsageError('give either `train [train options]` or `-- <command> [args...]`');
  }
  if (options.command !== undefined && options.command.length === 0) throw new UsageError('-- needs a command to run');
  const workerCommand = options.workerCommand ?? 'train';
  const command =
    options.trainArgs !== undefined
      ? [process.execPath, resolveTrainCli(workerCommand), ...options.trainArgs]
      : [...options.command!];
  const workerArgs =
    options.trainArgs !== undefined ? [workerCommand, ...options.trainArgs] : ['--', ...options.command!];
  return { command, workerArgs };
}

/** The flags every kind of job reads, checked before anything starts (nnodes/nodeRank: as given). */
interface LaunchSettings {
  maxRestarts: number;
  monitorInterval: number;
  termTimeout: number;
  tee: TeeStreams;
  consoleRanks: Set<number> | undefined;
  threadsOverride: number | undefined;
  nnodes: number | undefined;
  nodeRank: number | undefined;
  port: number;
  nprocSpec: NprocSpec | undefined;
}

function checkedSettings(options: LaunchOptions): LaunchSettings {
  const maxRestarts = positiveInt('--max-restarts', options.maxRestarts) ?? 0;
  const monitorInterval = options.monitorInterval ?? 0.5;
  if (!(monitorInterval > 0)) throw new UsageError(`--monitor-interval must be > 0 seconds, got ${monitorInterval}`);
  const termTimeout = options.termTimeout ?? 10;
  if (!(termTimeout >= 0)) throw new UsageError(`--term-timeout must be >= 0 seconds, got ${termTimeout}`);
  const tee = parseTee(options.tee);
  const consoleRanks = parseRanksFilter(options.localRanksFilter);
  const threadsOverride = positiveInt('--threads', options.threads, 1);
  const nnodes = positiveInt('--nnodes', options.nnodes, 1);
  const nodeRank = positiveInt('--node-rank', options.nodeRank);
  const port = options.masterPort ?? DEFAULT_MASTER_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`--master-port must be 1..65535, got ${port}`);
  const nprocSpec = options.nproc === undefined ? undefined : parseNproc(options.nproc);
  return {
    maxRestarts,
    monitorInterval,
    termTimeout,
    tee,
    consoleRanks,
    threadsOverride,
    nnodes,
    nodeRank,
    port,
    nprocSpec,
  };
}

/** A controller of workers (Agent) or of node launchers (MultiNodeController). */
interface Controller<T> {
  stop(signal?: NodeJS.Signals): void;
  run(): Promise<T>;
}

/**
 * Runs a controller with the launcher's signals (when options.handleSignals) and options.signal
 * turned into stops, so that Ctrl-C or an abort reaches every worker; the handlers go when it ends.
 */
function supervisor(options: LaunchOptions, log: (line: string) => void): <T>(controller: Controller<T>) => Promise<T> {
  const controllers: { stop(signal?: NodeJS.Signals): void }[] = [];
  const stopAll = (signal: NodeJS.Signals) => controllers.forEach((c) => c.stop(signal));
  const onSignal = (signal: NodeJS.Signals) => {
    log(`received ${signal}, stopping the workers`);
    stopAll(signal);
  };
  return async <T>(controller: Controller<T>): Promise<T> => {
    controllers.push(controller);
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, () => onSignal(s)] as const);
    if (options.handleSignals) for (const [s, h] of handlers) process.on(s, h);
    const onAbort = () => stopAll('SIGTERM');
    options.signal?.addEventListener('abort', onAbort);
    if (options.signal?.aborted) onAbort();
    try {
      return await controller.run();
    } finally {
      for (const [s, h] of handlers) process.off(s, h);
      options.signal?.removeEventListener('abort', onAbort);
    }
  };
}

/** Runs the job described by `options`; resolves with the exit code the CLI should use. */
export async function launch(options: LaunchOptions): Promise<LaunchResult> {
  const io = launchIo(options);
  const perRank = perRankCommand(options);
  const settings = checkedSettings(options);
  const supervise = supervisor(options, io.log);
  if (!options.hostfile && (options.include || options.exclude)) {
    throw new UsageError(
      `${options.include ? '--include' : '--exclude'} selects hosts of a --hostfile; give --hostfile too`,
    );
  }
  // A hostfile job: this process is the controller of one node launcher per host.
  if (options.hostfile) return supervise(hostfileController(options, options.hostfile, io, perRank, settings));
  // Otherwise: the workers of this node.
  const result: AgentResult = await supervise(await localAgent(options, io, perRank, settings));
  return { exitCode: result.exitCode, restarts: result.restarts, failure: result.failure };
}

// ---- a hostfile job: this process is the controller ------------------------------------------

/** Workers per selected host: its slots, or --nproc when it is a number (at most the slots). */
function nprocsPerHost(hosts: readonly SelectedHost[], nprocSpec: NprocSpec | undefined): number[] {
  return hosts.map((h) => {
    if (nprocSpec === undefined || nprocSpec === 'gpu' || nprocSpec === 'auto') return h.slots.length;
    if (nprocSpec > h.slots.length) {
      throw new UsageError(`--nproc ${nprocSpec} is larger than the ${h.slots.length} slot(s) of host ${h.host}`);
    }
    return nprocSpec;
  });
}

/** The launcher flags each node launcher gets, so that every node supervises and logs alike. */
function nodeLauncherFlags(settings: LaunchSettings, logDir: string | undefined): string[] {
  const { monitorInterval, termTimeout, tee, consoleRanks, threadsOverride } = settings;
  return [
    '--monitor-interval',
    String(monitorInterval),
    '--term-timeout',
    String(termTimeout),
    '--tee',
    String(tee),
    ...(logDir ? ['--log-dir', logDir] : []),
    ...(consoleRanks ? ['--local-ranks-filter', [...consoleRanks].join(',')] : []),
    ...(threadsOverride ? ['--threads', String(threadsOverride)] : []),
  ];
}

function hostfileController(
  options: LaunchOptions,
  hostfile: string,
  io: LaunchIo,
  perRank: PerRankCommand,
  settings: LaunchSettings,
): MultiNodeController {
  if (options.standalone) throw new UsageError('--standalone and --hostfile cannot be combined');
  if (options.nodeRank !== undefined)
    throw new UsageError('--node-rank is decided by the hostfile; do not pass it with --hostfile');
  const hosts = selectHosts(readHostfile(hostfile), options.include, options.exclude);
  if (settings.nnodes !== undefined && settings.nnodes !== hosts.length) {
    throw new UsageError(
      `--nnodes ${settings.nnodes} does not match the ${hosts.length} host(s) selected from ${hostfile}`,
    );
  }
  const nprocs = nprocsPerHost(hosts, settings.nprocSpec);
  const ssh = splitCommand(options.ssh ?? 'ssh');
  if (ssh.length === 0) throw new UsageError('--ssh is empty');
  const nodeFlags = nodeLauncherFlags(settings, options.logDir);
  const runId = options.runId ?? newRunId();
  const masterAddr = options.masterAddr ?? hosts[0]!.host;
  const world = nprocs.reduce((a, b) => a + b, 0);
  io.log(
    `run ${runId}: ${world} workers on ${hosts.length} node(s) (${hosts.map((h, i) => `${h.host}×${nprocs[i]}`).join(', ')}), master ${masterAddr}:${settings.port}`,
  );
  return new MultiNodeController({
    hosts,
    nprocs,
    masterAddr,
    masterPort: settings.port,
    runId,
    token: options.token ?? exportedToken(io.env) ?? randomBytes(24).toString('hex'),
    ssh,
    cwd: io.cwd,
    nodeFlags,
    workerArgs: perRank.workerArgs,
    env: io.env,
    maxRestarts: settings.maxRestarts,
    graceMs: settings.termTimeout * 1000,
    preflight: options.preflight ?? true,
    stdout: io.stdout,
    stderr: io.stderr,
  });
}

// ---- workers on this node --------------------------------------------------------------------

/** The scheduler that placed this launcher (none for a node launcher, or with --scheduler none). */
function placingScheduler(
  options: LaunchOptions,
  env: NodeJS.ProcessEnv,
  settings: LaunchSettings,
): SchedulerPlacement | null {
  const schedulerMode = options.scheduler ?? 'auto';
  if (schedulerMode !== 'auto' && schedulerMode !== 'none') {
    throw new UsageError(`--scheduler must be "auto" or "none", got "${schedulerMode}"`);
  }
  const { nprocSpec } = settings;
  const scheduler =
    options.rankOffset === undefined && schedulerMode === 'auto'
      ? detectScheduler(env, nprocSpec !== undefined, settings.nnodes)
      : null;
  if (scheduler?.kind === 'task' && nprocSpec !== undefined && nprocSpec !== 1) {
    throw new UsageError(
      `${scheduler.scheduler} already started ${scheduler.localWorldSize} task(s) on this node, one per rank, so --nproc ${nprocSpec} would multiply them: drop --nproc, or start one task per node (srun --ntasks-per-node=1) to use --nproc, or pass --scheduler none to ignore ${scheduler.scheduler}`,
    );
  }
  return scheduler;
}

/** This node's workers and the job's shape; checkPort: this node hosts the rendezvous on `port`. */
interface NodePlan {
  placements: WorkerPlacement[];
  masterAddr: string;
  localWorldSize: number;
  nnodes: number;
  nodeRank: number;
  checkPort: boolean;
}

/** A scheduler task is one rank: this launcher runs exactly that worker. */
function taskPlan(options: LaunchOptions, task: TaskPlacement): NodePlan {
  if (options.standalone) throw new UsageError(`--standalone cannot be used inside a ${task.scheduler} job`);
  const { rank, localRank, worldSize, localWorldSize, nodeRank, nnodes } = task;
  const masterAddr = options.masterAddr ?? task.masterAddr;
  if (masterAddr === undefined) {
    throw new UsageError(`${task.scheduler} spans ${nnodes} nodes: give --master-addr (the host of rank 0)`);
  }
  const placements = [{ rank, localRank, worldSize, localWorldSize, nodeRank }];
  return { placements, masterAddr, localWorldSize, nnodes, nodeRank, checkPort: rank === 0 };
}

/** A node of the job: --nproc workers as node --node-rank (the flags', else the scheduler's). */
function nodePlan(
  options: LaunchOptions,
  env: NodeJS.ProcessEnv,
  settings: LaunchSettings,
  node: NodePlacement | null,
): NodePlan {
  const nnodes = settings.nnodes ?? node?.nnodes ?? 1;
  const nodeRank = settings.nodeRank ?? node?.nodeRank ?? 0;
  if (nodeRank >= nnodes) throw new UsageError(`--node-rank ${nodeRank} must be below --nnodes ${nnodes}`);
  if (options.standalone && nnodes > 1) throw new UsageError('--standalone is for a single node; drop it or --nnodes');
  const givenAddr = options.masterAddr ?? node?.masterAddr;
  if (nnodes > 1 && givenAddr === undefined) {
    throw new UsageError(`--nnodes ${nnodes} needs --master-addr (the address of node 0, reachable from every node)`);
  }
  const localWorldSize = resolveNproc(settings.nprocSpec ?? 1, env);
  const offset = options.rankOffset ?? nodeRank * localWorldSize;
  const worldSize = options.worldSize ?? nnodes * localWorldSize;
  if (offset + localWorldSize > worldSize) {
    throw new UsageError(`ranks ${offset}..${offset + localWorldSize - 1} do not fit a world of ${worldSize}`);
  }
  const placements = Array.from({ length: localWorldSize }, (_, i) => ({
    rank: offset + i,
    localRank: i,
    worldSize,
    localWorldSize,
    nodeRank,
  }));
  const masterAddr = givenAddr ?? '127.0.0.1';
  return { placements, masterAddr, localWorldSize, nnodes, nodeRank, checkPort: nodeRank === 0 && !options.standalone };
}

/**
 * The secret, shared by every node. One launcher for the whole job makes its own; separately
 * started launchers (several nodes by hand, scheduler tasks) must agree on one.
 */
function jobSecret(
  options: LaunchOptions,
  env: NodeJS.ProcessEnv,
  plan: NodePlan,
  scheduler: SchedulerPlacement | null,
): string {
  const separate = plan.nnodes > 1 || scheduler?.kind === 'task';
  const token = options.token ?? exportedToken(env);
  if (token !== undefined) return token;
  if (!separate) return randomBytes(24).toString('hex');
  const key = scheduler?.jobKey ?? (options.runId ? `run:${options.runId}` : undefined);
  if (key === undefined) {
    throw new UsageError(
      'launchers started separately must share a secret: export the same YOLO_LAUNCH_TOKEN (or give the same --run-id) on every node',
    );
  }
  return derivedToken(key);
}

/** --log-dir made and writable now: a usage error before any worker starts, not a crash per rank. */
function ensureLogDir(logDir: string): void {
  try {
    mkdirSync(logDir, { recursive: true });
    accessSync(logDir, constants.W_OK);
  } catch (err) {
    throw new UsageError(
      `--log-dir ${logDir} cannot be written: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}

/** The line that says which ranks of which job run here, and where the rendezvous is. */
function placementLine(runId: string, plan: NodePlan, scheduler: SchedulerPlacement | null, master: string): string {
  const where = scheduler ? ` (${scheduler.scheduler} ${scheduler.kind})` : '';
  const first = plan.placements[0]!;
  const ranks =
    plan.placements.length === 1
      ? `rank ${first.rank}`
      : `ranks ${first.rank}..${first.rank + plan.placements.length - 1}`;
  return `run ${runId}: ${ranks} of ${first.worldSize} on node ${plan.nodeRank}/${plan.nnodes}${where}, master ${master}`;
}

async function localAgent(
  options: LaunchOptions,
  io: LaunchIo,
  perRank: PerRankCommand,
  settings: LaunchSettings,
): Promise<Agent> {
  const { env } = io;
  const scheduler = placingScheduler(options, env, settings);
  const plan = scheduler?.kind === 'task' ? taskPlan(options, scheduler) : nodePlan(options, env, settings, scheduler);
  const token = jobSecret(options, env, plan, scheduler);
  const runId = options.runId ?? (scheduler?.jobKey ? scheduler.jobKey.replace(/[^A-Za-z0-9_.-]/g, '-') : newRunId());
  const { port } = settings;
  if (plan.checkPort && (await isLocalAddress(plan.masterAddr))) await assertPortFree(port);
  const gpus = env.CUDA_VISIBLE_DEVICES === undefined ? detectGpus() : [];
  // Validate the device split now, so a bad list is a usage error and not a crash per attempt.
  assignDevices(plan.localWorldSize, env.CUDA_VISIBLE_DEVICES, gpus);
  if (options.logDir) ensureLogDir(options.logDir);
  io.log(placementLine(runId, plan, scheduler, `${plan.masterAddr}:${options.standalone ? '(free port)' : port}`));
  if (options.logDir) io.log(`logs: ${options.logDir}/rank<R>.log (one complete file per rank)`);
  return new Agent({
    command: perRank.command,
    cwd: io.cwd,
    baseEnv: env,
    placements: plan.placements,
    masterAddr: plan.masterAddr,
    masterPort: options.standalone ? 'standalone' : port,
    runId,
    token,
    maxRestarts: settings.maxRestarts,
    firstRestartCount: options.restartCount ?? 0,
    graceMs: settings.termTimeout * 1000,
    monitorIntervalMs: settings.monitorInterval * 1000,
    logDir: options.logDir,
    tee: settings.tee,
    consoleRanks: settings.consoleRanks,
    threads: settings.threadsOverride ?? threadBudget(plan.localWorldSize, os.availableParallelism()),
    detectedGpus: gpus,
    stdout: io.stdout,
    stderr: io.stderr,
  });
}
