/**
 * The worker contract: everything a worker process is promised by the launcher, in one place.
 *
 * Every worker, however it was started (local spawn, a node launcher reached over ssh, Slurm,
 * Open MPI, a Kubernetes Indexed Job), gets its environment from `workerEnv()` below.
 * launcher/README.md ("Multi-GPU and multi-node") documents the same table; keep them in sync.
 *
 * | variable                  | meaning                                                        |
 * |---------------------------|----------------------------------------------------------------|
 * | RANK                      | global rank, 0 .. WORLD_SIZE-1                                 |
 * | LOCAL_RANK                | rank on this node, 0 .. LOCAL_WORLD_SIZE-1                      |
 * | WORLD_SIZE                | number of workers in the job                                   |
 * | LOCAL_WORLD_SIZE          | number of workers on this node                                 |
 * | NODE_RANK, GROUP_RANK     | index of this node (torchrun's GROUP_RANK is the same number)  |
 * | MASTER_ADDR, MASTER_PORT  | where rank 0 runs the rendezvous                               |
 * | YOLO_LAUNCH_RUN_ID        | id of the job, identical on every node and every restart       |
 * | RESTART_COUNT             | 0 on the first attempt, +1 for each --max-restarts restart      |
 * | YOLO_LAUNCH_TOKEN         | per-job secret for the rendezvous; never printed or logged     |
 * | CUDA_VISIBLE_DEVICES      | this worker's own GPU (from the user's list when set)          |
 * | TF_FORCE_GPU_ALLOW_GROWTH | `true` unless the user set it                                  |
 * | YOLO_LAUNCH_THREADS       | CPU thread budget: max(1, floor(cores / LOCAL_WORLD_SIZE))     |
 * | OMP_NUM_THREADS           | the same budget unless the user set it                         |
 * | TF_NUM_INTRAOP_THREADS    | the same budget unless the user set it (tfjs-node reads it)    |
 * | MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, MALLOC_ARENA_MAX | glibc malloc settings for comm's receive buffers (comm's ALLOCATOR_ENV) unless set |
 */
import os from 'node:os';
import { ALLOCATOR_ENV } from '@yolo-launch/comm';
import { WORKER_VARIABLES, type WorkerVariableKey } from '@yolo-launch/core';
import { UsageError } from './errors.js';
import { OPTION_VARIABLES } from './option-names.js';

/** Where one worker sits in the job. */
export interface WorkerPlacement {
  rank: number;
  localRank: number;
  worldSize: number;
  localWorldSize: number;
  nodeRank: number;
}

/** What every worker of one attempt of the job shares. */
export interface JobIdentity {
  masterAddr: string;
  masterPort: number;
  runId: string;
  /** The per-job secret. Only ever placed in the worker's environment. */
  token: string;
  restartCount: number;
}

/**
 * Names of the variables the launcher sets; the tests and the README list them from here. The
 * ones workers read come from core's WORKER_VARIABLES (the table readWorkerEnv reads), the rest
 * are for the libraries underneath (CUDA, OpenMP, TensorFlow).
 */
export const CONTRACT_VARIABLES = [
  ...Object.values(WORKER_VARIABLES),
  'CUDA_VISIBLE_DEVICES',
  'TF_FORCE_GPU_ALLOW_GROWTH',
  'OMP_NUM_THREADS',
  'TF_NUM_INTRAOP_THREADS',
] as const;

/** Variables that must never reach a console, a log file or a process listing. */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set(['YOLO_LAUNCH_TOKEN']);

/**
 * CPU threads each worker may use for compute and data loading. The wasm backend computes on
 * one thread per process, so with one rank per core the budget is 1 and nothing oversubscribes.
 */
export function threadBudget(localWorldSize: number, cores: number = os.availableParallelism()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, localWorldSize)));
}

/**
 * The CUDA_VISIBLE_DEVICES value of each local rank, or `undefined` to leave the variable as
 * the user set it.
 *
 * - The user's list (CUDA_VISIBLE_DEVICES before launch) is split among the ranks in order:
 *   `2,3` with two ranks gives rank 0 device `2` and rank 1 device `3`. It must have at least
 *   one entry per rank.
 * - An empty list or `-1` means "hide every GPU" (a CPU run): it is passed through unchanged.
 * - Without a user list, local rank i gets the i-th GPU nvidia-smi reported, or `i` when
 *   nvidia-smi reported none (containers often lack nvidia-smi; CPU runs ignore the variable).
 *
 * It is set before the worker starts because tfjs-node-gpu claims every visible GPU at load.
 */
export function assignDevices(
  localWorldSize: number,
  userList: string | undefined,
  detectedGpus: readonly number[] = [],
): (string | undefined)[] {
  if (userList !== undefined) {
    const trimmed = userList.trim();
    if (trimmed === '' || trimmed === '-1') return new Array<undefined>(localWorldSize).fill(undefined);
    const devices = trimmed
      .split(',')
      .map((d) => d.trim())
      .filter((d) => d !== '');
    if (devices.length < localWorldSize) {
      throw new UsageError(
        `CUDA_VISIBLE_DEVICES=${userList} lists ${devices.length} device(s) but ${localWorldSize} local workers were asked for; lower --nproc or list more devices`,
      );
    }
    return devices.slice(0, localWorldSize);
  }
  return Array.from({ length: localWorldSize }, (_, i) =>
    String(detectedGpus.length > 0 ? detectedGpus[i % detectedGpus.length] : i),
  );
}

/**
 * The complete environment of one worker: the launcher's own environment (minus the
 * YOLO_LAUNCH_<OPTION> variables that configure the launcher itself) plus the contract.
 */
export function workerEnv(
  base: NodeJS.ProcessEnv,
  placement: WorkerPlacement,
  job: JobIdentity,
  device: string | undefined,
  threads: number,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (value === undefined) continue;
    if (OPTION_VARIABLES.has(key)) continue; // the launcher's configuration, not the workers'
    if (key === 'NODE_CHANNEL_FD' || key === 'NODE_CHANNEL_SERIALIZATION_MODE') continue;
    env[key] = value;
  }
  // Typed against core's table: a variable that workers read and the launcher forgot to write
  // does not compile.
  const contract: Record<WorkerVariableKey, string> = {
    rank: String(placement.rank),
    localRank: String(placement.localRank),
    worldSize: String(placement.worldSize),
    localWorldSize: String(placement.localWorldSize),
    nodeRank: String(placement.nodeRank),
    groupRank: String(placement.nodeRank),
    masterAddr: job.masterAddr,
    masterPort: String(job.masterPort),
    runId: job.runId,
    restartCount: String(job.restartCount),
    token: job.token,
    threads: String(threads),
  };
  for (const [key, value] of Object.entries(contract)) env[WORKER_VARIABLES[key as WorkerVariableKey]] = value;
  if (device !== undefined) env.CUDA_VISIBLE_DEVICES = device;
  env.TF_FORCE_GPU_ALLOW_GROWTH ??= 'true';
  env.OMP_NUM_THREADS ??= String(threads);
  env.TF_NUM_INTRAOP_THREADS ??= String(threads);
  // glibc malloc settings that keep zeromq's receive buffers from page-faulting in anew (comm's allocator-env.ts)
  for (const [key, value] of Object.entries(ALLOCATOR_ENV)) env[key] ??= value;
  return env;
}
