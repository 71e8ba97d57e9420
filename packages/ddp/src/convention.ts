/**
 * THE gradient convention of @yolo-launch/ddp. This is the one place it is written down;
 * everything else (README, trainer) points here.
 *
 * YOLOv5 under torch DDP:
 *   - ComputeLoss returns (lbox + lobj + lcls) * bs, where bs is the PER-RANK batch size;
 *   - train.py then does `loss *= WORLD_SIZE` when RANK != -1;
 *   - torch DDP AVERAGES gradients over the ranks.
 * So the gradient the optimizer sees is
 *   (1/N) * sum_r grad(N * bs_r * meanloss_r) = sum_r grad(bs_r * meanloss_r)
 *   = grad(B * meanloss over the global batch B),
 * which is exactly what a single process computes from `(loss) * B` on the whole batch.
 *
 * We reproduce it the same way, so a trainer ported from train.py keeps its formulas:
 *   - DistributedDataParallel all-reduces with op 'mean' (GRADIENT_REDUCE_OP), like torch DDP;
 *   - the trainer multiplies its per-rank loss by `ddp.lossScale` (== WORLD_SIZE), like train.py.
 * Gradient accumulation (noSync micro-steps) sums the local gradients of the micro-steps and
 * averages the sum once, at the optimizer step: since the mean is linear this equals YOLOv5's
 * all-reduce of every micro-step, and equals one step on the accumulated global batch.
 *
 * If your loss is a plain mean over the per-rank batch (not YOLOv5's `* bs`), multiply it by
 * `ddp.lossScale * bs_r / B` or simply use the mean loss without any scale: with equal shards
 * the average of per-rank mean-loss gradients is the gradient of the global mean loss.
 */
import type { ReduceOp } from '@yolo-launch/comm';

/** The reduction DDP applies to gradients: the average over ranks, as torch DDP. */
export const GRADIENT_REDUCE_OP: ReduceOp = 'mean';

/**
 * The factor train.py applies to the per-rank loss under DDP (`loss *= WORLD_SIZE`);
 * 1 for a single process (RANK -1) so the same code runs alone.
 */
export function ddpLossScale(worldSize: number): number {
  return Math.max(1, worldSize);
}
