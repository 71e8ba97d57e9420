// This rank's share of a validation: its batches of the one-rank run through the model and
// NMS, each image's record for rank 0 (val-shard.ts says which batches, and gathers them).

import * as yolo from '@yolo-launch/yolo';
import { ownedBatches, ownedIndices } from './val-shard.js';
import type { ValidateOptions, ValidationInputs } from './val-inputs.js';
import { predict } from './val-predict.js';
import { imageRecord, type ImageRecord } from './val-image-record.js';
import { plotValBatch, pushPredRows } from './val-batch-plot.js';

/** One batch of the one-rank run, as the rank that ran it reports it. */
export interface BatchRecord {
  batch: number;
  images: ImageRecord[];
  /** Loss items [box, obj, cls] of the batch, or null without a loss function. */
  loss: number[] | null;
}

/** A rank's share: its batches and its time in ms [pre-process, inference, NMS]. */
export interface ShardPart {
  batches: BatchRecord[];
  ms: number[];
}

/** This rank's batches: forward, NMS, and the per-image records (plots of batches 0-2 by whoever runs them). */
export async function runShard(
  inputs: ValidationInputs,
  lossFn: yolo.ComputeLoss | null,
  opts: ValidateOptions,
): Promise<ShardPart> {
  const n = inputs.dataset.imFiles.length;
  const owned = ownedBatches(n, inputs.batchSize, inputs.shard);
  const part: ShardPart = { batches: [], ms: [0, 0, 0] };
  const plots: Promise<unknown>[] = [];
  const no = 5 + inputs.nc;
  for await (const batch of inputs.loader.epoch(ownedIndices(n, inputs.batchSize, owned), 0, inputs.batchSize)) {
    const k = owned[part.batches.length]!;
    const { predHost, items } = predict(inputs, lossFn, batch, part.ms);
    const t0 = performance.now();
    const dets = yolo.nonMaxSuppression(predHost, [batch.n, predHost.length / batch.n / no, no], {
      confThres: opts.confThres ?? 0.001,
      iouThres: opts.iouThres ?? 0.6,
      multiLabel: true,
      agnostic: inputs.singleCls,
      maxDet: opts.maxDet ?? 300,
    });
    part.ms[2]! += performance.now() - t0;
    const plotThis = opts.plots && k < 3;
    const predRows: number[] = [];
    const images: ImageRecord[] = [];
    for (let si = 0; si < batch.n; si++) {
      const det = dets[si]!.data;
      if (plotThis) pushPredRows(predRows, det, si, batch);
      const record = imageRecord(det, si, batch);
      images.push(record);
      opts.onImage?.({ path: batch.paths[si]!, det: record.det, shape: batch.shapes[si]!.orig });
    }
    part.batches.push({ batch: k, images, loss: items });
    // the forward copied the pixels into a tensor: the loader may reuse the buffer, except
    // for the plotted batches, whose pixels the plot reads later
    if (plotThis) plots.push(...plotValBatch(inputs, batch, k, predRows));
    else inputs.loader.recycle?.(batch);
  }
  await Promise.all(plots);
  return part;
}
