// The learning-rate, momentum, accumulation and EMA schedules of YOLOv5's train.py,
// reproduced number for number (the fixtures' `schedule/` folder is the reference).
import { roundHalfEven } from '@yolo-launch/core';

/** numpy.interp for a single x over increasing xp (clamped at both ends). */
export function interp(x: number, xp: readonly number[], fp: readonly number[]): number {
  if (xp.length !== fp.length || xp.length === 0)
    throw new Error('interp: xp and fp must have the same non-zero length');
  if (x <= xp[0]!) return fp[0]!;
  const last = xp.length - 1;
  if (x >= xp[last]!) return fp[last]!;
  let k = 0;
  while (x > xp[k + 1]!) k++;
  const x0 = xp[k]!;
  const x1 = xp[k + 1]!;
  const y0 = fp[k]!;
  const y1 = fp[k + 1]!;
  // NumPy's formula: slope*(x - x0) + y0
  const slope = (y1 - y0) / (x1 - x0);
  return slope * (x - x0) + y0;
}

export type LrLambda = (epoch: number) => number;

/** train.py's linear LR lambda: (1 - x/epochs)*(1 - lrf) + lrf. */
export function linearLf(epochs: number, lrf: number): LrLambda {
  return (x) => (1 - x / epochs) * (1.0 - lrf) + lrf;
}

/** utils.general.one_cycle(1, lrf, epochs): ((1 - cos(x*pi/steps))/2)*(y2 - y1) + y1. */
export function oneCycleLf(epochs: number, lrf: number): LrLambda {
  return (x) => ((1 - Math.cos((x * Math.PI) / epochs)) / 2) * (lrf - 1) + 1;
}

export function lrLambda(epochs: number, lrf: number, cosLr: boolean): LrLambda {
  return cosLr ? oneCycleLf(epochs, lrf) : linearLf(epochs, lrf);
}

export interface WarmupHyp {
  lr0: number;
  momentum: number;
  warmup_epochs: number;
  warmup_momentum: number;
  warmup_bias_lr: number;
}

/** Nominal batch size: YOLOv5 accumulates gradients up to 64 images per optimizer step. */
export const NBS = 64;

/** Initial accumulate: max(round(nbs / batch), 1). */
export function initialAccumulate(batchSize: number, nbs = NBS): number {
  return Math.max(roundHalfEven(nbs / batchSize), 1);
}

/** weight_decay *= batch_size * accumulate / nbs. */
export function scaledWeightDecay(weightDecay: number, batchSize: number, nbs = NBS): number {
  return (weightDecay * batchSize * initialAccumulate(batchSize, nbs)) / nbs;
}

/** Number of warmup iterations: max(round(warmup_epochs * nb), 100). */
export function warmupIterations(warmupEpochs: number, nb: number): number {
  return Math.max(roundHalfEven(warmupEpochs * nb), 100);
}

/** What the optimizer's three groups (0 biases, 1 decayed weights, 2 BN weights) hold. */
export interface GroupSettings {
  lr: [number, number, number];
  momentum: number;
}

/**
 * The schedule state machine of train.py: warmup by `np.interp` on the integrated batch
 * number ni, then LambdaLR with train.py's `scheduler.last_epoch = start_epoch - 1` quirk
 * (after warmup, epoch e trains at lr0*lf(e-1), because the constructor's implicit step is
 * undone and each epoch ends with scheduler.step()).
 *
 * The scheduler state is fully described by (epoch, ni), so resume needs nothing stored
 * beyond the epoch: `Schedule.resumeAt(startEpoch)` rebuilds it.
 */
export class Schedule {
  readonly lf: LrLambda;
  readonly nw: number;
  readonly nb: number;
  private readonly nbs: number;
  private readonly batchSize: number;
  /** Current values: what the optimizer groups hold right now. */
  lr: [number, number, number];
  momentum: number;
  accumulate: number;

  constructor(
    readonly hyp: WarmupHyp,
    opts: {
      epochs: number;
      lrf: number;
      cosLr: boolean;
      nb: number;
      batchSize: number;
      nbs?: number;
      startEpoch?: number;
    },
  ) {
    this.lf = lrLambda(opts.epochs, opts.lrf, opts.cosLr);
    this.nb = opts.nb;
    this.nbs = opts.nbs ?? NBS;
    this.batchSize = opts.batchSize;
    this.nw = warmupIterations(hyp.warmup_epochs, opts.nb);
    this.accumulate = initialAccumulate(opts.batchSize, this.nbs);
    // LambdaLR's constructor sets lr = initial_lr * lf(0); momentum starts at hyp.momentum.
    const l0 = hyp.lr0 * this.lf(0);
    this.lr = [l0, l0, l0];
    this.momentum = hyp.momentum;
    const start = opts.startEpoch ?? 0;
    if (start > 0) {
      // A resumed run: train.py sets scheduler.last_epoch = start_epoch - 1, so the first
      // scheduler.step() of the resumed run sets lf(start_epoch - 1)... and before that the
      // groups hold the optimizer's saved lr. Without warmup in play (ni > nw), the saved lr of
      // an uninterrupted run at the end of epoch start-1 was set by the step after epoch
      // start-2, i.e. lf(start - 2), and equals lf(start-1)'s predecessor. We restore exactly
      // what an uninterrupted run holds at the start of epoch `start`.
      this.restoreAtEpochStart(start);
    }
  }

  /** The values an uninterrupted run holds when epoch `epoch` begins (before any iteration). */
  private restoreAtEpochStart(epoch: number): void {
    // Replay the schedule's per-iteration updates; cheap (nb * epoch arithmetic steps).
    for (let e = 0; e < epoch; e++) {
      for (let i = 0; i < this.nb; i++) this.beforeIteration(e, i + this.nb * e);
      this.endEpoch(e);
    }
  }

  /** Called at the start of each iteration (train.py's warmup block). Returns whether warming up. */
  beforeIteration(epoch: number, ni: number): boolean {
    if (ni > this.nw) return false;
    const xi = [0, this.nw];
    this.accumulate = Math.max(1, roundHalfEven(interp(ni, xi, [1, this.nbs / this.batchSize])));
    const target = this.hyp.lr0 * this.lf(epoch);
    for (let j = 0; j < 3; j++) {
      this.lr[j] = interp(ni, xi, [j === 0 ? this.hyp.warmup_bias_lr : 0.0, target]);
    }
    this.momentum = interp(ni, xi, [this.hyp.warmup_momentum, this.hyp.momentum]);
    return true;
  }

  /** scheduler.step() at the end of epoch e (after the quirk: sets lr0*lf(e)). */
  endEpoch(epoch: number): void {
    const l = this.hyp.lr0 * this.lf(epoch);
    this.lr = [l, l, l];
  }
}

/** ModelEMA's decay ramp: d(updates) = decay*(1 - exp(-updates/tau)). */
export function emaDecay(updates: number, decay = 0.9999, tau = 2000): number {
  return decay * (1 - Math.exp(-updates / tau));
}
