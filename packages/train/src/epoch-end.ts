// After an epoch's iterations, on rank 0: validation with the EMA weights (every epoch
// unless --noval, always the last), fitness, early stopping, the results.csv row, and the
// checkpoints (unless --nosave, always the last).

import * as path from 'node:path';
import type * as yolo from '@yolo-launch/yolo';
import type { TrainContext, Timings, TrainingState } from './context.js';
import type { ModelEMA } from './ema.js';
import { fitness } from './early-stopping.js';
import { appendResults } from './results.js';
import { validate, validationInputs } from './val.js';
import { buildCheckpoint, writeCheckpoints } from './train-checkpoint.js';

/** Run `fn` with the EMA weights in the model, then put the training weights back. */
export async function withEma<T>(ctx: TrainContext, ema: ModelEMA, fn: () => Promise<T>): Promise<T> {
  const saved = ctx.state.floatState();
  ctx.state.assignFloatState(new Map(ema.entries.map((e) => [e.name, e.data])));
  try {
    return await fn();
  } finally {
    ctx.state.assignFloatState(saved);
  }
}

export interface EpochSummary {
  epoch: number;
  /** Mean training losses [box, obj, cls]. */
  meanLoss: number[];
  /** The learning rates of the three parameter groups during the epoch. */
  lr: number[];
}

/** Rank 0's end of an epoch; returns true when early stopping says stop. */
export async function endEpochOnMain(ctx: TrainContext, training: TrainingState, lossFn: yolo.ComputeLoss, summary: EpochSummary, timings: Timings): Promise<boolean> {
  const { options, log } = ctx;
  const { epoch, meanLoss, lr } = summary;
  const { stopper, ema } = training;
  const finalEpoch = epoch + 1 === options.epochs || stopper.possibleStop;
  let results = { p: 0, r: 0, map50: 0, map: 0, valLoss: [0, 0, 0] as number[] };
  const inputs = validationInputs(ctx);
  if ((!options.noval || finalEpoch) && inputs && ema) {
    const startedAt = performance.now();
    const val = await withEma(ctx, ema, () => validate(inputs, lossFn, { plots: false, verbose: false }));
    timings.validation += performance.now() - startedAt;
    results = { p: val.mp, r: val.mr, map50: val.map50, map: val.map, valLoss: val.loss };
    training.maps = val.maps;
  }
  const fi = fitness(results);
  const stop = stopper.step(epoch, fi);
  if (stop) log.info(`Stopping training early as no improvement observed in last ${options.patience} epochs. Best results observed at epoch ${stopper.bestEpoch}, best model saved as best.pt.`);
  if (fi > training.bestFitness) training.bestFitness = fi;
  appendResults(path.join(ctx.saveDir, 'results.csv'), epoch, [...meanLoss, results.p, results.r, results.map50, results.map, ...results.valLoss, ...lr]);
  log.record('epoch', { epoch, fitness: fi, best_fitness: training.bestFitness, ...results, lr });
  if (!options.nosave || finalEpoch) writeCheckpoints(ctx, buildCheckpoint(ctx, training, epoch), epoch, training.bestFitness === fi);
  return stop;
}
