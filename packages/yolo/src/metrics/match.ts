/**
 * val.py process_batch (the correct matrix at 10 IoU thresholds) and utils/metrics.py
 * ConfusionMatrix, with upstream's exact matching order.
 */
import { boxIou } from '../boxes.js';
import { linspace } from './ap.js';

/** torch.linspace(0.5, 0.95, 10) in float32. */
export function iouVector(): Float32Array {
  return Float32Array.from(linspace(0.5, 0.95, 10));
}

interface Match {
  label: number;
  det: number;
  iou: number;
}

/** np.unique(col, return_index=True)[1] applied to rows: the first row of each value, rows ordered by value. */
function uniqueFirst(rows: Match[], key: 'label' | 'det'): Match[] {
  const first = new Map<number, Match>();
  for (const r of rows) if (!first.has(r[key])) first.set(r[key], r);
  return [...first.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
}

/** Sort by IoU descending (numpy argsort()[::-1]: reversed stable ascending). */
function byIouDesc(rows: Match[]): Match[] {
  const asc = rows.map((r, i) => ({ r, i })).sort((a, b) => a.r.iou - b.r.iou || a.i - b.i);
  return asc.reverse().map((x) => x.r);
}

/**
 * @param detections [N, 6] = x1, y1, x2, y2, conf, cls
 * @param labels [M, 5] = cls, x1, y1, x2, y2
 * @returns correct [N, nIou] (0/1) row-major
 */
export function processBatch(
  detections: ArrayLike<number>,
  labels: ArrayLike<number>,
  iouv: ArrayLike<number> = iouVector(),
): Uint8Array {
  const N = Math.floor(detections.length / 6);
  const M = Math.floor(labels.length / 5);
  const K = iouv.length;
  const correct = new Uint8Array(N * K);
  if (!N || !M) return correct;
  const lb = new Float64Array(M * 4);
  for (let j = 0; j < M; j++) for (let k = 0; k < 4; k++) lb[j * 4 + k] = labels[j * 5 + 1 + k]!;
  const iou = boxIou(lb, detections, 1e-7, 4, 6); // [M, N]
  for (let t = 0; t < K; t++) {
    let matches: Match[] = [];
    // torch.where order: row-major over (label, detection)
    for (let l = 0; l < M; l++)
      for (let d = 0; d < N; d++) {
        const v = iou[l * N + d]!;
        if (v >= iouv[t]! && labels[l * 5] === detections[d * 6 + 5]) matches.push({ label: l, det: d, iou: v });
      }
    if (!matches.length) continue;
    if (matches.length > 1) {
      matches = byIouDesc(matches);
      matches = uniqueFirst(matches, 'det');
      matches = uniqueFirst(matches, 'label');
    }
    for (const m of matches) correct[m.det * K + t] = 1;
  }
  return correct;
}

/** utils/metrics.py ConfusionMatrix: (nc+1) x (nc+1), rows = predicted class, columns = true class; index nc = background. */
export class ConfusionMatrix {
  readonly matrix: Float64Array;
  constructor(
    readonly nc: number,
    readonly conf = 0.25,
    readonly iouThres = 0.45,
  ) {
    this.matrix = new Float64Array((nc + 1) * (nc + 1));
  }

  private add(pred: number, truth: number): void {
    this.matrix[pred * (this.nc + 1) + truth]! += 1;
  }

  /**
   * @param detections [N, 6] = x1, y1, x2, y2, conf, cls, or null when the image had no detections
   * @param labels [M, 5] = cls, x1, y1, x2, y2
   */
  processBatch(detections: ArrayLike<number> | null, labels: ArrayLike<number>): void {
    const M = Math.floor(labels.length / 5);
    if (detections === null) {
      for (let l = 0; l < M; l++) this.add(this.nc, Math.trunc(labels[l * 5]!));
      return;
    }
    const dets: number[] = [];
    for (let d = 0; d < Math.floor(detections.length / 6); d++) if (detections[d * 6 + 4]! > this.conf) dets.push(d);
    const box = new Float64Array(dets.length * 4);
    dets.forEach((d, k) => {
      for (let q = 0; q < 4; q++) box[k * 4 + q] = detections[d * 6 + q]!;
    });
    const lb = new Float64Array(M * 4);
    for (let j = 0; j < M; j++) for (let k = 0; k < 4; k++) lb[j * 4 + k] = labels[j * 5 + 1 + k]!;
    const iou = boxIou(lb, box);
    const N = dets.length;
    let matches: Match[] = [];
    for (let l = 0; l < M; l++)
      for (let d = 0; d < N; d++)
        if (iou[l * N + d]! > this.iouThres) matches.push({ label: l, det: d, iou: iou[l * N + d]! });
    if (matches.length > 1) {
      matches = byIouDesc(matches);
      matches = uniqueFirst(matches, 'det');
      matches = byIouDesc(matches);
      matches = uniqueFirst(matches, 'label');
    }
    const any = matches.length > 0;
    const detCls = dets.map((d) => Math.trunc(detections[d * 6 + 5]!));
    for (let l = 0; l < M; l++) {
      const gc = Math.trunc(labels[l * 5]!);
      const js = matches.filter((m) => m.label === l);
      if (any && js.length === 1) this.add(detCls[js[0]!.det]!, gc);
      else this.add(this.nc, gc); // true background (missed)
    }
    if (any) detCls.forEach((dc, d) => matches.some((m) => m.det === d) || this.add(dc, this.nc)); // predicted background
  }

  /** True and false positives per class (diagonal, row sums minus diagonal), background excluded. */
  tpFp(): { tp: Float64Array; fp: Float64Array } {
    const n = this.nc + 1;
    const tp = new Float64Array(this.nc);
    const fp = new Float64Array(this.nc);
    for (let c = 0; c < this.nc; c++) {
      tp[c] = this.matrix[c * n + c]!;
      let s = 0;
      for (let k = 0; k < n; k++) s += this.matrix[c * n + k]!;
      fp[c] = s - tp[c]!;
    }
    return { tp, fp };
  }
}
