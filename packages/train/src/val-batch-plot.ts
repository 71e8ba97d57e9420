// val_batch<k>_labels.jpg and val_batch<k>_pred.jpg for the first three validation batches.

import * as path from 'node:path';
import * as data from '@yolo-launch/data';
import type { Batch } from './batches.js';
import type { ValidationInputs } from './val-inputs.js';

/** val_batch*_pred.jpg rows: detections with conf > 0.25 as normalised boxes of the batch image. */
export function pushPredRows(predRows: number[], det: Float32Array, si: number, batch: Batch): void {
  for (let r = 0; r < det.length; r += 6) {
    if (det[r + 4]! <= 0.25) continue;
    const [x1, y1, x2, y2] = [det[r]!, det[r + 1]!, det[r + 2]!, det[r + 3]!];
    predRows.push(
      si,
      det[r + 5]!,
      (x1 + x2) / 2 / batch.width,
      (y1 + y2) / 2 / batch.height,
      (x2 - x1) / batch.width,
      (y2 - y1) / batch.height,
    );
  }
}

/** val_batch<k>_labels.jpg and val_batch<k>_pred.jpg. */
export function plotValBatch(
  inputs: ValidationInputs,
  batch: Batch,
  k: number,
  predRows: number[],
): Promise<unknown>[] {
  const base = {
    images: batch.images,
    shape: [batch.n, batch.height, batch.width, 3] as [number, number, number, number],
    paths: batch.paths,
  };
  const warn = (e: Error): void => inputs.log.warn(`val_batch${k} plot not written: ${e.message}`);
  return [
    data
      .plotBatch(
        { ...base, targets: batch.targets },
        inputs.names,
        path.join(inputs.saveDir, `val_batch${k}_labels.jpg`),
      )
      .catch(warn),
    data
      .plotBatch(
        { ...base, targets: Float32Array.from(predRows) },
        inputs.names,
        path.join(inputs.saveDir, `val_batch${k}_pred.jpg`),
      )
      .catch(warn),
  ];
}
