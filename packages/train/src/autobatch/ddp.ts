// AutoBatch under DDP (what YOLOv5's issue 6568 asked for and its train.py refuses): every
// rank measures its own device, rank 0 takes the smallest per-rank batch and broadcasts it,
// so every rank trains the same per-rank batch; the total is per-rank × world size, and
// train.py's nbs accumulation and lr scaling follow from that total.

export interface ObjectGroup {
  readonly rank: number;
  readonly worldSize: number;
  allGatherObject<T>(value: T): Promise<T[]>;
  broadcastObject<T>(value: T, root: number): Promise<T>;
}

export interface AgreedBatch {
  /** images per rank per step */
  perRank: number;
  /** --batch-size as train.py means it: the total over all ranks */
  total: number;
  /** what each rank measured, by rank */
  measured: number[];
}

/** The smallest per-rank batch, decided on rank 0 and broadcast. */
export async function agreeOnBatchSize(group: ObjectGroup, perRank: number): Promise<AgreedBatch> {
  if (!Number.isInteger(perRank) || perRank < 1)
    throw new Error(`AutoBatch per-rank batch must be a positive integer, got ${perRank}`);
  const measured = await group.allGatherObject(perRank);
  const decided = group.rank <= 0 ? { perRank: Math.min(...measured), measured } : null;
  const agreed = (await group.broadcastObject(decided, 0))!;
  const world = Math.max(1, group.worldSize);
  return { perRank: agreed.perRank, total: agreed.perRank * world, measured: agreed.measured };
}
