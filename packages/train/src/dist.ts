// Where this process sits in the job (the launcher's worker contract), and the process
// group. Without RANK the trainer runs alone with YOLOv5's RANK -1 semantics and a local,
// single-member group, so the training loop has one code path.

import type { AllReduceOptions, BroadcastBuffer, ProcessGroup, ProcessGroupOptions } from '@yolo-launch/comm';

export interface DistEnv {
  /** -1 for a single process (no launcher), else 0..worldSize-1. */
  rank: number;
  localRank: number;
  worldSize: number;
  localWorldSize: number;
  restartCount: number;
  runId: string | undefined;
  /** Compute/data thread budget from the launcher, when given. */
  threads: number | undefined;
}

function intEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number.parseInt(raw, 10);
  if (!Number.isInteger(v)) throw new Error(`${name}=${raw} is not an integer`);
  return v;
}

export function distEnv(env: NodeJS.ProcessEnv = process.env): DistEnv {
  const rank = intEnv(env, 'RANK', -1);
  const worldSize = rank === -1 ? 1 : intEnv(env, 'WORLD_SIZE', 1);
  return {
    rank,
    localRank: rank === -1 ? -1 : intEnv(env, 'LOCAL_RANK', rank),
    worldSize,
    localWorldSize: rank === -1 ? 1 : intEnv(env, 'LOCAL_WORLD_SIZE', worldSize),
    restartCount: intEnv(env, 'RESTART_COUNT', 0),
    runId: env.YOLO_LAUNCH_RUN_ID || undefined,
    threads: env.YOLO_LAUNCH_THREADS ? intEnv(env, 'YOLO_LAUNCH_THREADS', 1) : undefined,
  };
}

/** A group of one: every collective is the identity. */
export class LocalProcessGroup implements ProcessGroup {
  readonly rank = 0;
  readonly worldSize = 1;
  async allReduce(buf: Float32Array, _options?: AllReduceOptions): Promise<Float32Array> {
    return buf;
  }
  allReduceSync(buf: Float32Array, _options?: AllReduceOptions): Float32Array {
    return buf;
  }
  async broadcast<T extends BroadcastBuffer>(buf: T, _root: number): Promise<T> {
    return buf;
  }
  async allGather(buf: Float32Array): Promise<Float32Array> {
    return buf.slice();
  }
  async barrier(): Promise<void> {}
  async broadcastObject<T>(value: T, _root: number): Promise<T> {
    return value;
  }
  async allGatherObject<T>(value: T): Promise<T[]> {
    return [value];
  }
  async destroy(): Promise<void> {}
}

type InitFn = (options?: ProcessGroupOptions) => Promise<ProcessGroup>;

/** The job's process group (comm over ZeroMQ), or a LocalProcessGroup for RANK -1. */
export async function openProcessGroup(distEnv: DistEnv, configDigest?: string): Promise<ProcessGroup> {
  if (distEnv.rank === -1) return new LocalProcessGroup();
  const comm = (await import('@yolo-launch/comm')) as unknown as Record<string, unknown>;
  const init = comm.initProcessGroup as InitFn | undefined;
  if (typeof init !== 'function')
    throw new Error('@yolo-launch/comm does not export initProcessGroup (is the comm package built?)');
  return init({ rank: distEnv.rank, worldSize: distEnv.worldSize, configDigest });
}
