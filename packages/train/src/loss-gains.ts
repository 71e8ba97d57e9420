// The loss gains as train.py scales them before training.

import type { Hyp } from './config.js';

/** Loss gains scaled to layers, classes and image size (train.py), and --label-smoothing. */
export function scaledLossGains(hyp: Hyp, layers: number, nc: number, imgsz: number, labelSmoothing: number): Hyp {
  return {
    ...hyp,
    box: (hyp.box * 3) / layers,
    cls: (((hyp.cls * nc) / 80) * 3) / layers,
    obj: (hyp.obj * (imgsz / 640) ** 2 * 3) / layers,
    label_smoothing: labelSmoothing,
  };
}
