// Rank 0's verdict on an epoch: the metrics its results.csv row carries, and, for a validated
// epoch only, its fitness, whether it is the best so far (best.pt) and whether early stopping
// fires. An epoch that was not validated leaves the stopper and the best fitness alone: a
// metric YOLOv5 never measured cannot improve or fail to improve anything.
//
// The row of an unvalidated epoch has zeros in its metric columns, as the rows YOLOv5 v7.0's
// `--noval` writes before the final epoch (checked by running it): an unmeasured metric is
// written as none measured, never as an older epoch's value.

import { fitness } from './early-stopping.js';
import type { EarlyStopping } from './early-stopping.js';

/** P, R, mAP50, mAP50-95 and the validation losses [box, obj, cls]: a results row's metric columns. */
export interface EpochMetrics {
  p: number;
  r: number;
  map50: number;
  map: number;
  valLoss: number[];
}

/** YOLOv5's `results` before any validation. */
export const NO_METRICS: Readonly<EpochMetrics> = Object.freeze({ p: 0, r: 0, map50: 0, map: 0, valLoss: [0, 0, 0] });

/** What the verdict reads and updates (TrainingState's fields). */
export interface VerdictState {
  bestFitness: number;
  stopper: EarlyStopping;
}

export interface EpochVerdict {
  validated: boolean;
  /** The row's metric columns: this epoch's validation, else NO_METRICS (zeros). */
  metrics: EpochMetrics;
  /** Fitness of this epoch's validation; null when not validated. */
  fitness: number | null;
  /** Validated and at least as fit as every earlier validated epoch (YOLOv5's `best_fitness == fi`). */
  isBest: boolean;
  /** Early stopping fired at this (validated) epoch. */
  stop: boolean;
}

/** Judge `epoch` from its validation (null: not validated); updates `state`. */
export function judgeEpoch(state: VerdictState, epoch: number, val: EpochMetrics | null): EpochVerdict {
  if (!val) return { validated: false, metrics: NO_METRICS, fitness: null, isBest: false, stop: false };
  const fi = fitness(val);
  const stop = state.stopper.step(epoch, fi);
  const isBest = fi >= state.bestFitness;
  if (isBest) state.bestFitness = fi;
  return { validated: true, metrics: val, fitness: fi, isBest, stop };
}
