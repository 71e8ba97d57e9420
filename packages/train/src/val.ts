// val.py's run() as the trainer and `yolo-launch val` call it: the model in eval mode over the
// validation set, NMS (conf 0.001, IoU 0.6, multi-label), the correct matrix at IoU 0.5:0.95,
// AP per class, and YOLOv5's table (Class, Images, Instances, P, R, mAP50, mAP50-95) and speed
// line. The numerics (non_max_suppression, scale_boxes, process_batch, ap_per_class,
// ConfusionMatrix) are @yolo-launch/yolo's. Each rank runs its batches (val-shard-run.ts;
// val-shard.ts says which), rank 0 replays every rank's batches in order (val-tally.ts) and
// makes the report (val-summary.ts).

import type * as yolo from '@yolo-launch/yolo';
import { gatherParts, WHOLE_SET } from './val-shard.js';
import type { ValidateOptions, ValidationInputs } from './val-inputs.js';
import { speedShape, type ValResult } from './val-result.js';
import { runShard } from './val-shard-run.js';
import { replay } from './val-tally.js';
import { summarize } from './val-summary.js';

/**
 * Validate on every rank of `inputs.shard` (each runs its batches; all must call this), report
 * on rank 0. Returns the result on rank 0 of the shard, null on the others.
 */
export async function validate(
  inputs: ValidationInputs,
  lossFn: yolo.ComputeLoss | null,
  opts: ValidateOptions,
): Promise<ValResult | null> {
  const t0 = Date.now();
  const part = await runShard(inputs, lossFn, opts);
  const parts = await gatherParts(inputs.shard, part);
  if (inputs.shard.rank !== 0) return null;
  const tally = replay(parts, inputs.nc, opts.plots);
  const result = summarize(inputs, tally, opts);
  // val.py: time per image; with several ranks, every rank's time over all the images
  const totalMs = [0, 1, 2].map((k) => parts.reduce((s, p) => s + p.ms[k]!, 0) / Math.max(1, result.seen));
  result.speed = speedShape(totalMs);
  result.seconds = (Date.now() - t0) / 1000;
  return result;
}

/** Validate this process's whole set (no ranks involved). */
export async function validateAll(
  inputs: Omit<ValidationInputs, 'shard'>,
  lossFn: yolo.ComputeLoss | null,
  opts: ValidateOptions,
): Promise<ValResult> {
  return (await validate({ ...inputs, shard: WHOLE_SET }, lossFn, opts))!;
}
