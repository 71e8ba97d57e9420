/**
 * The worker environment contract as workers read it: where this process sits in the job.
 *
 * The launcher writes these variables (launcher/src/contract.ts takes their names from
 * `WORKER_VARIABLES` below, so the table lives once); torchrun writes the same names for the
 * ones it knows, so a worker started by either reads the same. Every package reads the worker
 * environment through `readWorkerEnv()`, never through `process.env` directly.
 *
 * | field          | variable           | when unset                                                  |
 * |----------------|--------------------|-------------------------------------------------------------|
 * | rank           | RANK               | 0, and `launched` is false (a single process)               |
 * | worldSize      | WORLD_SIZE         | 1, and `launched` is false; RANK without it is an error      |
 * | localRank      | LOCAL_RANK         | RANK for a launched worker (one node), else 0                |
 * | localWorldSize | LOCAL_WORLD_SIZE   | WORLD_SIZE for a launched worker (one node), else 1          |
 * | nodeRank       | NODE_RANK          | GROUP_RANK (torchrun's name), else 0                         |
 * | masterAddr     | MASTER_ADDR        | 127.0.0.1 (torchrun's default)                               |
 * | masterPort     | MASTER_PORT        | 29500 (torchrun's default); 0 for a single process           |
 * | runId          | YOLO_LAUNCH_RUN_ID | undefined                                                    |
 * | restartCount   | RESTART_COUNT      | 0                                                            |
 * | token          | YOLO_LAUNCH_TOKEN  | '' (no secret)                                               |
 * | threads        | YOLO_LAUNCH_THREADS| undefined (no budget given)                                  |
 *
 * Not here: the variables the launcher sets for the libraries underneath (CUDA_VISIBLE_DEVICES,
 * OMP_NUM_THREADS, TF_NUM_INTRAOP_THREADS, ...). CUDA_VISIBLE_DEVICES in particular is also set
 * by `--device` in a single process and left unset or as the user gave it for a CPU run, so it
 * is no part of this contract; its readers (backend's GPU checks, train's AutoBatch switch in
 * train-env.ts) read it where they use it.
 */

/** The variable behind each field; the launcher writes every one of them. */
export const WORKER_VARIABLES = {
  rank: 'RANK',
  localRank: 'LOCAL_RANK',
  worldSize: 'WORLD_SIZE',
  localWorldSize: 'LOCAL_WORLD_SIZE',
  nodeRank: 'NODE_RANK',
  groupRank: 'GROUP_RANK',
  masterAddr: 'MASTER_ADDR',
  masterPort: 'MASTER_PORT',
  runId: 'YOLO_LAUNCH_RUN_ID',
  restartCount: 'RESTART_COUNT',
  token: 'YOLO_LAUNCH_TOKEN',
  threads: 'YOLO_LAUNCH_THREADS',
} as const;

export type WorkerVariableKey = keyof typeof WORKER_VARIABLES;
export type WorkerVariable = (typeof WORKER_VARIABLES)[WorkerVariableKey];

/** Where this process sits in the job, as the launcher (or torchrun) described it. */
export interface WorkerEnv {
  /** True when a launcher started this process as one rank of a job (RANK or WORLD_SIZE is set). */
  launched: boolean;
  /** Global rank, 0..worldSize-1 (0 for a single process). */
  rank: number;
  localRank: number;
  worldSize: number;
  localWorldSize: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
  /** Id of the job, the same on every node and every restart. */
  runId: string | undefined;
  restartCount: number;
  /** The per-job rendezvous secret ('' when none). Never print it. */
  token: string;
  /** CPU thread budget of this worker, when the launcher gave one. */
  threads: number | undefined;
}

/** Values a caller already knows (comm's explicit options); each one replaces its variable. */
export type WorkerEnvGiven = Partial<Pick<WorkerEnv, 'rank' | 'worldSize' | 'masterAddr' | 'masterPort' | 'token'>>;

/** A worker variable that is malformed or contradicts another; `variable` names it. */
export class WorkerEnvError extends Error {
  override readonly name = 'WorkerEnvError';
  constructor(
    readonly variable: WorkerVariable,
    message: string,
  ) {
    super(message);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const TORCHRUN_MASTER_ADDR = '127.0.0.1';
const TORCHRUN_MASTER_PORT = 29500;
const UNSET_HINT = 'yolo-launch and torchrun set it for every worker; unset it to run a single process';

/** The variable's text, or undefined when it is unset or empty (an empty variable counts as unset). */
function text(env: Env, key: WorkerVariableKey): string | undefined {
  const raw = env[WORKER_VARIABLES[key]];
  return raw === undefined || raw === '' ? undefined : raw;
}

/**
 * Whether a launcher started this process as one rank of a job (RANK or WORLD_SIZE is set),
 * without checking the rest: for code that only needs to know that (backend's --device), not
 * the placement, and must not fail on a partial environment.
 */
export function isLaunchedWorker(env: Env = process.env): boolean {
  return text(env, 'rank') !== undefined || text(env, 'worldSize') !== undefined;
}

/** The variable as an integer, undefined when unset; anything else is named in the error. */
function integer(env: Env, key: WorkerVariableKey): number | undefined {
  const raw = text(env, key);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value)) {
    const name = WORKER_VARIABLES[key];
    throw new WorkerEnvError(name, `${name}=${JSON.stringify(raw)} is not an integer; ${UNSET_HINT}`);
  }
  return value;
}

/** A value passed in by the caller: it must be an integer too. */
function givenInteger(key: 'rank' | 'worldSize' | 'masterPort', value: number): number {
  if (!Number.isInteger(value))
    throw new WorkerEnvError(WORKER_VARIABLES[key], `${key} must be an integer, got ${value}`);
  return value;
}

function atLeast(key: WorkerVariableKey, value: number, min: number, what: string): number {
  if (value < min)
    throw new WorkerEnvError(WORKER_VARIABLES[key], `${WORKER_VARIABLES[key]} must be ${what}, got ${value}`);
  return value;
}

/** RANK and WORLD_SIZE: both or neither. */
function placeInWorld(env: Env, given: WorkerEnvGiven): { launched: boolean; rank: number; worldSize: number } {
  const rank = given.rank !== undefined ? givenInteger('rank', given.rank) : integer(env, 'rank');
  const worldSize =
    given.worldSize !== undefined ? givenInteger('worldSize', given.worldSize) : integer(env, 'worldSize');
  if (rank === undefined && worldSize === undefined) return { launched: false, rank: 0, worldSize: 1 };
  if (rank === undefined)
    throw new WorkerEnvError(
      'RANK',
      `RANK is not set but WORLD_SIZE=${worldSize} is: a worker needs both; ${UNSET_HINT}`,
    );
  if (worldSize === undefined)
    throw new WorkerEnvError(
      'WORLD_SIZE',
      `WORLD_SIZE is not set but RANK=${rank} is: a worker needs both; ${UNSET_HINT}`,
    );
  atLeast('worldSize', worldSize, 1, '>= 1');
  if (rank < 0 || rank >= worldSize)
    throw new WorkerEnvError('RANK', `RANK ${rank} is outside 0..${worldSize - 1} (WORLD_SIZE=${worldSize})`);
  return { launched: true, rank, worldSize };
}

/** LOCAL_RANK and LOCAL_WORLD_SIZE: a launched worker without them is taken to run on one node. */
function placeOnNode(env: Env, world: ReturnType<typeof placeInWorld>): { localRank: number; localWorldSize: number } {
  const localSizeSet = integer(env, 'localWorldSize');
  const localRankSet = integer(env, 'localRank');
  const localWorldSize = atLeast('localWorldSize', localSizeSet ?? (world.launched ? world.worldSize : 1), 1, '>= 1');
  const localRank = atLeast(
    'localRank',
    localRankSet ?? (world.launched ? world.rank : 0),
    0,
    'a non-negative integer',
  );
  if (localSizeSet !== undefined && localRank >= localWorldSize)
    throw new WorkerEnvError(
      'LOCAL_RANK',
      `LOCAL_RANK ${localRank} is outside 0..${localWorldSize - 1} (LOCAL_WORLD_SIZE=${localWorldSize})`,
    );
  return { localRank, localWorldSize };
}

function masterPortOf(env: Env, given: WorkerEnvGiven, launched: boolean): number {
  const port =
    given.masterPort !== undefined
      ? givenInteger('masterPort', given.masterPort)
      : (integer(env, 'masterPort') ?? (launched ? TORCHRUN_MASTER_PORT : 0));
  if (port < 0 || port > 65535) throw new WorkerEnvError('MASTER_PORT', `MASTER_PORT ${port} is not a TCP port`);
  return port;
}

/**
 * Reads and checks the worker environment. Throws a WorkerEnvError that names the variable and
 * says what to do when one is malformed, out of range, or set without its partner.
 */
export function readWorkerEnv(env: Env = process.env, given: WorkerEnvGiven = {}): WorkerEnv {
  const world = placeInWorld(env, given);
  const threads = integer(env, 'threads');
  return {
    launched: world.launched,
    rank: world.rank,
    worldSize: world.worldSize,
    ...placeOnNode(env, world),
    nodeRank: atLeast(
      'nodeRank',
      integer(env, 'nodeRank') ?? integer(env, 'groupRank') ?? 0,
      0,
      'a non-negative integer',
    ),
    masterAddr: given.masterAddr ?? text(env, 'masterAddr') ?? TORCHRUN_MASTER_ADDR,
    masterPort: masterPortOf(env, given, world.launched),
    runId: text(env, 'runId'),
    restartCount: atLeast('restartCount', integer(env, 'restartCount') ?? 0, 0, 'a non-negative integer'),
    token: given.token ?? env[WORKER_VARIABLES.token] ?? '',
    threads: threads === undefined ? undefined : atLeast('threads', threads, 1, '>= 1'),
  };
}
