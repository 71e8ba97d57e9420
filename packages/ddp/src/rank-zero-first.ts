/**
 * rankZeroFirst: the process with LOCAL_RANK 0 on each node runs `fn` first (e.g. builds the
 * label cache), the other processes of the node run it after (and read what it wrote), as
 * YOLOv5's torch_distributed_zero_first. One global barrier per call: non-zero local ranks
 * wait at it before `fn`, local rank 0 enters it after `fn`, so every node's local rank 0 has
 * finished before anyone else starts.
 *
 * If fn throws on local rank 0 the barrier is still entered (nobody hangs) and the error is
 * rethrown there; the other ranks then run fn themselves and most likely report the same error.
 */
import type { ProcessGroup } from '@yolo-launch/comm';
import { readWorkerEnv } from '@yolo-launch/core';

function localRankOf(pg: ProcessGroup): number {
  const worker = readWorkerEnv();
  return worker.launched ? worker.localRank : pg.rank;
}

export interface RankZeroFirstOptions {
  /**
   * Defaults to LOCAL_RANK (core's readWorkerEnv) in a launched worker; a group opened with
   * explicit ranks outside a launcher is taken to be one node (pg.rank).
   */
  localRank?: number;
}

export async function rankZeroFirst<T>(
  pg: ProcessGroup | null,
  fn: () => T | Promise<T>,
  options: RankZeroFirstOptions = {},
): Promise<T> {
  if (pg === null || pg.worldSize <= 1) return await fn();
  const localRank = options.localRank ?? localRankOf(pg);
  if (localRank !== 0) {
    await pg.barrier();
    return await fn();
  }
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    await pg.barrier();
    throw err;
  }
  await pg.barrier();
  return result;
}
