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
 * @param pred decoded predictions, [bs, N, no] row-major
 */
export function nonMaxSuppression(pred: ArrayLike<number>, shape: readonly [number, number, number], opts: NmsOptions = {}): Detections[] {
  const confThres = opts.confThres ?? 0.25;
  const iouThres = opts.iouThres ?? 0.45;
  const maxDet = opts.maxDet ?? 300;
  const maxNms = opts.maxNms ?? 30000;
  const maxWh = opts.maxWh ?? 7680;
  if (!(confThres >= 0 && confThres <= 1)) throw new Error(`Invalid Confidence threshold ${confThres}, valid values are between 0.0 and 1.0`);
  if (!(iouThres >= 0 && iouThres <= 1)) throw new Error(`Invalid IoU ${iouThres}, valid values are between 0.0 and 1.0`);
  const [bs, N, no] = shape;
  const nc = no - 5;
  const multiLabel = (opts.multiLabel ?? false) && nc > 1;
  const classes = opts.classes ? new Set(opts.classes) : null;
  const out: Detections[] = [];
  // candidate buffers reused across images
  let cap = 1024;
  let cBox = new Float32Array(cap * 4);
  let cConf = new Float32Array(cap);
  let cCls = new Int32Array(cap);
  for (let b = 0; b < bs; b++) {
    let n = 0;
    const push = (row: number, conf: number, cls: number): void => {
      if (n === cap) {
        cap *= 2;
        const nb = new Float32Array(cap * 4);
        nb.set(cBox);
        cBox = nb;
        const nc2 = new Float32Array(cap);
        nc2.set(cConf);
        cConf = nc2;
        const ncl = new Int32Array(cap);
        ncl.set(cCls);
        cCls = ncl;
      }
      const x = pred[row]!;
      const y = pred[row + 1]!;
      const w2 = f(pred[row + 2]! / 2);
      const h2 = f(pred[row + 3]! / 2);
      cBox[n * 4] = f(x - w2);
      cBox[n * 4 + 1] = f(y - h2);
      cBox[n * 4 + 2] = f(x + w2);
      cBox[n * 4 + 3] = f(y + h2);
      cConf[n] = conf;
      cCls[n] = cls;
      n++;
    };
    for (let i = 0; i < N; i++) {
      const row = (b * N + i) * no;
      const obj = pred[row + 4]!;
      if (!(obj > confThres)) continue;
      if (multiLabel) {
        for (let c = 0; c < nc; c++) {
          const conf = f(pred[row + 5 + c]! * obj);
          if (conf > confThres && (!classes || classes.has(c))) push(row, conf, c);
        }
      } else {
        let best = -Infinity;
        let bc = 0;
        for (let c = 0; c < nc; c++) {
          const conf = f(pred[row + 5 + c]! * obj);
          if (conf > best) {
            best = conf;
            bc = c;
          }
        }
        if (best > confThres && (!classes || classes.has(bc))) push(row, best, bc);
      }
    }
    out.push(nmsCandidates(cBox, cConf, cCls, n, { iouThres, agnostic: opts.agnostic ?? false, maxDet, maxNms, maxWh }));
  }
  return out;
}

/** Sort by confidence, greedy per-class NMS, keep at most maxDet. */
function nmsCandidates(
  box: Float32Array,
  conf: Float32Array,
  cls: Int32Array,
  n: number,
  o: { iouThres: number; agnostic: boolean; maxDet: number; maxNms: number; maxWh: number },
): Detections {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => conf[b]! - conf[a]! || a - b);
  const m = Math.min(n, o.maxNms);
  const keptByClass = new Map<number, number[]>();
  const kept: number[] = [];
  const area = (i: number): number => (box[i * 4 + 2]! - box[i * 4]!) * (box[i * 4 + 3]! - box[i * 4 + 1]!);
  for (let k = 0; k < m && kept.length < o.maxDet; k++) {
    const i = order[k]!;
    const key = o.agnostic ? -1 : cls[i]!;
    let list = keptByClass.get(key);
    if (!list) keptByClass.set(key, (list = []));
    const x1 = box[i * 4]!;
    const y1 = box[i * 4 + 1]!;
    const x2 = box[i * 4 + 2]!;
    const y2 = box[i * 4 + 3]!;
    const ai = area(i);
    let suppressed = false;
    for (const j of list) {
      const iw = Math.min(x2, box[j * 4 + 2]!) - Math.max(x1, box[j * 4]!);
      if (iw <= 0) continue;
      const ih = Math.min(y2, box[j * 4 + 3]!) - Math.max(y1, box[j * 4 + 1]!);
      if (ih <= 0) continue;
      const inter = iw * ih;
      if (inter / (ai + area(j) - inter) > o.iouThres) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) {
      list.push(i);
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
