// Which epochs are validated: YOLOv6's rule (yolov6/core/engine.py, after_epoch), with
// YOLOv5's --noval as its final-only case.
//
//   remaining = epochs - 1 - epoch
//   interval  = K when remaining >= R, else min(3, K)      (K --eval-interval, R --heavy-eval-range)
//   validated = remaining == 0  or  (not final-only and (epoch + 1) % interval == 0)
//
// So the final epoch is always validated, and "heavy" evaluation in the last R epochs means every
// min(3, K) epochs (every epoch only when K <= 1), not every epoch as YOLOv6's help text says.
// The defaults (K 1) validate every epoch, as YOLOv5 does. Early stopping adds the epoch where
// --patience runs out (see needsValidation).

import type { TrainOptions } from './options.js';

export interface EvalSchedule {
  epochs: number;
  /** K: validate when (epoch + 1) % K == 0. */
  interval: number;
  /** R: in the last R epochs the interval is min(3, K). */
  heavyRange: number;
  /** Only the final epoch (--eval-final-only, --noval, every --evolve generation). */
  finalOnly: boolean;
}

export function evalScheduleOf(
  options: Pick<TrainOptions, 'epochs' | 'eval_interval' | 'heavy_eval_range' | 'eval_final_only' | 'noval'>,
): EvalSchedule {
  return {
    epochs: options.epochs,
    interval: options.eval_interval,
    heavyRange: options.heavy_eval_range,
    finalOnly: options.eval_final_only || options.noval,
  };
}

/** YOLOv6's is_val_epoch for 0-based `epoch`. */
export function isEvalEpoch(schedule: EvalSchedule, epoch: number): boolean {
  const remaining = schedule.epochs - 1 - epoch;
  if (remaining === 0) return true;
  if (schedule.finalOnly) return false;
  const interval = remaining >= schedule.heavyRange ? schedule.interval : Math.min(3, schedule.interval);
  return (epoch + 1) % interval === 0;
}

/** The schedule's validated epochs (for the start-of-run log line and the tests). */
export function evalEpochs(schedule: EvalSchedule): number[] {
  const out: number[] = [];
  for (let epoch = 0; epoch < schedule.epochs; epoch++) if (isEvalEpoch(schedule, epoch)) out.push(epoch);
  return out;
}

/** Every epoch validated: the schedule changes nothing (YOLOv5's default). */
export function validatesEveryEpoch(schedule: EvalSchedule): boolean {
  return !schedule.finalOnly && schedule.interval === 1;
}

/**
 * Whether rank 0 validates `epoch`: the schedule's epochs, plus, outside final-only runs, an
 * epoch at which early stopping would fire (--patience epochs after the best validated one), so
 * that --patience keeps meaning epochs: training stops there unless that validation improves.
 * Final-only runs never stop early, as YOLOv5's --noval (its stopper sees only zeros).
 */
export function needsValidation(
  schedule: EvalSchedule,
  epoch: number,
  stopper: { patienceRunsOut(epoch: number): boolean },
): boolean {
  return isEvalEpoch(schedule, epoch) || (!schedule.finalOnly && stopper.patienceRunsOut(epoch));
}

/** One line for the log: which epochs are validated (0-based, as results.csv counts them). */
export function describeEvalSchedule(schedule: EvalSchedule): string {
  if (validatesEveryEpoch(schedule)) return 'Validating every epoch';
  const epochs = evalEpochs(schedule);
  const shown = epochs.length > 12 ? [...epochs.slice(0, 6), '...', ...epochs.slice(-5)] : epochs;
  return `Validating ${epochs.length} of ${schedule.epochs} epochs: ${shown.join(', ')}${schedule.finalOnly ? ' (final only)' : ''}`;
}
