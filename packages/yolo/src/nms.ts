/**
 * utils/general.py non_max_suppression on the host. Decoded predictions [bs, N, 5+nc]
 * (xywh pixels, obj, class probabilities) -> per image [n, 6] = [x1, y1, x2, y2, conf, cls].
 *
 * Greedy NMS is run per class (equivalent to torchvision's class-offset batched NMS: boxes
 * offset by cls*max_wh never overlap across classes) and stops at max_det kept boxes, which
 * gives the same first max_det boxes as running to the end and truncating.
 */
const f = Math.fround;

export interface NmsOptions {
  confThres?: number;
  iouThres?: number;
  /** Keep only these classes. */
  classes?: number[] | null;
  /** Class-agnostic NMS. */
  agnostic?: boolean;
  /** Every class above confThres becomes a candidate (val.py), nc > 1 only. */
  multiLabel?: boolean;
  maxDet?: number;
  /** Max boxes into NMS after sorting (30000). */
  maxNms?: number;
  /**
   * Class offset of upstream's batched NMS (7680). Kept for option compatibility: NMS here is
   * per class, which equals the offset trick for every box smaller than max_wh.
   */
  maxWh?: number;
}

/** Detections of one image: n rows [x1, y1, x2, y2, conf, cls]. */
export interface Detections {
  n: number;
  data: Float32Array;
}

/**
 * The candidate boxes of one image (xyxy), with their confidence and class, in buffers that grow
 * by doubling and are reused across images.
 */
class Candidates {
  n = 0;
  private cap = 1024;
  box = new Float32Array(this.cap * 4);
  conf = new Float32Array(this.cap);
  cls = new Int32Array(this.cap);

  /** Adds prediction row `row`'s box (xywh -> xyxy in float32) with `conf` and `cls`. */
  push(pred: ArrayLike<number>, row: number, conf: number, cls: number): void {
    if (this.n === this.cap) this.grow();
    const n = this.n;
    const x = pred[row]!;
    const y = pred[row + 1]!;
    const w2 = f(pred[row + 2]! / 2);
    const h2 = f(pred[row + 3]! / 2);
    this.box[n * 4] = f(x - w2);
    this.box[n * 4 + 1] = f(y - h2);
    this.box[n * 4 + 2] = f(x + w2);
    this.box[n * 4 + 3] = f(y + h2);
    this.conf[n] = conf;
    this.cls[n] = cls;
    this.n++;
  }

  private grow(): void {
    this.cap *= 2;
    const box = new Float32Array(this.cap * 4);
    box.set(this.box);
    this.box = box;
    const conf = new Float32Array(this.cap);
    conf.set(this.conf);
    this.conf = conf;
    const cls = new Int32Array(this.cap);
    cls.set(this.cls);
    this.cls = cls;
  }
}

/** Which rows and classes become candidates. */
interface CandidateRule {
  confThres: number;
  multiLabel: boolean;
  classes: Set<number> | null;
}

/**
 * Collects image b's candidates into `into` (emptied first): rows with obj over conf_thres,
 * with their best class, or with every class whose cls*obj is over it (multi-label).
 */
function collectCandidates(
  pred: ArrayLike<number>,
  b: number,
  [, N, no]: readonly [number, number, number],
  rule: CandidateRule,
  into: Candidates,
): void {
  const { confThres, multiLabel, classes } = rule;
  const nc = no - 5;
  into.n = 0;
  for (let i = 0; i < N; i++) {
    const row = (b * N + i) * no;
    const obj = pred[row + 4]!;
    if (!(obj > confThres)) continue;
    if (multiLabel) {
      // cls * obj > thr needs cls > thr when obj <= 1 (probabilities): skip the rest cheaply
      const pre = obj <= 1 ? confThres : -Infinity;
      for (let c = 0; c < nc; c++) {
        const p = pred[row + 5 + c]!;
        if (!(p > pre)) continue;
        const conf = f(p * obj);
        if (conf > confThres && (!classes || classes.has(c))) into.push(pred, row, conf, c);
      }
    } else {
      // argmax of cls * obj (obj > 0) is the argmax of cls; float32 rounding keeps the order
      let bp = -Infinity;
      let bc = 0;
      for (let c = 0; c < nc; c++) {
        const p = pred[row + 5 + c]!;
        if (p > bp) {
          bp = p;
          bc = c;
        }
      }
      const best = f(bp * obj);
      if (best > confThres && (!classes || classes.has(bc))) into.push(pred, row, best, bc);
    }
  }
}

/**
 * @param pred decoded predictions, [bs, N, no] row-major
 */
export function nonMaxSuppression(
  pred: ArrayLike<number>,
  shape: readonly [number, number, number],
  opts: NmsOptions = {},
): Detections[] {
  const confThres = opts.confThres ?? 0.25;
  const iouThres = opts.iouThres ?? 0.45;
  const maxDet = opts.maxDet ?? 300;
  const maxNms = opts.maxNms ?? 30000;
  const maxWh = opts.maxWh ?? 7680;
  if (!(confThres >= 0 && confThres <= 1))
    throw new Error(`Invalid Confidence threshold ${confThres}, valid values are between 0.0 and 1.0`);
  if (!(iouThres >= 0 && iouThres <= 1))
    throw new Error(`Invalid IoU ${iouThres}, valid values are between 0.0 and 1.0`);
  const [bs, , no] = shape;
  const rule: CandidateRule = {
    confThres,
    multiLabel: (opts.multiLabel ?? false) && no - 5 > 1,
    classes: opts.classes ? new Set(opts.classes) : null,
  };
  const candidates = new Candidates();
  const out: Detections[] = [];
  for (let b = 0; b < bs; b++) {
    collectCandidates(pred, b, shape, rule, candidates);
    const { box, conf, cls, n } = candidates;
    out.push(nmsCandidates(box, conf, cls, n, { iouThres, agnostic: opts.agnostic ?? false, maxDet, maxNms, maxWh }));
  }
  return out;
}

/**
 * Indices of conf sorted descending, ties by index (stable), via LSD radix sort on the float32
 * bit patterns (monotonic for non-negative floats): a few linear passes instead of a
 * comparison sort, which matters for val-style runs with millions of candidates.
 */
function sortByConfDesc(conf: Float32Array, n: number): Uint32Array {
  const bits = new Uint32Array(conf.buffer, conf.byteOffset, n);
  let idx = new Uint32Array(n);
  let tmp = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const counts = new Uint32Array(2048);
  for (const shift of [0, 11, 22]) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(~bits[idx[i]!]! >>> shift) & 2047]!++;
    let sum = 0;
    for (let d = 0; d < 2048; d++) {
      const c = counts[d]!;
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const j = idx[i]!;
      tmp[counts[(~bits[j]! >>> shift) & 2047]!++] = j;
    }
    [idx, tmp] = [tmp, idx];
  }
  return idx;
}

/**
 * The (at most) k highest-confidence candidates in order. With many more candidates than k
 * (val.py: conf 0.001, multi-label), a histogram of the top bits first drops everything below
 * the bucket holding the k-th value, so only a little more than k values get sorted.
 */
function topByConf(conf: Float32Array, n: number, k: number): Uint32Array {
  if (n <= k || n < 4 * k) return sortByConfDesc(conf, n).subarray(0, Math.min(n, k));
  const bits = new Uint32Array(conf.buffer, conf.byteOffset, n);
  const hist = new Uint32Array(65536);
  for (let i = 0; i < n; i++) hist[bits[i]! >>> 16]!++;
  let cum = 0;
  let cut = 65535;
  for (; cut > 0; cut--) {
    cum += hist[cut]!;
    if (cum >= k) break;
  }
  const sel = new Float32Array(cum);
  const map = new Uint32Array(cum);
  let m = 0;
  for (let i = 0; i < n; i++)
    if (bits[i]! >>> 16 >= cut) {
      sel[m] = conf[i]!;
      map[m++] = i;
    }
  const order = sortByConfDesc(sel, m).subarray(0, k);
  return order.map((j) => map[j]!);
}

/**
 * Boxes kept so far for one class (or all, agnostic). A plain list while short; past 32 boxes
 * also a uniform grid (128 px cells), so a candidate only meets kept boxes sharing a cell
 * (boxes that overlap always do). Huge or non-finite boxes switch the class back to the list.
 */
class KeptBoxes {
  private static readonly CELL = 128;
  private readonly list: number[] = [];
  private grid: Map<number, number[]> | null = null;
  private gridUsable = true;

  constructor(
    private readonly box: Float32Array,
    private readonly area: Float32Array,
    private readonly stamp: Int32Array,
  ) {}

  /** Cell range of box i, or null when it is too large (> 64 cells a side) or not finite. */
  private span(i: number): [number, number, number, number] | null {
    const c = KeptBoxes.CELL;
    const b = this.box;
    const x0 = Math.floor(b[i * 4]! / c);
    const y0 = Math.floor(b[i * 4 + 1]! / c);
    const x1 = Math.floor(b[i * 4 + 2]! / c);
    const y1 = Math.floor(b[i * 4 + 3]! / c);
    return x1 - x0 < 64 && y1 - y0 < 64 && x0 > -4000 && y0 > -4000 && x1 < 4000 && y1 < 4000 ? [x0, y0, x1, y1] : null;
  }

  private iouAbove(i: number, j: number, thr: number): boolean {
    const b = this.box;
    const iw = Math.min(b[i * 4 + 2]!, b[j * 4 + 2]!) - Math.max(b[i * 4]!, b[j * 4]!);
    if (iw <= 0) return false;
    const ih = Math.min(b[i * 4 + 3]!, b[j * 4 + 3]!) - Math.max(b[i * 4 + 1]!, b[j * 4 + 1]!);
    if (ih <= 0) return false;
    const inter = iw * ih;
    return inter / (this.area[i]! + this.area[j]! - inter) > thr;
  }

  /** True when candidate i overlaps a kept box with IoU > thr. */
  suppresses(i: number, thr: number): boolean {
    const s = this.grid ? this.span(i) : null;
    if (this.grid && s) {
      for (let y = s[1]; y <= s[3]; y++)
        for (let x = s[0]; x <= s[2]; x++) {
          const bucket = this.grid.get(y * 8192 + x);
          if (!bucket) continue;
          for (const j of bucket) {
            if (this.stamp[j] === i) continue;
            this.stamp[j] = i;
            if (this.iouAbove(i, j, thr)) return true;
          }
        }
      return false;
    }
    for (const j of this.list) if (this.iouAbove(i, j, thr)) return true;
    return false;
  }

  add(i: number): void {
    this.list.push(i);
    if (!this.gridUsable) return;
    const s = this.span(i);
    if (!s) {
      this.gridUsable = false;
      this.grid = null;
      return;
    }
    if (this.grid) this.put(i, s);
    else if (this.list.length > 32) {
      this.grid = new Map();
      for (const j of this.list) this.put(j, this.span(j)!);
    }
  }

  private put(j: number, s: [number, number, number, number]): void {
    for (let y = s[1]; y <= s[3]; y++)
      for (let x = s[0]; x <= s[2]; x++) {
        const key = y * 8192 + x;
        let bucket = this.grid!.get(key);
        if (!bucket) this.grid!.set(key, (bucket = []));
        bucket.push(j);
      }
  }
}

/** Sort by confidence (max_nms), greedy per-class NMS, keep at most maxDet. */
function nmsCandidates(
  box: Float32Array,
  conf: Float32Array,
  cls: Int32Array,
  n: number,
  o: { iouThres: number; agnostic: boolean; maxDet: number; maxNms: number; maxWh: number },
): Detections {
  const order = topByConf(conf, n, o.maxNms);
  const m = order.length;
  const area = new Float32Array(n);
  for (let k = 0; k < m; k++) {
    const i = order[k]!;
    area[i] = (box[i * 4 + 2]! - box[i * 4]!) * (box[i * 4 + 3]! - box[i * 4 + 1]!);
  }
  const stamp = new Int32Array(n).fill(-1);
  const sets = new Map<number, KeptBoxes>();
  const kept: number[] = [];
  for (let k = 0; k < m && kept.length < o.maxDet; k++) {
    const i = order[k]!;
    const key = o.agnostic ? -1 : cls[i]!;
    let set = sets.get(key);
    if (!set) sets.set(key, (set = new KeptBoxes(box, area, stamp)));
    if (!set.suppresses(i, o.iouThres)) {
      set.add(i);
      kept.push(i);
    }
  }
  const data = new Float32Array(kept.length * 6);
  kept.forEach((i, r) => {
    data.set(box.subarray(i * 4, i * 4 + 4), r * 6);
    data[r * 6 + 4] = conf[i]!;
    data[r * 6 + 5] = cls[i]!;
  });
  return { n: kept.length, data };
}
