// After an epoch's iterations: validation of the EMA weights on the epochs the evaluation
// schedule names (every epoch by default; eval-schedule.ts) on every rank's share of the
// batches, or on rank 0 alone with --val-rank0; then on rank 0: the epoch's verdict (fitness,
// early stopping and best.pt count validated epochs only; epoch-verdict.ts), the results.csv
// row (and the same values to TensorBoard), and the checkpoints (unless --nosave, always the
// last).

import * as path from 'node:path';
import type * as yolo from '@yolo-launch/yolo';
import type { TrainContext, Timings, TrainingState } from './context.js';
import { evalScheduleOf, isEvalEpoch, needsValidation, type EvalSchedule } from './eval-schedule.js';
import { judgeEpoch, type EpochMetrics } from './epoch-verdict.js';
import { appendResults } from './results.js';
import { validate } from './val.js';
import { validationInputs } from './val-inputs.js';
import type { ValResult } from './val-result.js';
import { shareWeights, WHOLE_SET, type ValShard } from './val-shard.js';
import { buildCheckpoint, writeCheckpoints } from './train-checkpoint.js';

/** This rank's share of a validation in this run, or null when it does not validate. */
export function valShard(ctx: TrainContext): ValShard | null {
  const world = Math.max(1, ctx.distEnv.worldSize);
  const isMain = ctx.distEnv.rank <= 0;
  if (world === 1 || ctx.options.val_rank0) return isMain ? WHOLE_SET : null;
  return { rank: ctx.distEnv.rank, world, processGroup: ctx.processGroup };
}

/**
 * Validate `weightsOnMain` (rank 0's weights: the EMA, best.pt) on every rank of `shard`: rank 0
 * puts them in its model, every rank gets them from there, and each rank's own weights come
 * back afterwards.
 */
export async function validateWith<T>(
  ctx: TrainContext,
  shard: ValShard,
  weightsOnMain: () => ReadonlyMap<string, Float32Array>,
  run: () => Promise<T>,
): Promise<T> {
  const saved = ctx.state.floatState();
  try {
    if (shard.rank === 0) ctx.state.assignFloatState(weightsOnMain());
    await shareWeights(ctx.state, shard);
    return await run();
  } finally {
    ctx.state.assignFloatState(saved);
  }
}

/** Whether `epoch` is validated, the same answer on every rank of `shard`. */
async function validationWanted(
  schedule: EvalSchedule,
  shard: ValShard,
  training: TrainingState,
  epoch: number,
): Promise<boolean> {
  // The schedule is known on every rank; only an epoch outside it depends on rank 0's stopper
  // (--patience running out), which rank 0 then decides for everyone.
  if (isEvalEpoch(schedule, epoch)) return true;
  if (schedule.finalOnly) return false;
  const wanted = needsValidation(schedule, epoch, training.stopper);
  return shard.world === 1 ? wanted : (await shard.processGroup!.broadcastObject(wanted, 0))!;
}

/** The epoch's validation on the ranks that validate (all of them must call this); the result on rank 0. */
export async function epochValidation(
  ctx: TrainContext,
  training: TrainingState,
  lossFn: yolo.ComputeLoss,
  epoch: number,
  timings: Timings,
): Promise<ValResult | null> {
  const shard = valShard(ctx);
  if (!shard) return null;
  const wanted = await validationWanted(evalScheduleOf(ctx.options), shard, training, epoch);
  const inputs = validationInputs(ctx, shard);
  if (!wanted || !inputs) return null;
  const startedAt = performance.now();
  const ema = training.ema;
  const emaWeights = (): Map<string, Float32Array> => new Map(ema!.entries.map((e) => [e.name, e.data]));
  const val = await validateWith(ctx, shard, emaWeights, () =>
    validate(inputs, lossFn, { plots: false, verbose: false }),
  );
  timings.validation += performance.now() - startedAt;
  return val;
}

export interface EpochSummary {
  epoch: number;
  /** Mean training losses [box, obj, cls]. */
  meanLoss: number[];
  /** The learning rates of the three parameter groups during the epoch. */
  lr: number[];
}

/** The metric columns of a validation. */
function metricsOf(val: ValResult): EpochMetrics {
  return { p: val.mp, r: val.mr, map50: val.map50, map: val.map, valLoss: val.loss };
}

/** Rank 0's end of an epoch after `val` (null: not validated); returns true when early stopping says stop. */
export function endEpochOnMain(
  ctx: TrainContext,
  training: TrainingState,
  summary: EpochSummary,
  val: ValResult | null,
): boolean {
  const { options, log } = ctx;
  const { epoch, meanLoss, lr } = summary;
  if (val) training.maps = val.maps;
  // --nosave saves the final epoch's checkpoint, and (YOLOv5's final_epoch) one after which early stopping may fire
  const finalEpoch = epoch + 1 === options.epochs || training.stopper.possibleStop;
  const verdict = judgeEpoch(training, epoch, val ? metricsOf(val) : null);
  if (verdict.stop)
    log.info(
      `Stopping training early as no improvement observed in last ${options.patience} epochs. Best results observed at epoch ${training.stopper.bestEpoch}, best model saved as best.pt.`,
    );
  const { metrics } = verdict;
  const row = [...meanLoss, metrics.p, metrics.r, metrics.map50, metrics.map, ...metrics.valLoss, ...lr];
  appendResults(path.join(ctx.saveDir, 'results.csv'), epoch, row);
  ctx.tensorboard?.epoch(row, epoch);
  log.record('epoch', {
    epoch,
    validated: verdict.validated,
    fitness: verdict.fitness,
    best_fitness: training.bestFitness,
    ...metrics,
    lr,
  });
  if (!options.nosave || finalEpoch || verdict.stop)
    writeCheckpoints(ctx, buildCheckpoint(ctx, training, epoch), epoch, verdict.isBest);
  return verdict.stop;
}
