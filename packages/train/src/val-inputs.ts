// What a validation is given: the model, the loader, where to report, this rank's share
// (ValidationInputs), and how to run it (ValidateOptions: thresholds, plots, a per-image hook).

import type * as yolo from '@yolo-launch/yolo';
import type { YoloDataset } from '@yolo-launch/data';
import type { TrainContext } from './context.js';
import type { BatchSource } from './batches.js';
import type { TrainLog } from './log.js';
import type { ValShard } from './val-shard.js';

/** What validation needs: the model, the validation loader, where to report, and this rank's share. */
export interface ValidationInputs {
  model: yolo.YoloModel;
  loader: BatchSource;
  dataset: YoloDataset;
  /** The batch size of the one-rank run (train: twice the per-rank training batch, as val.py). */
  batchSize: number;
  nc: number;
  names: string[];
  /** --single-cls: class-agnostic NMS. */
  singleCls: boolean;
  log: TrainLog;
  /** Where val_batch*.jpg go. */
  saveDir: string;
  /** The batches this rank runs (WHOLE_SET: all of them, on this process alone). */
  shard: ValShard;
}

/** A training run's validation inputs for `shard`, or null without a validation set. */
export function validationInputs(ctx: TrainContext, shard: ValShard): ValidationInputs | null {
  if (!ctx.valLoader || !ctx.valDataset) return null;
  const { model, nc, names, log, saveDir } = ctx;
  return {
    model,
    loader: ctx.valLoader,
    dataset: ctx.valDataset,
    batchSize: ctx.batchPerRank * 2,
    nc,
    names,
    singleCls: ctx.options.single_cls,
    log,
    saveDir,
    shard,
  };
}

/** One image's detections as the rank that ran it sees them (for --save-txt / --save-json). */
export interface ImageDetections {
  path: string;
  /** [n, 6] x1, y1, x2, y2, conf, cls in the original image's pixels. */
  det: Float32Array;
  /** Original (height, width). */
  shape: [number, number];
}

export interface ValidateOptions {
  plots: boolean;
  verbose: boolean;
  confThres?: number;
  iouThres?: number;
  maxDet?: number;
  /** Called on the rank that ran the image, in its batch order. */
  onImage?: (image: ImageDetections) => void;
}
