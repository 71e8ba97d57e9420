// Rank 0's replay of every rank's batches in the one-rank order: the detection statistics,
// images per class, the confusion matrix and the summed losses.

import * as yolo from '@yolo-launch/yolo';
import type { ShardPart } from './val-shard-run.js';

/** Accumulated over the validation batches, in batch order. */
export interface Tally {
  stats: yolo.DetectionStats;
  imagesPerClass: number[];
  confusion: yolo.ConfusionMatrix;
  lossSum: number[];
  batches: number;
}

/** Rank 0: every rank's batches replayed in the one-rank order. */
export function replay(parts: ShardPart[], nc: number, plots: boolean): Tally {
  const tally: Tally = {
    stats: new yolo.DetectionStats(nc),
    imagesPerClass: new Array<number>(nc).fill(0),
    confusion: new yolo.ConfusionMatrix(nc),
    lossSum: [0, 0, 0],
    batches: 0,
  };
  const batches = parts.flatMap((p) => p.batches).sort((a, b) => a.batch - b.batch);
  for (const record of batches) {
    if (record.loss) for (let k = 0; k < 3; k++) tally.lossSum[k]! += record.loss[k]!;
    tally.batches++;
    for (const { det, labels } of record.images) {
      const cls = new Set<number>();
      for (let j = 0; j < labels.length; j += 5) cls.add(labels[j]!);
      for (const c of cls) tally.imagesPerClass[c]!++;
      tally.stats.addImage(det, labels);
      if (plots && cls.size) tally.confusion.processBatch(det.length ? det : null, labels);
    }
  }
  return tally;
}
