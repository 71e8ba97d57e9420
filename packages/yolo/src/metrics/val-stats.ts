/**
 * val.py's statistics loop: per image, the correct matrix of its detections against its labels
 * (both in the same, usually native, pixel space), accumulated over the dataset, then
 * ap_per_class -> P, R, mAP@.5, mAP@.5:.95 and the per-class maps train.py uses for
 * --image-weights.
 */
import { apPerClass, apSummary, type ApPerClassResult } from './ap.js';
import { iouVector, processBatch } from './match.js';

export interface ValMetrics {
  /** images seen */
  seen: number;
  /** mean precision, mean recall, mAP@0.5, mAP@0.5:0.95 (val.py's mp, mr, map50, map) */
  mp: number;
  mr: number;
  map50: number;
  map: number;
  /** per class mAP@0.5:0.95 (classes without stats get the overall map, like val.py) */
  maps: Float64Array;
  /** labels per class */
  nt: Int32Array;
  /** full ap_per_class output, null when there was no true positive at all */
  perClass: ApPerClassResult | null;
}

export class DetectionStats {
  private correct: Uint8Array[] = [];
  private conf: number[] = [];
  private predCls: number[] = [];
  private targetCls: number[] = [];
  private seen = 0;
  readonly iouv: Float32Array;

  constructor(
    readonly nc: number,
    iouv?: Float32Array,
  ) {
    this.iouv = iouv ?? iouVector();
  }

  /**
   * @param detections [n, 6] = x1, y1, x2, y2, conf, cls (NMS output, scaled to the label space)
   * @param labels [m, 5] = cls, x1, y1, x2, y2
   */
  addImage(detections: ArrayLike<number>, labels: ArrayLike<number>): void {
    this.seen++;
    const n = Math.floor(detections.length / 6);
    const m = Math.floor(labels.length / 5);
    for (let j = 0; j < m; j++) this.targetCls.push(labels[j * 5]!);
    if (n === 0) return;
    this.correct.push(m ? processBatch(detections, labels, this.iouv) : new Uint8Array(n * this.iouv.length));
    for (let i = 0; i < n; i++) {
      this.conf.push(detections[i * 6 + 4]!);
      this.predCls.push(detections[i * 6 + 5]!);
    }
  }

  compute(): ValMetrics {
    const K = this.iouv.length;
    const tp = new Uint8Array(this.conf.length * K);
    let off = 0;
    for (const c of this.correct) {
      tp.set(c, off);
      off += c.length;
    }
    const nt = new Int32Array(this.nc);
    for (const c of this.targetCls) if (c >= 0 && c < this.nc) nt[c]! += 1;
    let mp = 0;
    let mr = 0;
    let map50 = 0;
    let map = 0;
    let perClass: ApPerClassResult | null = null;
    if (tp.some((v) => v !== 0)) {
      perClass = apPerClass(tp, K, this.conf, this.predCls, this.targetCls);
      ({ mp, mr, map50, map } = apSummary(perClass));
    }
    const maps = new Float64Array(this.nc).fill(map);
    if (perClass) {
      const s = apSummary(perClass);
      perClass.uniqueClasses.forEach((c, i) => {
        if (c >= 0 && c < this.nc) maps[c] = s.apMean[i]!;
      });
    }
    return { seen: this.seen, mp, mr, map50, map, maps, nt, perClass };
  }
}
