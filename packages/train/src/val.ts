// val.py's run() as the trainer calls it: the (EMA) model in eval mode over the validation
// set, NMS (conf 0.001, IoU 0.6, multi-label), the correct matrix at IoU 0.5:0.95, AP per
// class, and YOLOv5's table (Class, Images, Instances, P, R, mAP50, mAP50-95). The numerics
// (non_max_suppression, scale_boxes, process_batch, ap_per_class, ConfusionMatrix) are
// @yolo-launch/yolo's; this file is the loop over the validation loader and the report.

import * as path from 'node:path';
import { tf } from '@yolo-launch/backend';
import * as data from '@yolo-launch/data';
import * as yolo from '@yolo-launch/yolo';
import type { YoloDataset } from '@yolo-launch/data';
import type { TrainContext } from './context.js';
import type { Batch, BatchSource } from './batches.js';
import type { TrainLog } from './log.js';
import { formatG, padLeft } from './results.js';

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

export interface ValResult {
  mp: number;
  mr: number;
  map50: number;
  map: number;
  /** Mean validation losses [box, obj, cls]. */
  loss: number[];
  /** Per-class mAP50-95, length nc (classes without labels get the mean). */
  maps: number[];
  seen: number;
  instances: number;
  perClass: ClassRow[];
  /** For plots: per-class P/R/F1 curves and the confusion pairs. */
  curves?: yolo.ApPerClassResult['curves'];
  confusion?: number[][];
  seconds: number;
}

function valRow(name: string, images: number, instances: number, p: number, r: number, m50: number, m: number): string {
  return padLeft(name, 22) + [images, instances].map((v) => padLeft(String(Math.round(v)), 11)).join('') + [p, r, m50, m].map((v) => padLeft(formatG(v, 3), 11)).join('');
}

export function valHeader(): string {
  return padLeft('Class', 22) + ['Images', 'Instances', 'P', 'R', 'mAP50', 'mAP50-95'].map((s) => padLeft(s, 11)).join('');
}

/** What validation needs of the run: the model, the validation loader and where to report. */
export interface ValidationInputs {
  model: yolo.YoloModel;
  loader: BatchSource;
  dataset: YoloDataset;
  /** Twice the per-rank training batch, as val.py runs it. */
  batchSize: number;
  nc: number;
  names: string[];
  /** --single-cls: class-agnostic NMS. */
  singleCls: boolean;
  log: TrainLog;
  /** Where val_batch*.jpg go. */
  saveDir: string;
}

/** The validation inputs of a run, or null without a validation set (ranks other than 0). */
export function validationInputs(ctx: TrainContext): ValidationInputs | null {
  if (!ctx.valLoader || !ctx.valDataset) return null;
  const { model, nc, names, log, saveDir } = ctx;
  return { model, loader: ctx.valLoader, dataset: ctx.valDataset, batchSize: ctx.batchPerRank * 2, nc, names, singleCls: ctx.options.single_cls, log, saveDir };
}

export interface ValidateOptions {
  plots: boolean;
  verbose: boolean;
  confThres?: number;
  iouThres?: number;
}

/** Accumulated over the validation batches. */
interface Tally {
  stats: yolo.DetectionStats;
  imagesPerClass: number[];
  confusion: yolo.ConfusionMatrix;
  lossSum: number[];
  batches: number;
}

/** Forward (eval) and loss items of one batch, read back to the host. */
function predict(inputs: ValidationInputs, lossFn: yolo.ComputeLoss, batch: Batch): { predHost: Float32Array; items: Float32Array } {
  // The tidy returns tensors, not their host copies: tidy walks every key of what it returns,
  // which for a ~17M-float prediction array cost more than the forward pass itself.
  const [predT, itemsT] = tf.tidy(() => {
    const x = tf.div(tf.cast(tf.tensor4d(batch.images, [batch.n, batch.height, batch.width, 3], 'int32'), 'float32'), 255) as tf.Tensor4D;
    const { pred, raw } = inputs.model.forwardEval(x);
    return [pred, lossFn.compute(raw, batch.targets).items];
  });
  const predHost = predT.dataSync() as Float32Array;
  const items = itemsT.dataSync() as Float32Array;
  tf.dispose([predT, itemsT]);
  return { predHost, items };
}

/** val_batch*_pred.jpg rows: detections with conf > 0.25 as normalised boxes of the batch image. */
function pushPredRows(predRows: number[], det: Float32Array, si: number, batch: Batch): void {
  for (let r = 0; r < det.length; r += 6) {
    if (det[r + 4]! <= 0.25) continue;
    const [x1, y1, x2, y2] = [det[r]!, det[r + 1]!, det[r + 2]!, det[r + 3]!];
    predRows.push(si, det[r + 5]!, (x1 + x2) / 2 / batch.width, (y1 + y2) / 2 / batch.height, (x2 - x1) / batch.width, (y2 - y1) / batch.height);
  }
}

/** One image: labels [cls, x1, y1, x2, y2] and detections, both scaled back to the original image (val.py's labelsn / predn). */
function scoreImage(tally: Tally, det: Float32Array, si: number, batch: Batch, plots: boolean): void {
  const cls: number[] = [];
  const boxes: number[] = [];
  for (let r = 0; r < batch.targets.length; r += 6) {
    if (batch.targets[r] !== si) continue;
    const [x, y, w, h] = [batch.targets[r + 2]! * batch.width, batch.targets[r + 3]! * batch.height, batch.targets[r + 4]! * batch.width, batch.targets[r + 5]! * batch.height];
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
  yolo.scaleBoxes(img1, det, shape.orig, ratioPad, 6);
  for (const c of new Set(cls)) tally.imagesPerClass[c]!++;
  tally.stats.addImage(det, labels);
  if (plots && cls.length) tally.confusion.processBatch(det.length ? det : null, labels);
}

/** val_batch<k>_labels.jpg and val_batch<k>_pred.jpg. */
function plotValBatch(inputs: ValidationInputs, batch: Batch, k: number, predRows: number[]): Promise<unknown>[] {
  const base = { images: batch.images, shape: [batch.n, batch.height, batch.width, 3] as [number, number, number, number], paths: batch.paths };
  const warn = (e: Error): void => inputs.log.warn(`val_batch${k} plot not written: ${e.message}`);
  return [
    data.plotBatch({ ...base, targets: batch.targets }, inputs.names, path.join(inputs.saveDir, `val_batch${k}_labels.jpg`)).catch(warn),
    data.plotBatch({ ...base, targets: Float32Array.from(predRows) }, inputs.names, path.join(inputs.saveDir, `val_batch${k}_pred.jpg`)).catch(warn),
  ];
}

/** The loop over the validation loader: NMS and scoring of every image. */
async function runBatches(inputs: ValidationInputs, lossFn: yolo.ComputeLoss, opts: ValidateOptions): Promise<Tally> {
  const { nc } = inputs;
  const tally: Tally = { stats: new yolo.DetectionStats(nc), imagesPerClass: new Array<number>(nc).fill(0), confusion: new yolo.ConfusionMatrix(nc), lossSum: [0, 0, 0], batches: 0 };
  const indices = Array.from({ length: inputs.dataset.imFiles.length }, (_, i) => i);
  const plots: Promise<unknown>[] = [];
  for await (const batch of inputs.loader.epoch(indices, 0, inputs.batchSize)) {
    const predRows: number[] = [];
    const { predHost, items } = predict(inputs, lossFn, batch);
    for (let k = 0; k < 3; k++) tally.lossSum[k]! += items[k]!;
    tally.batches++;
    const no = 5 + nc;
    const dets = yolo.nonMaxSuppression(predHost, [batch.n, predHost.length / batch.n / no, no], {
      confThres: opts.confThres ?? 0.001,
      iouThres: opts.iouThres ?? 0.6,
      multiLabel: true,
      agnostic: inputs.singleCls,
      maxDet: 300,
    });
    const plotThis = opts.plots && tally.batches <= 3;
    for (let si = 0; si < batch.n; si++) {
      const det = dets[si]!.data;
      if (plotThis) pushPredRows(predRows, det, si, batch);
      scoreImage(tally, det, si, batch, opts.plots);
    }
    if (plotThis) plots.push(...plotValBatch(inputs, batch, tally.batches - 1, predRows));
  }
  await Promise.all(plots);
  return tally;
}

export async function validate(inputs: ValidationInputs, lossFn: yolo.ComputeLoss, opts: ValidateOptions): Promise<ValResult> {
  const t0 = Date.now();
  const { nc, names, log } = inputs;
  const tally = await runBatches(inputs, lossFn, opts);
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
      perClass.push({ cls: c, name: names[c] ?? String(c), images: tally.imagesPerClass[c]!, instances: m.nt[c]!, p: m.perClass!.p[i]!, r: m.perClass!.r[i]!, map50: s.ap50[i]!, map: s.apMean[i]! });
    });
  }
  log.info(valHeader());
  log.info(valRow('all', seen, instances, mp, mr, map50, map));
  if (instances === 0) log.warn(`no labels found in val set, can not compute metrics without labels`);
  if (opts.verbose && nc > 1) for (const c of perClass) log.info(valRow(c.name, c.images, c.instances, c.p, c.r, c.map50, c.map));
  const loss = tally.lossSum.map((v) => v / Math.max(1, tally.batches));
  const out: ValResult = { mp, mr, map50, map, loss, maps, seen, instances, perClass, seconds: (Date.now() - t0) / 1000 };
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
