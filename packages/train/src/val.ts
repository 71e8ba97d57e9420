// val.py's run() as the trainer and `yolo-launch val` call it: the model in eval mode over the
// validation set, NMS (conf 0.001, IoU 0.6, multi-label), the correct matrix at IoU 0.5:0.95,
// AP per class, and YOLOv5's table (Class, Images, Instances, P, R, mAP50, mAP50-95) and speed
// line. The numerics (non_max_suppression, scale_boxes, process_batch, ap_per_class,
// ConfusionMatrix) are @yolo-launch/yolo's; this file is the loop over this rank's batches
// (val-shard.ts says which) and the report that rank 0 makes from every rank's batches.

import * as path from 'node:path';
import { tf } from '@yolo-launch/backend';
import * as data from '@yolo-launch/data';
import * as yolo from '@yolo-launch/yolo';
import type { YoloDataset } from '@yolo-launch/data';
import type { TrainContext } from './context.js';
import type { Batch, BatchSource } from './batches.js';
import type { TrainLog } from './log.js';
import { formatG, padLeft } from './results.js';
import { gatherParts, ownedBatches, ownedIndices, WHOLE_SET, type ValShard } from './val-shard.js';

export interface ClassRow {
  cls: number;
  name: string;
  images: number;
  instances: number;
  p: number;
  r: number;
  map50: number;
  map: number;
}

/** val.py's speed line: milliseconds per image. */
export interface ValSpeed {
  preprocess: number;
  inference: number;
  nms: number;
}

export interface ValResult {
  mp: number;
  mr: number;
  map50: number;
  map: number;
  /** Mean validation losses [box, obj, cls] (zeros without a loss function, as val.py). */
  loss: number[];
  /** Per-class mAP50-95, length nc (classes without labels get the mean). */
  maps: number[];
  seen: number;
  instances: number;
  perClass: ClassRow[];
  /** For plots: per-class P/R/F1 curves and the confusion pairs. */
  curves?: yolo.ApPerClassResult['curves'];
  confusion?: number[][];
  speed: ValSpeed;
  seconds: number;
}

export function valRow(
  name: string,
  images: number,
  instances: number,
  p: number,
  r: number,
  m50: number,
  m: number,
): string {
  return (
    padLeft(name, 22) +
    [images, instances].map((v) => padLeft(String(Math.round(v)), 11)).join('') +
    [p, r, m50, m].map((v) => padLeft(formatG(v, 3), 11)).join('')
  );
}

export function valHeader(): string {
  return (
    padLeft('Class', 22) + ['Images', 'Instances', 'P', 'R', 'mAP50', 'mAP50-95'].map((s) => padLeft(s, 11)).join('')
  );
}

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

/** One image as rank 0 needs it: detections and labels [cls, x1, y1, x2, y2], both in original pixels. */
interface ImageRecord {
  det: Float32Array;
  labels: Float32Array;
}

/** One batch of the one-rank run, as the rank that ran it reports it. */
interface BatchRecord {
  batch: number;
  images: ImageRecord[];
  /** Loss items [box, obj, cls] of the batch, or null without a loss function. */
  loss: number[] | null;
}

/** A rank's share: its batches and its time in ms [pre-process, inference, NMS]. */
interface ShardPart {
  batches: BatchRecord[];
  ms: number[];
}

const speedShape = (t: number[]): ValSpeed => ({ preprocess: t[0]!, inference: t[1]!, nms: t[2]! });

/** Forward (eval) and loss items of one batch, read back to the host; adds to ms [pre, inference]. */
function predict(
  inputs: ValidationInputs,
  lossFn: yolo.ComputeLoss | null,
  batch: Batch,
  ms: number[],
): { predHost: Float32Array; items: number[] | null } {
  const t0 = performance.now();
  const x = tf.tidy(
    () =>
      tf.div(
        tf.cast(tf.tensor4d(batch.images, [batch.n, batch.height, batch.width, 3], 'int32'), 'float32'),
        255,
      ) as tf.Tensor4D,
  );
  const t1 = performance.now();
  // The tidy returns tensors, not their host copies: tidy walks every key of what it returns,
  // which for a ~17M-float prediction array cost more than the forward pass itself.
  const [predT, ...raw] = tf.tidy((): tf.Tensor[] => {
    const { pred, raw } = inputs.model.forwardEval(x);
    return [pred, ...raw];
  });
  const predHost = predT.dataSync() as Float32Array;
  ms[0]! += t1 - t0;
  ms[1]! += performance.now() - t1;
  let items: number[] | null = null;
  if (lossFn) {
    const itemsT = tf.tidy(() => lossFn.compute(raw as tf.Tensor5D[], batch.targets).items);
    items = Array.from(itemsT.dataSync());
    itemsT.dispose();
  }
  tf.dispose([x, predT, ...raw]);
  return { predHost, items };
}

/** val_batch*_pred.jpg rows: detections with conf > 0.25 as normalised boxes of the batch image. */
function pushPredRows(predRows: number[], det: Float32Array, si: number, batch: Batch): void {
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

/** One image: labels and detections scaled back to the original image (val.py's labelsn / predn). */
function imageRecord(det: Float32Array, si: number, batch: Batch): ImageRecord {
  const cls: number[] = [];
  const boxes: number[] = [];
  for (let r = 0; r < batch.targets.length; r += 6) {
    if (batch.targets[r] !== si) continue;
    const [x, y, w, h] = [
      batch.targets[r + 2]! * batch.width,
      batch.targets[r + 3]! * batch.height,
      batch.targets[r + 4]! * batch.width,
      batch.targets[r + 5]! * batch.height,
    ];
    cls.push(batch.targets[r + 1]!);
    boxes.push(x - w / 2, y - h / 2, x + w / 2, y + h / 2);
  }
  const shape = batch.shapes[si]!;
  const img1: [number, number] = [batch.height, batch.width];
  const ratioPad: yolo.RatioPad = [shape.ratio, shape.pad];
  const tbox = Float32Array.from(boxes);
  yolo.scaleBoxes(img1, tbox, shape.orig, ratioPad);
  const labels = new Float32Array(cls.length * 5);
  cls.forEach((c, j) => {
    labels[j * 5] = c;
    labels.set(tbox.subarray(j * 4, j * 4 + 4), j * 5 + 1);
  });
  const scaled = det.slice();
  yolo.scaleBoxes(img1, scaled, shape.orig, ratioPad, 6);
  return { det: scaled, labels };
}

/** val_batch<k>_labels.jpg and val_batch<k>_pred.jpg. */
function plotValBatch(inputs: ValidationInputs, batch: Batch, k: number, predRows: number[]): Promise<unknown>[] {
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

/** This rank's batches: forward, NMS, and the per-image records (plots of batches 0-2 by whoever runs them). */
async function runShard(
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
    if (plotThis) plots.push(...plotValBatch(inputs, batch, k, predRows));
  }
  await Promise.all(plots);
  return part;
}

/** Accumulated over the validation batches, in batch order. */
interface Tally {
  stats: yolo.DetectionStats;
  imagesPerClass: number[];
  confusion: yolo.ConfusionMatrix;
  lossSum: number[];
  batches: number;
}

/** Rank 0: every rank's batches replayed in the one-rank order. */
function replay(parts: ShardPart[], nc: number, plots: boolean): Tally {
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

/**
 * Validate on every rank of `inputs.shard` (each runs its batches; all must call this), report
 * on rank 0. Returns the result on rank 0 of the shard, null on the others.
 */
export async function validate(
  inputs: ValidationInputs,
  lossFn: yolo.ComputeLoss | null,
  opts: ValidateOptions,
): Promise<ValResult | null> {
  const t0 = Date.now();
  const part = await runShard(inputs, lossFn, opts);
  const parts = await gatherParts(inputs.shard, part);
  if (inputs.shard.rank !== 0) return null;
  const tally = replay(parts, inputs.nc, opts.plots);
  const result = summarize(inputs, tally, opts);
  // val.py: time per image; with several ranks, every rank's time over all the images
  const totalMs = [0, 1, 2].map((k) => parts.reduce((s, p) => s + p.ms[k]!, 0) / Math.max(1, result.seen));
  result.speed = speedShape(totalMs);
  result.seconds = (Date.now() - t0) / 1000;
  return result;
}

/** Validate this process's whole set (no ranks involved). */
export async function validateAll(
  inputs: Omit<ValidationInputs, 'shard'>,
  lossFn: yolo.ComputeLoss | null,
  opts: ValidateOptions,
): Promise<ValResult> {
  return (await validate({ ...inputs, shard: WHOLE_SET }, lossFn, opts))!;
}

/** P, R, mAP and the per-class rows from the tally; the table goes to the log. */
function summarize(inputs: ValidationInputs, tally: Tally, opts: ValidateOptions): ValResult {
  const { nc, names, log } = inputs;
  const m = tally.stats.compute();
  const { mp, mr, map50, map, seen } = m;
  const instances = m.nt.reduce((s, v) => s + v, 0);
  const maps = Array.from(m.maps);
  const perClass: ClassRow[] = [];
  let curves: ValResult['curves'];
  if (m.perClass) {
    curves = m.perClass.curves;
    const s = yolo.apSummary(m.perClass);
    m.perClass.uniqueClasses.forEach((c, i) => {
      perClass.push({
        cls: c,
        name: names[c] ?? String(c),
        images: tally.imagesPerClass[c]!,
        instances: m.nt[c]!,
        p: m.perClass!.p[i]!,
        r: m.perClass!.r[i]!,
        map50: s.ap50[i]!,
        map: s.apMean[i]!,
      });
    });
  }
  log.info(valHeader());
  log.info(valRow('all', seen, instances, mp, mr, map50, map));
  if (instances === 0) log.warn(`no labels found in val set, can not compute metrics without labels`);
  if (opts.verbose && nc > 1)
    for (const c of perClass) log.info(valRow(c.name, c.images, c.instances, c.p, c.r, c.map50, c.map));
  const loss = tally.lossSum.map((v) => v / Math.max(1, tally.batches));
  const out: ValResult = {
    mp,
    mr,
    map50,
    map,
    loss,
    maps,
    seen,
    instances,
    perClass,
    speed: speedShape([0, 0, 0]),
    seconds: 0,
  };
  if (curves) out.curves = curves;
  if (opts.plots) out.confusion = confusionRows(tally.confusion);
  log.record('val', { mp, mr, map50, map, loss, seen, instances });
  return out;
}

/** The confusion matrix as rows (predicted class) of columns (true class) for plots and CSV; index nc = background. */
function confusionRows(cm: yolo.ConfusionMatrix): number[][] {
  const n = cm.nc + 1;
  return Array.from({ length: n }, (_, i) => Array.from(cm.matrix.subarray(i * n, (i + 1) * n)));
}
