// Where this process sits in the job (the launcher's worker contract), and the process
// group. Without RANK the trainer runs alone with YOLOv5's RANK -1 semantics and a local,
// single-member group, so the training loop has one code path.

import { readWorkerEnv } from '@yolo-launch/core';
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

/**
 * The launcher's contract through core's reader, in train.py's terms: a process nobody
 * launched is RANK -1 (and LOCAL_RANK -1), as YOLOv5's `int(os.getenv('RANK', -1))`.
 */
export function distEnv(env: NodeJS.ProcessEnv = process.env): DistEnv {
  const worker = readWorkerEnv(env);
  const { restartCount, runId, threads } = worker;
  if (!worker.launched)
    return { rank: -1, localRank: -1, worldSize: 1, localWorldSize: 1, restartCount, runId, threads };
  const { rank, localRank, worldSize, localWorldSize } = worker;
  return { rank, localRank, worldSize, localWorldSize, restartCount, runId, threads };
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
