// Validation across ranks: which batches of the validation set a rank runs, and how rank 0
// gets every rank's results back in the one-rank order.
//
// The unit of work is a whole batch of the one-rank run (same images, same --rect shape, same
// padding): rank r runs batches r, r + W, r + 2W, ... So every batch's forward pass, NMS and
// loss are the ones a single rank computes, and rank 0 replays the per-image statistics in
// batch order, which makes P, R, mAP and the losses identical to one rank's (not merely close:
// ap_per_class sorts by confidence, and ties keep the one-rank order).

import type { ProcessGroup } from '@yolo-launch/comm';

/** This rank's place in a validation: world 1 = the whole set on this process. */
export interface ValShard {
  rank: number;
  world: number;
  /** Needed when world > 1: the group every rank of the shard belongs to. */
  processGroup?: ProcessGroup;
}

export const WHOLE_SET: ValShard = { rank: 0, world: 1 };

/** The batches (0-based, in order) that `shard` runs out of ceil(n / batchSize). */
export function ownedBatches(n: number, batchSize: number, shard: ValShard): number[] {
  const batches = Math.ceil(n / batchSize);
  const owned: number[] = [];
  for (let b = shard.rank; b < batches; b += shard.world) owned.push(b);
  return owned;
}

/**
 * The dataset indices of those batches, concatenated: a loader that cuts this list every
 * `batchSize` items yields exactly them (only the last batch of the set can be short, and it
 * comes last).
 */
export function ownedIndices(n: number, batchSize: number, batches: readonly number[]): number[] {
  const indices: number[] = [];
  for (const b of batches) for (let i = b * batchSize; i < Math.min(n, (b + 1) * batchSize); i++) indices.push(i);
  return indices;
}

/** Every rank's `part` on every rank, in rank order (the part itself where world is 1). */
export async function gatherParts<T>(shard: ValShard, part: T): Promise<T[]> {
  if (shard.world === 1) return [part];
  if (!shard.processGroup) throw new Error('a sharded validation needs the process group');
  return shard.processGroup.allGatherObject(part);
}

/**
 * Make the model's float state on every rank equal to `root`'s (the EMA or best.pt there) for
 * a sharded validation; the caller keeps each rank's own state to put back afterwards.
 */
export async function shareWeights(
  state: { floatState(): Map<string, Float32Array>; assignFloatState(s: ReadonlyMap<string, Float32Array>): void },
  shard: ValShard,
  root = 0,
): Promise<void> {
  if (shard.world === 1) return;
  const own = state.floatState();
  const names = [...own.keys()];
  const flat = new Float32Array(names.reduce((sum, name) => sum + own.get(name)!.length, 0));
  let offset = 0;
  for (const name of names) {
    flat.set(own.get(name)!, offset);
    offset += own.get(name)!.length;
  }
  await shard.processGroup!.broadcast(flat, root);
  if (shard.rank === root) return;
  const shared = new Map<string, Float32Array>();
  offset = 0;
  for (const name of names) {
    const length = own.get(name)!.length;
    shared.set(name, flat.subarray(offset, offset + length));
    offset += length;
  }
  state.assignFloatState(shared);
}
