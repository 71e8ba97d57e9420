// When to stop: YOLOv5's fitness of a validation result, and EarlyStopping
// (utils/torch_utils.py): stop after `patience` epochs without improvement.

import * as yolo from '@yolo-launch/yolo';

/** yolo's fitness ([P, R, mAP@.5, mAP@.5-.95] · [0, 0, 0.1, 0.9]) of a validation result. */
export function fitness(r: { p: number; r: number; map50: number; map: number }): number {
  return yolo.fitness([r.p, r.r, r.map50, r.map]);
}

/** EarlyStopping (utils/torch_utils.py). */
export class EarlyStopping {
  bestFitness = 0.0;
  bestEpoch = 0;
  possibleStop = false;
  readonly patience: number;
  constructor(patience: number) {
    this.patience = patience || Infinity;
  }
  /** Returns true when training should stop after `epoch`. */
  step(epoch: number, fitness: number): boolean {
    if (fitness >= this.bestFitness) {
      this.bestEpoch = epoch;
      this.bestFitness = fitness;
    }
    const delta = epoch - this.bestEpoch;
    this.possibleStop = delta >= this.patience - 1;
    return delta >= this.patience;
  }
  /** Whether a validation at `epoch` without improvement would stop training. */
  patienceRunsOut(epoch: number): boolean {
    return epoch - this.bestEpoch >= this.patience;
  }
}
