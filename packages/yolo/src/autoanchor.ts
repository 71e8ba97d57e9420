/**
 * utils/autoanchor.py: check_anchors (best possible recall, anchors above threshold) and
 * kmean_anchors (k-means on label w/h, then a genetic evolution of anchor_fitness), seeded.
 */
import { Rng } from './util/rng.js';

const f = Math.fround;

/** Dataset view AutoAnchor needs: per image (w, h) and its labels [class, x, y, w, h] (normalised). */
export interface AnchorDataset {
  /** [n, 2] image sizes (width, height). */
  shapes: ArrayLike<number>;
  /** per image, rows of 5 values. */
  labels: ArrayLike<number>[];
}

/**
 * Label sizes in pixels at imgsz: wh = label_wh * (imgsz * shape / max(shape)) (* per-image scale),
 * float64 products rounded to float32 like the upstream tensor. Returns [n, 2] flat.
 */
export function labelWh(ds: AnchorDataset, imgsz: number, scales?: ArrayLike<number>): Float32Array {
  const out: number[] = [];
  ds.labels.forEach((l, i) => {
    const w = ds.shapes[i * 2]!;
    const h = ds.shapes[i * 2 + 1]!;
    const m = Math.max(w, h);
    const s = scales ? scales[i]! : 1;
    const sw = ((imgsz * w) / m) * s;
    const sh = ((imgsz * h) / m) * s;
    for (let r = 0; r < l.length / 5; r++) out.push(f(l[r * 5 + 3]! * sw), f(l[r * 5 + 4]! * sh));
  });
  return Float32Array.from(out);
}

/** Per label: x[k] = min over w,h of min(r, 1/r) for each anchor k; best = max over anchors. */
function ratios(wh: Float32Array, anchors: ArrayLike<number>): { x: Float32Array; best: Float32Array; nA: number } {
  const n = wh.length / 2;
  const nA = anchors.length / 2;
  const x = new Float32Array(n * nA);
  const best = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let b = -Infinity;
    for (let k = 0; k < nA; k++) {
      const rw = f(wh[i * 2]! / anchors[k * 2]!);
      const rh = f(wh[i * 2 + 1]! / anchors[k * 2 + 1]!);
      const v = Math.min(Math.min(rw, f(1 / rw)), Math.min(rh, f(1 / rh)));
      x[i * nA + k] = v;
      if (v > b) b = v;
    }
    best[i] = b;
  }
  return { x, best, nA };
}

export interface AnchorMetric {
  /** best possible recall: fraction of labels with some anchor within thr */
  bpr: number;
  /** anchors above threshold, mean per label */
  aat: number;
  /** best ratio per label */
  best: Float32Array;
}

/** The metric inside check_anchors. @param anchors pixels [k, 2] flat */
export function anchorMetric(wh: Float32Array, anchors: ArrayLike<number>, thr: number): AnchorMetric {
  const { x, best, nA } = ratios(wh, anchors);
  const n = best.length;
  let above = 0;
  let rec = 0;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < nA; k++) if (x[i * nA + k]! > 1 / thr) above++;
    if (best[i]! > 1 / thr) rec++;
  }
  return { bpr: n ? rec / n : 0, aat: n ? above / n : 0, best };
}

/** kmean_anchors' anchor_fitness: mean(best * (best > 1/thr)). */
export function anchorFitness(wh: Float32Array, anchors: ArrayLike<number>, thr: number): number {
  const { best } = ratios(wh, anchors);
  let s = 0;
  for (let i = 0; i < best.length; i++) if (best[i]! > 1 / thr) s += best[i]!;
  return best.length ? s / best.length : 0;
}

export interface KmeanOptions {
  n?: number;
  imgSize?: number;
  thr?: number;
  gen?: number;
  seed?: number;
}

/** Sort anchors by area (print_results order). */
function sortByArea(k: Float64Array): Float64Array {
  const n = k.length / 2;
  const idx = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => k[a * 2]! * k[a * 2 + 1]! - k[b * 2]! * k[b * 2 + 1]!,
  );
  return Float64Array.from(idx.flatMap((i) => [k[i * 2]!, k[i * 2 + 1]!]));
}

/** scipy.cluster.vq.kmeans(obs, k, iter=30): best (lowest distortion) of `iter` seeded runs. */
function kmeans(obs: Float64Array, k: number, rng: Rng, iter = 30, thresh = 1e-5): Float64Array {
  const n = obs.length / 2;
  let bestCode = new Float64Array(k * 2);
  let bestDist = Infinity;
  for (let run = 0; run < iter; run++) {
    // initial codebook: k distinct random observations
    const chosen = new Set<number>();
    while (chosen.size < k) chosen.add(rng.int(n));
    let code = Float64Array.from([...chosen].flatMap((i) => [obs[i * 2]!, obs[i * 2 + 1]!]));
    let prev = Infinity;
    let dist: number;
    for (;;) {
      const sum = new Float64Array(k * 2);
      const cnt = new Float64Array(k);
      dist = 0;
      for (let i = 0; i < n; i++) {
        let bj = 0;
        let bd = Infinity;
        for (let j = 0; j < k; j++) {
          const d = Math.hypot(obs[i * 2]! - code[j * 2]!, obs[i * 2 + 1]! - code[j * 2 + 1]!);
          if (d < bd) {
            bd = d;
            bj = j;
          }
        }
        dist += bd;
        sum[bj * 2]! += obs[i * 2]!;
        sum[bj * 2 + 1]! += obs[i * 2 + 1]!;
        cnt[bj]! += 1;
      }
      dist /= n;
      // scipy drops empty clusters; we keep the old centre so k stays fixed
      code = code.map((v, q) => (cnt[q >> 1]! > 0 ? sum[q]! / cnt[q >> 1]! : v));
      if (prev - dist <= thresh) break;
      prev = dist;
    }
    if (dist < bestDist) {
      bestDist = dist;
      bestCode = code;
    }
  }
  return bestCode;
}

/**
 * kmean_anchors: k-means on whitened label w/h (labels with a side >= 2 px), then `gen`
 * generations of mutation keeping improvements of anchor_fitness. Returns pixels [n, 2] flat,
 * sorted by area. Seeded, so every rank computes the same anchors.
 */
export function kmeanAnchors(ds: AnchorDataset, opts: KmeanOptions = {}): Float32Array {
  const n = opts.n ?? 9;
  const imgSize = opts.imgSize ?? 640;
  const thr = opts.thr ?? 4.0;
  const gen = opts.gen ?? 1000;
  const rng = new Rng(opts.seed ?? 0);
  const wh0 = labelWh(ds, imgSize);
  const keep: number[] = [];
  for (let i = 0; i < wh0.length / 2; i++)
    if (wh0[i * 2]! >= 2 || wh0[i * 2 + 1]! >= 2) keep.push(wh0[i * 2]!, wh0[i * 2 + 1]!);
  const wh = Float32Array.from(keep);
  const m = wh.length / 2;
  let k: Float64Array;
  if (n <= m && m > 0) {
    const mean = [0, 0];
    for (let i = 0; i < m; i++) for (let q = 0; q < 2; q++) mean[q]! += wh[i * 2 + q]! / m;
    const std = [0, 0];
    for (let i = 0; i < m; i++) for (let q = 0; q < 2; q++) std[q]! += (wh[i * 2 + q]! - mean[q]!) ** 2 / m;
    const s = std.map(Math.sqrt);
    const obs = Float64Array.from(wh, (v, i) => v / s[i % 2]!);
    k = kmeans(obs, n, rng).map((v, i) => v * s[i % 2]!);
  } else {
    const r = Array.from({ length: n * 2 }, () => rng.next()).sort((a, b) => a - b);
    k = Float64Array.from(r, (v) => v * imgSize);
  }
  k = sortByArea(k);
  let fit = anchorFitness(wh, Float32Array.from(k), thr);
  const mp = 0.9;
  const sigma = 0.1;
  for (let g = 0; g < gen; g++) {
    let v = new Float64Array(k.length).fill(1);
    while (v.every((x) => x === 1)) {
      const scale = rng.next();
      v = v.map(() => Math.min(Math.max((rng.next() < mp ? 1 : 0) * scale * rng.normal() * sigma + 1, 0.3), 3.0));
    }
    const kg = k.map((x, i) => Math.max(x * v[i]!, 2.0));
    const fg = anchorFitness(wh, Float32Array.from(kg), thr);
    if (fg > fit) {
      fit = fg;
      k = kg;
    }
  }
  return Float32Array.from(sortByArea(k));
}

export interface CheckAnchorsResult extends AnchorMetric {
  /** Whether check_anchors recomputes (bpr <= 0.98). */
  recompute: boolean;
  /** The anchors to use (pixels [nl*na*2]); new ones only when they improve bpr. */
  anchors: Float32Array;
  replaced: boolean;
}

/**
 * check_anchors: keep the current anchors when bpr > 0.98; otherwise run kmean_anchors and
 * take its result only if it improves bpr. `scaleAugment` applies upstream's random per-image
 * scale (uniform 0.9..1.1, seeded); off gives the deterministic metric of the fixtures.
 * The caller applies the result with model.setAnchorsPixels() (which re-checks the order).
 */
export function checkAnchors(
  ds: AnchorDataset,
  anchorsPixels: Float32Array,
  opts: { thr?: number; imgsz?: number; seed?: number; scaleAugment?: boolean; gen?: number } = {},
): CheckAnchorsResult {
  const thr = opts.thr ?? 4.0;
  const imgsz = opts.imgsz ?? 640;
  const rng = new Rng(opts.seed ?? 0);
  const scales = opts.scaleAugment === false ? undefined : Float64Array.from(ds.labels, () => rng.uniform(0.9, 1.1));
  const wh = labelWh(ds, imgsz, scales);
  const cur = anchorMetric(wh, anchorsPixels, thr);
  if (cur.bpr > 0.98) return { ...cur, recompute: false, anchors: anchorsPixels, replaced: false };
  const na = anchorsPixels.length / 2;
  const fresh = kmeanAnchors(ds, { n: na, imgSize: imgsz, thr, gen: opts.gen ?? 1000, seed: opts.seed ?? 0 });
  const nb = anchorMetric(wh, fresh, thr).bpr;
  return nb > cur.bpr
    ? { ...cur, recompute: true, anchors: fresh, replaced: true }
    : { ...cur, recompute: true, anchors: anchorsPixels, replaced: false };
}
