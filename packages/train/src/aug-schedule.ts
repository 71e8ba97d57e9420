// Strong augmentation off for the last N epochs (YOLOv6 --stop-aug-last-n-epoch, ultralytics
// --close-mosaic): from epoch `epochs - N` on, the training loader builds every sample as
// LoadImagesAndLabels' single-image path (letterbox, random_perspective, HSV, flips), i.e.
// with the hyp's mosaic and mixup at 0 (@yolo-launch/data's closeMosaic).
//
// A pure function of (epoch, --epochs, N), so every rank switches at the same epoch without a
// message, and a run resumed inside the window starts without mosaic. YOLOv6 and ultralytics
// switch when `epoch == epochs - N` (and on resume when `start > epochs - N`), which never
// switches when N > epochs; here N >= epochs means no mosaic at all.

import type { TrainOptions } from './options.js';

export type AugSchedule = Pick<TrainOptions, 'epochs' | 'stop_aug_last_n_epoch'>;

/** Whether mosaic (and mixup) are off in `epoch`. */
export function mosaicClosed(options: AugSchedule, epoch: number): boolean {
  const n = options.stop_aug_last_n_epoch;
  return n > 0 && epoch >= options.epochs - n;
}

/**
 * The line to log when `epoch` is the first of this process without mosaic (the switch, or a
 * resume inside the window); null otherwise.
 */
export function mosaicClosingLine(options: AugSchedule, epoch: number, startEpoch: number): string | null {
  if (!mosaicClosed(options, epoch)) return null;
  if (epoch > startEpoch && mosaicClosed(options, epoch - 1)) return null;
  const window = `last ${options.stop_aug_last_n_epoch} epochs, from epoch ${Math.max(0, options.epochs - options.stop_aug_last_n_epoch)}`;
  return `Closing dataloader mosaic (--stop-aug-last-n-epoch: ${window}): mosaic and mixup off, single letterboxed images`;
}
