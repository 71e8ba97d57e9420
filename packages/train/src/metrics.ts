// Validation metrics as val.py computes them: non_max_suppression, process_batch (the
// correct-matrix at 10 IoU thresholds) and ap_per_class (101-point COCO AP, P/R/F1 at the
// best mean-F1 confidence). Host-side Float64 code; tested against the fixtures' `metrics/`
// folder. (@yolo-launch/yolo implements the same functions for its own users; this file
// keeps the trainer's validation independent of its progress.)

export const IOUV = Float32Array.from({ length: 10 }, (_, i) => 0.5 + 0.05 * i);

/** Rows [x1, y1, x2, y2, conf, cls]. */
export type Detections = Float32Array;

export interface NmsOptions {
  confThres: number;
  iouThres: number;
  multiLabel: boolean;
  agnostic: boolean;
  maxDet: number;
  classes?: number[];
}

function iouXyxy(a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number, eps = 1e-7): number {
  const iw = Math.min(a[ai + 2]!, b[bi + 2]!) - Math.max(a[ai]!, b[bi]!);
  const ih = Math.min(a[ai + 3]!, b[bi + 3]!) - Math.max(a[ai + 1]!, b[bi + 1]!);
  const inter = Math.max(iw, 0) * Math.max(ih, 0);
  const areaA = (a[ai + 2]! - a[ai]!) * (a[ai + 3]! - a[ai + 1]!);
  const areaB = (b[bi + 2]! - b[bi]!) * (b[bi + 3]! - b[bi + 1]!);
  return inter / (areaA + areaB - inter + eps);
}

/**
 * non_max_suppression for one image. `pred` is [N, 5+nc] rows (xywh pixels, obj, class
 * probabilities). Returns [k, 6] rows [x1, y1, x2, y2, conf, cls].
 */
export function nmsImage(pred: Float32Array, nc: number, o: NmsOptions): Detections {
  const no = 5 + nc;
  const n = pred.length / no;
  const maxWh = 7680;
  const maxNms = 30000;
  const cand: number[][] = [];
  for (let r = 0; r < n; r++) {
    const base = r * no;
    const obj = pred[base + 4]!;
    if (!(obj > o.confThres)) continue;
    const x = pred[base]!;
    const y = pred[base + 1]!;
    const w = pred[base + 2]!;
    const h = pred[base + 3]!;
    const box = [x - w / 2, y - h / 2, x + w / 2, y + h / 2];
    if (o.multiLabel) {
      for (let c = 0; c < nc; c++) {
        const conf = Math.fround(pred[base + 5 + c]! * obj);
        if (conf > o.confThres) cand.push([...box, conf, c]);
      }
    } else {
      let best = 0;
      let bc = 0;
      for (let c = 0; c < nc; c++) {
        const conf = Math.fround(pred[base + 5 + c]! * obj);
        if (c === 0 || conf > best) {
          best = conf;
          bc = c;
        }
      }
      if (best > o.confThres) cand.push([...box, best, bc]);
    }
  }
  let rows = o.classes ? cand.filter((c) => o.classes!.includes(c[5]!)) : cand;
  rows.sort((a, b) => b[4]! - a[4]!);
  if (rows.length > maxNms) rows = rows.slice(0, maxNms);
  const flat = new Float64Array(rows.length * 4);
  rows.forEach((r, k) => {
    const off = o.agnostic ? 0 : r[5]! * maxWh;
    flat[k * 4] = r[0]! + off;
    flat[k * 4 + 1] = r[1]! + off;
    flat[k * 4 + 2] = r[2]! + off;
    flat[k * 4 + 3] = r[3]! + off;
  });
  const keep: number[] = [];
  const suppressed = new Uint8Array(rows.length);
  for (let k = 0; k < rows.length && keep.length < o.maxDet; k++) {
    if (suppressed[k]) continue;
    keep.push(k);
    for (let m = k + 1; m < rows.length; m++) if (!suppressed[m] && iouXyxy(flat, k * 4, flat, m * 4) > o.iouThres) suppressed[m] = 1;
  }
  const out = new Float32Array(keep.length * 6);
  keep.forEach((k, j) => out.set(rows[k]!, j * 6));
  return out;
}

/**
 * val.py process_batch: detections [N, 6] (x1, y1, x2, y2, conf, cls), labels [M, 5]
 * (cls, x1, y1, x2, y2). Returns the correct matrix [N, iouv.length] (0/1).
 */
export function processBatch(detections: Float32Array, labels: Float32Array, iouv: ArrayLike<number> = IOUV): Uint8Array {
  const N = detections.length / 6;
  const M = labels.length / 5;
  const T = iouv.length;
  const correct = new Uint8Array(N * T);
  if (N === 0 || M === 0) return correct;
  const iou = new Float32Array(M * N);
  for (let l = 0; l < M; l++) for (let dI = 0; dI < N; dI++) iou[l * N + dI] = iouXyxy(labels, l * 5 + 1, detections, dI * 6);
  for (let t = 0; t < T; t++) {
    const matches: [number, number, number][] = [];
    for (let l = 0; l < M; l++)
      for (let dI = 0; dI < N; dI++) {
        const v = iou[l * N + dI]!;
        if (v >= iouv[t]! && labels[l * 5] === detections[dI * 6 + 5]) matches.push([l, dI, v]);
      }
    if (matches.length === 0) continue;
    let m = matches;
    if (m.length > 1) {
      // numpy: matches[argsort(iou)[::-1]]; then np.unique(det, return_index) keeps the
      // highest-IoU pair per detection AND reorders by detection index; then
      // np.unique(label, return_index) keeps the first pair per label in that order.
      m = [...m].sort((a, b) => b[2] - a[2]);
      const byDet = new Map<number, [number, number, number]>();
      for (const x of m) if (!byDet.has(x[1])) byDet.set(x[1], x);
      m = [...byDet.values()].sort((a, b) => a[1] - b[1]);
      const byLabel = new Map<number, [number, number, number]>();
      for (const x of m) if (!byLabel.has(x[0])) byLabel.set(x[0], x);
      m = [...byLabel.values()];
    }
    for (const [, dI] of m) correct[dI * T + t] = 1;
  }
  return correct;
}

function interp(x: number, xp: ArrayLike<number>, fp: ArrayLike<number>, left?: number, right?: number): number {
  const n = xp.length;
  if (n === 0) return NaN;
  if (x < xp[0]!) return left ?? fp[0]!;
  if (x > xp[n - 1]!) return right ?? fp[n - 1]!;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xp[mid]! <= x) lo = mid;
    else hi = mid;
  }
  if (x === xp[hi]!) return fp[hi]!;
  const x0 = xp[lo]!;
  const x1 = xp[hi]!;
  if (x1 === x0) return fp[lo]!;
  return fp[lo]! + ((x - x0) * (fp[hi]! - fp[lo]!)) / (x1 - x0);
}

/** compute_ap: 101-point interpolated AP of one recall/precision curve. */
export function computeAp(recall: ArrayLike<number>, precision: ArrayLike<number>): number {
  const n = recall.length;
  const mrec = new Float64Array(n + 2);
  const mpre = new Float64Array(n + 2);
  mrec[0] = 0;
  mpre[0] = 1;
  for (let k = 0; k < n; k++) {
    mrec[k + 1] = recall[k]!;
    mpre[k + 1] = precision[k]!;
  }
  mrec[n + 1] = 1;
  mpre[n + 1] = 0;
  for (let k = n; k >= 0; k--) mpre[k] = Math.max(mpre[k]!, mpre[k + 1]!);
  // np.trapz(np.interp(x, mrec, mpre), x) with x = linspace(0, 1, 101)
  let ap = 0;
  let prev = interp(0, mrec, mpre);
  for (let k = 1; k <= 100; k++) {
    const y = interp(k / 100, mrec, mpre);
    ap += ((y + prev) / 2) * 0.01;
    prev = y;
  }
  return ap;
}

function smooth(y: Float64Array, f: number): Float64Array {
  const nf = Math.floor(Math.round(y.length * f * 2) / 2) + 1;
  const half = Math.floor(nf / 2);
  const yp = new Float64Array(y.length + 2 * half);
  yp.fill(y[0]!, 0, half);
  yp.set(y, half);
  yp.fill(y[y.length - 1]!, half + y.length);
  const out = new Float64Array(yp.length - nf + 1);
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (let k = 0; k < nf; k++) s += yp[i + k]! / nf;
    out[i] = s;
  }
  return out;
}

export interface ApResult {
  tp: Float64Array;
  fp: Float64Array;
  p: Float64Array;
  r: Float64Array;
  f1: Float64Array;
  /** [classes x T] */
  ap: Float64Array[];
  classes: number[];
  /** Per-class curves on px = linspace(0, 1, 1000) (for PR/F1 plots). */
  curves: { px: Float64Array; p: Float64Array[]; r: Float64Array[]; f1: Float64Array[] };
}

/** ap_per_class. tp [n x T] 0/1 rows, conf [n], predCls [n], targetCls [m]. */
export function apPerClass(tp: Uint8Array, T: number, conf: ArrayLike<number>, predCls: ArrayLike<number>, targetCls: ArrayLike<number>, eps = 1e-16): ApResult {
  const n = conf.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => conf[b]! - conf[a]! || a - b);
  const counts = new Map<number, number>();
  for (let k = 0; k < targetCls.length; k++) counts.set(targetCls[k]!, (counts.get(targetCls[k]!) ?? 0) + 1);
  const classes = [...counts.keys()].sort((a, b) => a - b);
  const NP = 1000;
  const px = Float64Array.from({ length: NP }, (_, i) => i / (NP - 1));
  const ap: Float64Array[] = [];
  const pc: Float64Array[] = [];
  const rc: Float64Array[] = [];
  for (const c of classes) {
    const rows = order.filter((k) => predCls[k] === c);
    const nl = counts.get(c)!;
    const apRow = new Float64Array(T);
    const pRow = new Float64Array(NP);
    const rRow = new Float64Array(NP);
    ap.push(apRow);
    pc.push(pRow);
    rc.push(rRow);
    if (rows.length === 0 || nl === 0) continue;
    const negConf = Float64Array.from(rows, (k) => -conf[k]!);
    const recall: Float64Array[] = [];
    const precision: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const rec = new Float64Array(rows.length);
      const pre = new Float64Array(rows.length);
      let tpc = 0;
      let fpc = 0;
      rows.forEach((k, j) => {
        const v = tp[k * T + t]!;
        tpc += v;
        fpc += 1 - v;
        rec[j] = tpc / (nl + eps);
        pre[j] = tpc / (tpc + fpc);
      });
      recall.push(rec);
      precision.push(pre);
    }
    for (let q = 0; q < NP; q++) {
      rRow[q] = interp(-px[q]!, negConf, recall[0]!, 0);
      pRow[q] = interp(-px[q]!, negConf, precision[0]!, 1);
    }
    for (let t = 0; t < T; t++) apRow[t] = computeAp(recall[t]!, precision[t]!);
  }
  const f1c = pc.map((pr, ci) => pr.map((pv, q) => (2 * pv * rc[ci]![q]!) / (pv + rc[ci]![q]! + eps)));
  const meanF1 = new Float64Array(NP);
  if (classes.length) for (let q = 0; q < NP; q++) meanF1[q] = f1c.reduce((s, f) => s + f[q]!, 0) / classes.length;
  const sm = smooth(meanF1, 0.1);
  let best = 0;
  for (let q = 1; q < sm.length; q++) if (sm[q]! > sm[best]!) best = q;
  const p = Float64Array.from(pc, (r) => r[best]!);
  const r = Float64Array.from(rc, (x) => x[best]!);
  const f1 = Float64Array.from(f1c, (x) => x[best]!);
  const tpOut = Float64Array.from(classes, (c, ci) => Math.round(r[ci]! * counts.get(c)!));
  const fpOut = Float64Array.from(tpOut, (t, ci) => Math.round(t / (p[ci]! + eps) - t));
  return { tp: tpOut, fp: fpOut, p, r, f1, ap, classes, curves: { px, p: pc, r: rc, f1: f1c } };
}
