/**
 * utils/metrics.py ap_per_class / compute_ap / smooth / fitness, float64 like NumPy.
 */
import { roundHalfEven } from '@yolo-launch/core';

/** np.linspace(start, stop, num) (endpoint included, computed as start + i*step). */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = start + i * step;
  if (num > 1) out[num - 1] = stop;
  return out;
}

/** np.interp(x, xp, fp, left, right) for increasing xp (ties: the last equal xp wins, as NumPy). */
export function interp(
  x: ArrayLike<number>,
  xp: ArrayLike<number>,
  fp: ArrayLike<number>,
  left?: number,
  right?: number,
): Float64Array {
  const n = xp.length;
  const out = new Float64Array(x.length);
  const l = left ?? fp[0]!;
  const r = right ?? fp[n - 1]!;
  for (let k = 0; k < x.length; k++) {
    const v = x[k]!;
    if (Number.isNaN(v)) {
      out[k] = v;
      continue;
    }
    if (v < xp[0]!) {
      out[k] = l;
      continue;
    }
    if (v > xp[n - 1]!) {
      out[k] = r;
      continue;
    }
    // largest j with xp[j] <= v
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (xp[mid]! <= v) lo = mid;
      else hi = mid - 1;
    }
    const j = lo;
    if (j === n - 1 || xp[j] === v) out[k] = fp[j]!;
    else {
      const slope = (fp[j + 1]! - fp[j]!) / (xp[j + 1]! - xp[j]!);
      let res = slope * (v - xp[j]!) + fp[j]!;
      if (Number.isNaN(res)) {
        res = slope * (v - xp[j + 1]!) + fp[j + 1]!;
        if (Number.isNaN(res) && fp[j] === fp[j + 1]) res = fp[j]!;
      }
      out[k] = res;
    }
  }
  return out;
}

/** np.trapz(y, x). */
export function trapz(y: ArrayLike<number>, x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 1; i < y.length; i++) s += ((x[i]! - x[i - 1]!) * (y[i]! + y[i - 1]!)) / 2;
  return s;
}

/** compute_ap: 101-point interpolated area under the precision envelope (COCO). */
export function computeAp(
  recall: ArrayLike<number>,
  precision: ArrayLike<number>,
): { ap: number; mpre: Float64Array; mrec: Float64Array } {
  const n = recall.length;
  const mrec = new Float64Array(n + 2);
  const mpre = new Float64Array(n + 2);
  mrec[0] = 0;
  mpre[0] = 1;
  for (let i = 0; i < n; i++) {
    mrec[i + 1] = recall[i]!;
    mpre[i + 1] = precision[i]!;
  }
  mrec[n + 1] = 1;
  mpre[n + 1] = 0;
  // precision envelope: np.flip(np.maximum.accumulate(np.flip(mpre)))
  for (let i = n; i >= 0; i--) mpre[i] = Math.max(mpre[i]!, mpre[i + 1]!);
  const x = linspace(0, 1, 101);
  return { ap: trapz(interp(x, mrec, mpre), x), mpre, mrec };
}

/** smooth(y, f): box filter of odd width round(len*f*2)//2 + 1, edges padded with the end values. */
export function smooth(y: ArrayLike<number>, frac = 0.05): Float64Array {
  const nf = Math.floor(roundHalfEven(y.length * frac * 2) / 2) + 1;
  const half = Math.floor(nf / 2);
  const yp = new Float64Array(y.length + 2 * half);
  for (let i = 0; i < half; i++) {
    yp[i] = y[0]!;
    yp[yp.length - 1 - i] = y[y.length - 1]!;
  }
  for (let i = 0; i < y.length; i++) yp[half + i] = y[i]!;
  const out = new Float64Array(yp.length - nf + 1);
  const w = 1 / nf;
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (let k = 0; k < nf; k++) s += yp[i + k]! * w;
    out[i] = s;
  }
  return out;
}

export interface ApPerClassResult {
  /** per class (uniqueClasses order) */
  tp: Float64Array;
  fp: Float64Array;
  p: Float64Array;
  r: Float64Array;
  f1: Float64Array;
  /** [nc, nIou] row-major */
  ap: Float64Array;
  nIou: number;
  uniqueClasses: Int32Array;
  /** Per class (uniqueClasses order) P, R and F1 against confidence px = linspace(0, 1, 1000), at IoU 0.5 (the PR / F1 plots). */
  curves: { px: Float64Array; p: Float64Array[]; r: Float64Array[]; f1: Float64Array[] };
}

/**
 * ap_per_class(tp, conf, pred_cls, target_cls): per class AP at each IoU threshold, and P, R,
 * F1 at the confidence maximising the smoothed mean F1.
 * @param tp [n, nIou] row-major true-positive flags
 */
export function apPerClass(
  tp: ArrayLike<number | boolean>,
  nIou: number,
  conf: ArrayLike<number>,
  predCls: ArrayLike<number>,
  targetCls: ArrayLike<number>,
  eps = 1e-16,
): ApPerClassResult {
  const n = conf.length;
  // np.argsort(-conf): stable on our side (ties are rare and unordered upstream)
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => conf[b]! - conf[a]! || a - b);
  const counts = new Map<number, number>();
  for (let i = 0; i < targetCls.length; i++) counts.set(targetCls[i]!, (counts.get(targetCls[i]!) ?? 0) + 1);
  const unique = [...counts.keys()].sort((a, b) => a - b);
  const nc = unique.length;
  const px = linspace(0, 1, 1000);
  const negPx = px.map((v) => -v);
  const ap = new Float64Array(nc * nIou);
  const pCurve = unique.map((): Float64Array => new Float64Array(1000));
  const rCurve = unique.map((): Float64Array => new Float64Array(1000));
  unique.forEach((c, ci) => {
    const idx = order.filter((i) => predCls[i] === c);
    const nl = counts.get(c)!;
    const np = idx.length;
    if (np === 0 || nl === 0) return;
    const negConf = idx.map((i) => -conf[i]!);
    const recall: Float64Array[] = [];
    const precision: Float64Array[] = [];
    for (let j = 0; j < nIou; j++) {
      const rc = new Float64Array(np);
      const pr = new Float64Array(np);
      let tpc = 0;
      let fpc = 0;
      idx.forEach((i, k) => {
        const t = Number(tp[i * nIou + j]!);
        tpc += t;
        fpc += 1 - t;
        rc[k] = tpc / (nl + eps);
        pr[k] = tpc / (tpc + fpc);
      });
      recall.push(rc);
      precision.push(pr);
    }
    rCurve[ci] = interp(negPx, negConf, recall[0]!, 0);
    pCurve[ci] = interp(negPx, negConf, precision[0]!, 1);
    for (let j = 0; j < nIou; j++) ap[ci * nIou + j] = computeAp(recall[j]!, precision[j]!).ap;
  });
  const f1Curve = unique.map((_, ci) =>
    pCurve[ci]!.map((p, k) => (2 * p * rCurve[ci]![k]!) / (p + rCurve[ci]![k]! + eps)),
  );
  const meanF1 = new Float64Array(1000);
  for (let k = 0; k < 1000; k++) {
    let s = 0;
    for (let ci = 0; ci < nc; ci++) s += f1Curve[ci]![k]!;
    meanF1[k] = nc ? s / nc : 0;
  }
  const sm = smooth(meanF1, 0.1);
  let best = 0;
  for (let k = 1; k < sm.length; k++) if (sm[k]! > sm[best]!) best = k;
  const p = Float64Array.from(pCurve, (c) => c[best]!);
  const r = Float64Array.from(rCurve, (c) => c[best]!);
  const f1 = Float64Array.from(f1Curve, (c) => c[best]!);
  const tpOut = Float64Array.from(r, (v, ci) => roundHalfEven(v * counts.get(unique[ci]!)!));
  const fpOut = Float64Array.from(tpOut, (t, ci) => roundHalfEven(t / (p[ci]! + eps) - t));
  return {
    tp: tpOut,
    fp: fpOut,
    p,
    r,
    f1,
    ap,
    nIou,
    uniqueClasses: Int32Array.from(unique),
    curves: { px, p: pCurve, r: rCurve, f1: f1Curve },
  };
}

/** The summary val.py prints: mp, mr, map50, map (mean over classes of ap[:,0] and ap.mean(1)). */
export function apSummary(res: ApPerClassResult): {
  ap50: Float64Array;
  apMean: Float64Array;
  mp: number;
  mr: number;
  map50: number;
  map: number;
} {
  const nc = res.uniqueClasses.length;
  const ap50 = new Float64Array(nc);
  const apMean = new Float64Array(nc);
  for (let c = 0; c < nc; c++) {
    ap50[c] = res.ap[c * res.nIou]!;
    let s = 0;
    for (let j = 0; j < res.nIou; j++) s += res.ap[c * res.nIou + j]!;
    apMean[c] = s / res.nIou;
  }
  const mean = (a: Float64Array): number => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : 0);
  return { ap50, apMean, mp: mean(res.p), mr: mean(res.r), map50: mean(ap50), map: mean(apMean) };
}

/** fitness: [P, R, mAP@.5, mAP@.5:.95, ...] . [0, 0, 0.1, 0.9]; extra columns ignored. */
export function fitness(row: ArrayLike<number>): number {
  const w = [0.0, 0.0, 0.1, 0.9];
  let s = 0;
  for (let k = 0; k < 4; k++) s += (row[k] ?? 0) * w[k]!;
  return s;
}
