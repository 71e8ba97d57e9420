// val.py's run() as the trainer calls it: the (EMA) model in eval mode over the validation
// set, NMS (conf 0.001, IoU 0.6, multi-label), the correct matrix at IoU 0.5:0.95, AP per
// class, and YOLOv5's table (Class, Images, Instances, P, R, mAP50, mAP50-95).

import * as path from 'node:path';
import { tf } from '@yolo-launch/backend';
import * as data from '@yolo-launch/data';
import type * as yolo from '@yolo-launch/yolo';
import type { TrainContext } from './loop.js';
import { IOUV, apPerClass, nmsImage, processBatch } from './metrics.js';
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
  curves?: ReturnType<typeof apPerClass>['curves'];
  confusion?: number[][];
  seconds: number;
}

function valRow(name: string, images: number, instances: number, p: number, r: number, m50: number, m: number): string {
  return padLeft(name, 22) + [images, instances].map((v) => padLeft(String(Math.round(v)), 11)).join('') + [p, r, m50, m].map((v) => padLeft(formatG(v, 3), 11)).join('');
}

export function valHeader(): string {
  return padLeft('Class', 22) + ['Images', 'Instances', 'P', 'R', 'mAP50', 'mAP50-95'].map((s) => padLeft(s, 11)).join('');
}

/** scale_boxes + clip_boxes: letterboxed pixels -> original image pixels (in place on x1y1x2y2 at `off`). */
function toOriginal(b: Float32Array, off: number, shape: { orig: [number, number]; ratio: [number, number]; pad: [number, number] }): void {
  const [h0, w0] = shape.orig;
  const g = shape.ratio[0];
  const [pw, ph] = shape.pad;
  b[off] = Math.min(Math.max((b[off]! - pw) / g, 0), w0);
  b[off + 1] = Math.min(Math.max((b[off + 1]! - ph) / g, 0), h0);
  b[off + 2] = Math.min(Math.max((b[off + 2]! - pw) / g, 0), w0);
  b[off + 3] = Math.min(Math.max((b[off + 3]! - ph) / g, 0), h0);
}

export async function validate(
  ctx: TrainContext,
  lossFn: yolo.ComputeLoss,
  opts: { plots: boolean; verbose: boolean; confThres?: number; iouThres?: number },
): Promise<ValResult> {
  const t0 = Date.now();
  const { model, nc } = ctx;
  const ds = ctx.valDataset!;
  const loader = ctx.valLoader!;
  const bs = ctx.batchPerRank * 2;
  const indices = Array.from({ length: ds.imFiles.length }, (_, i) => i);
  const T = IOUV.length;
  const tps: Uint8Array[] = [];
  const confs: number[] = [];
  const predCls: number[] = [];
  const targetCls: number[] = [];
  const imagesPerClass = new Array<number>(nc).fill(0);
  const confusion = Array.from({ length: nc + 1 }, () => new Array<number>(nc + 1).fill(0));
  const lossSum = [0, 0, 0];
  let batches = 0;
  let seen = 0;
  const plots: Promise<unknown>[] = [];
  for await (const batch of loader.epoch(indices, 0, bs)) {
    const predRows: number[] = [];
    const { predHost, items } = tf.tidy(() => {
      const x = tf.div(tf.cast(tf.tensor4d(batch.images, [batch.n, batch.height, batch.width, 3], 'int32'), 'float32'), 255) as tf.Tensor4D;
      const { pred, raw } = model.forwardEval(x);
      const out = lossFn.compute(raw, batch.targets);
      return { predHost: pred.dataSync() as Float32Array, items: out.items.dataSync() as Float32Array };
    });
    for (let k = 0; k < 3; k++) lossSum[k]! += items[k]!;
    batches++;
    const per = predHost.length / batch.n;
    for (let si = 0; si < batch.n; si++) {
      seen++;
      const det = nmsImage(predHost.subarray(si * per, (si + 1) * per), nc, {
        confThres: opts.confThres ?? 0.001,
        iouThres: opts.iouThres ?? 0.6,
        multiLabel: true,
        agnostic: ctx.o.single_cls,
        maxDet: 300,
      });
      if (opts.plots && batches <= 3) {
        // val_batch*_pred.jpg: detections with conf > 0.25 as normalised boxes of the batch image
        for (let r = 0; r < det.length; r += 6) {
          if (det[r + 4]! <= 0.25) continue;
          const [x1, y1, x2, y2] = [det[r]!, det[r + 1]!, det[r + 2]!, det[r + 3]!];
          predRows.push(si, det[r + 5]!, (x1 + x2) / 2 / batch.width, (y1 + y2) / 2 / batch.height, (x2 - x1) / batch.width, (y2 - y1) / batch.height);
        }
      }
      const rows: number[] = [];
      for (let r = 0; r < batch.targets.length; r += 6) {
        if (batch.targets[r] !== si) continue;
        const [c, x, y, w, h] = [batch.targets[r + 1]!, batch.targets[r + 2]! * batch.width, batch.targets[r + 3]! * batch.height, batch.targets[r + 4]! * batch.width, batch.targets[r + 5]! * batch.height];
        rows.push(c, x - w / 2, y - h / 2, x + w / 2, y + h / 2);
      }
      const labels = Float32Array.from(rows);
      const shape = batch.shapes[si]!;
      for (let r = 0; r < labels.length; r += 5) toOriginal(labels, r + 1, shape);
      for (let r = 0; r < det.length; r += 6) toOriginal(det, r, shape);
      const nl = labels.length / 5;
      const present = new Set<number>();
      for (let r = 0; r < labels.length; r += 5) {
        targetCls.push(labels[r]!);
        present.add(labels[r]!);
      }
      for (const c of present) imagesPerClass[c]!++;
      if (det.length === 0) continue;
      const correct = nl ? processBatch(det, labels) : new Uint8Array((det.length / 6) * T);
      tps.push(correct);
      for (let r = 0; r < det.length; r += 6) {
        confs.push(det[r + 4]!);
        predCls.push(det[r + 5]!);
      }
      if (opts.plots) accumulateConfusion(confusion, det, labels, nc);
    }
    if (opts.plots && batches <= 3) {
      const k = batches - 1;
      const base = { images: batch.images, shape: [batch.n, batch.height, batch.width, 3] as [number, number, number, number], paths: batch.paths };
      const warn = (e: Error): void => ctx.log.warn(`val_batch${k} plot not written: ${e.message}`);
      plots.push(data.plotBatch({ ...base, targets: batch.targets }, ctx.names, path.join(ctx.saveDir, `val_batch${k}_labels.jpg`)).catch(warn));
      plots.push(data.plotBatch({ ...base, targets: Float32Array.from(predRows) }, ctx.names, path.join(ctx.saveDir, `val_batch${k}_pred.jpg`)).catch(warn));
    }
  }
  await Promise.all(plots);
  const tpAll = new Uint8Array(tps.reduce((s, t) => s + t.length, 0));
  let off = 0;
  for (const t of tps) {
    tpAll.set(t, off);
    off += t.length;
  }
  const nt = new Array<number>(nc).fill(0);
  for (const c of targetCls) nt[c]!++;
  let mp = 0;
  let mr = 0;
  let map50 = 0;
  let map = 0;
  const perClass: ClassRow[] = [];
  const maps = new Array<number>(nc).fill(0);
  let curves: ValResult['curves'];
  if (confs.length && targetCls.length) {
    const res = apPerClass(tpAll, T, confs, predCls, targetCls);
    curves = res.curves;
    const ap50 = res.ap.map((a) => a[0]!);
    const apm = res.ap.map((a) => a.reduce((s, v) => s + v, 0) / a.length);
    const mean = (a: ArrayLike<number>): number => (a.length ? Array.from(a).reduce((s, v) => s + v, 0) / a.length : 0);
    mp = mean(res.p);
    mr = mean(res.r);
    map50 = mean(ap50);
    map = mean(apm);
    maps.fill(map);
    res.classes.forEach((c, i) => {
      maps[c] = apm[i]!;
      perClass.push({ cls: c, name: ctx.names[c] ?? String(c), images: imagesPerClass[c]!, instances: nt[c]!, p: res.p[i]!, r: res.r[i]!, map50: ap50[i]!, map: apm[i]! });
    });
  }
  const log = ctx.log;
  log.info(valHeader());
  log.info(valRow('all', seen, targetCls.length, mp, mr, map50, map));
  if (targetCls.length === 0) log.warn(`no labels found in val set, can not compute metrics without labels`);
  if (opts.verbose && nc > 1) for (const c of perClass) log.info(valRow(c.name, c.images, c.instances, c.p, c.r, c.map50, c.map));
  const loss = lossSum.map((v) => v / Math.max(1, batches));
  const out: ValResult = { mp, mr, map50, map, loss, maps, seen, instances: targetCls.length, perClass, seconds: (Date.now() - t0) / 1000 };
  if (curves) out.curves = curves;
  if (opts.plots) out.confusion = confusion;
  log.record('val', { mp, mr, map50, map, loss, seen, instances: targetCls.length });
  return out;
}

/** ConfusionMatrix.process_batch (conf 0.25, IoU 0.45): rows predicted class, columns true class (nc = background). */
function accumulateConfusion(m: number[][], det: Float32Array, labels: Float32Array, nc: number): void {
  const dets: number[] = [];
  for (let r = 0; r < det.length; r += 6) if (det[r + 4]! > 0.25) dets.push(r);
  const nl = labels.length / 5;
  const used = new Set<number>();
  for (let l = 0; l < nl; l++) {
    let best = -1;
    let bestIou = 0.45;
    for (const r of dets) {
      if (used.has(r)) continue;
      const iw = Math.min(labels[l * 5 + 3]!, det[r + 2]!) - Math.max(labels[l * 5 + 1]!, det[r]!);
      const ih = Math.min(labels[l * 5 + 4]!, det[r + 3]!) - Math.max(labels[l * 5 + 2]!, det[r + 1]!);
      const inter = Math.max(0, iw) * Math.max(0, ih);
      const a = (labels[l * 5 + 3]! - labels[l * 5 + 1]!) * (labels[l * 5 + 4]! - labels[l * 5 + 2]!);
      const b = (det[r + 2]! - det[r]!) * (det[r + 3]! - det[r + 1]!);
      const iou = inter / (a + b - inter + 1e-7);
      if (iou > bestIou) {
        bestIou = iou;
        best = r;
      }
    }
    const gc = labels[l * 5]!;
    if (best >= 0) {
      used.add(best);
      m[det[best + 5]!]![gc]!++;
    } else m[nc]![gc]!++;
  }
  for (const r of dets) if (!used.has(r)) m[det[r + 5]!]![nc]!++;
}
