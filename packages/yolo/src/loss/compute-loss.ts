/**
 * utils/loss.py ComputeLoss: CIoU box loss, objectness BCE against the detached CIoU (gr),
 * class BCE with label smoothing, per-layer objectness balance, returning
 * (lbox + lobj + lcls) * bs and the three components. Targets are built on the host
 * (buildTargets); everything differentiable runs on the tfjs backend.
 */
import { tf } from '@yolo-launch/backend';
import { gatherRows, detach } from '../nn/ops.js';
import { bceWithLogits, focalLoss } from './bce.js';
import { buildTargets, type LayerTargets } from './build-targets.js';
import { bboxIouXywh } from './iou-tensor.js';

/** The hyperparameters ComputeLoss reads (hyp.scratch-*.yaml after train.py's scaling). */
export interface LossHyp {
  box: number;
  obj: number;
  cls: number;
  cls_pw: number;
  obj_pw: number;
  anchor_t: number;
  fl_gamma?: number;
  label_smoothing?: number;
}

export interface ComputeLossOptions {
  nc: number;
  na: number;
  nl: number;
  /** model.24.anchors in grid units, [nl, na, 2] flat. */
  anchors: Float32Array;
  hyp: LossHyp;
  /** Objectness weight per layer; default [4, 1, 0.4] for 3 layers, else [4, 1, 0.25, 0.06, 0.02]. */
  balance?: number[];
  /** IoU ratio of the objectness target (1 = obj target is the CIoU). */
  gr?: number;
}

export interface LossOutput {
  /** (lbox + lobj + lcls) * bs: what train.py backpropagates. */
  loss: tf.Scalar;
  /** [lbox, lobj, lcls], detached. */
  items: tf.Tensor1D;
}

/**
 * train.py's scaling of the loss gains to the model and image size (before ComputeLoss):
 * box *= 3/nl, cls *= nc/80 * 3/nl, obj *= (imgsz/640)^2 * 3/nl, label_smoothing set.
 * Returns a new object; other keys are copied.
 */
export function scaleLossHyp<T extends LossHyp>(
  hyp: T,
  o: { nl: number; nc: number; imgsz: number; labelSmoothing?: number },
): T {
  const k = 3 / o.nl;
  return {
    ...hyp,
    box: hyp.box * k,
    cls: hyp.cls * ((o.nc / 80) * k),
    obj: hyp.obj * ((o.imgsz / 640) ** 2 * k),
    label_smoothing: o.labelSmoothing ?? hyp.label_smoothing ?? 0,
  };
}

/** utils/loss.py smooth_BCE: positive and negative label smoothing targets. */
export function smoothBce(eps = 0.1): { cp: number; cn: number } {
  return { cp: 1 - 0.5 * eps, cn: 0.5 * eps };
}

export class ComputeLoss {
  readonly nc: number;
  readonly na: number;
  readonly nl: number;
  readonly anchors: Float32Array;
  readonly hyp: LossHyp;
  readonly balance: number[];
  readonly gr: number;
  readonly cp: number;
  readonly cn: number;

  constructor(opts: ComputeLossOptions) {
    this.nc = opts.nc;
    this.na = opts.na;
    this.nl = opts.nl;
    this.anchors = Float32Array.from(opts.anchors);
    this.hyp = opts.hyp;
    this.balance = opts.balance ?? (opts.nl === 3 ? [4.0, 1.0, 0.4] : [4.0, 1.0, 0.25, 0.06, 0.02]);
    this.gr = opts.gr ?? 1.0;
    ({ cp: this.cp, cn: this.cn } = smoothBce(opts.hyp.label_smoothing ?? 0));
  }

  /** For a model: nc, na, nl and anchors from its Detect layer. */
  static forModel(model: { nc: number; na: number; nl: number; anchors: Float32Array }, hyp: LossHyp): ComputeLoss {
    return new ComputeLoss({ nc: model.nc, na: model.na, nl: model.nl, anchors: model.anchors, hyp });
  }

  /** Refuse target rows that would index outside the batch or the class list (torch raises there too). */
  private checkTargets(targets: Float32Array, bs: number): void {
    if (targets.length % 6 !== 0)
      throw new Error(
        `ComputeLoss: targets must be rows of 6 values [image, class, x, y, w, h], got ${targets.length} values`,
      );
    for (let r = 0; r < targets.length / 6; r++) {
      const b = targets[r * 6]!;
      const c = targets[r * 6 + 1]!;
      if (!(Number.isInteger(b) && b >= 0 && b < bs))
        throw new Error(`ComputeLoss: target row ${r} has image index ${b}, the batch has ${bs} images`);
      if (!(Number.isInteger(c) && c >= 0 && c < this.nc))
        throw new Error(
          `ComputeLoss: target row ${r} has class ${c}, the model has nc=${this.nc} (check the dataset YAML's nc/names)`,
        );
      for (let k = 2; k < 6; k++)
        if (!Number.isFinite(targets[r * 6 + k]!))
          throw new Error(`ComputeLoss: target row ${r} has a non-finite box value`);
    }
  }

  buildTargets(shapes: number[][], targets: Float32Array): LayerTargets[] {
    return buildTargets(shapes, targets, this.anchors, this.na, this.hyp.anchor_t);
  }

  private bce(x: tf.Tensor, y: tf.Tensor, pw: number): tf.Tensor {
    const g = this.hyp.fl_gamma ?? 0;
    return g > 0 ? focalLoss(x, y, pw, g) : bceWithLogits(x, y, pw);
  }

  /**
   * @param p raw training outputs per layer [bs, na, ny, nx, 5+nc]
   * @param targets rows [image, class, x, y, w, h] (normalised xywh), [nt, 6] flat
   */
  compute(p: tf.Tensor5D[], targets: Float32Array): LossOutput {
    if (p.length !== this.nl)
      throw new Error(`ComputeLoss: expected ${this.nl} layers of predictions, got ${p.length}`);
    this.checkTargets(targets, p[0]!.shape[0]);
    const lt = this.buildTargets(
      p.map((t) => t.shape),
      targets,
    );
    return tf.tidy(() => {
      let lbox: tf.Tensor = tf.scalar(0);
      let lobj: tf.Tensor = tf.scalar(0);
      let lcls: tf.Tensor = tf.scalar(0);
      const bs = p[0]!.shape[0];
      p.forEach((pi, i) => {
        const [, na, ny, nx, no] = pi.shape;
        if (no !== this.nc + 5)
          throw new Error(`ComputeLoss: layer ${i} has ${no} outputs per anchor, expected ${this.nc + 5}`);
        const cells = bs * na * ny * nx;
        const flat = tf.reshape(pi, [cells, no]) as tf.Tensor2D;
        const t = lt[i]!;
        const tobj = new Float32Array(cells);
        if (t.n) {
          const rows = new Int32Array(t.n);
          for (let r = 0; r < t.n; r++) rows[r] = ((t.b[r]! * na + t.a[r]!) * ny + t.gj[r]!) * nx + t.gi[r]!;
          const ps = gatherRows(flat, rows);
          const [pxyRaw, pwhRaw, , pcls] = tf.split(ps, [2, 2, 1, this.nc], 1);
          const pxy = tf.sub(tf.mul(tf.sigmoid(pxyRaw!), 2), 0.5);
          const pwh = tf.mul(tf.square(tf.mul(tf.sigmoid(pwhRaw!), 2)), tf.tensor2d(t.anch, [t.n, 2]));
          const pbox = tf.concat([pxy, pwh], 1) as tf.Tensor2D;
          const iou = bboxIouXywh(pbox, tf.tensor2d(t.tbox, [t.n, 4]), 'CIoU');
          lbox = tf.add(lbox, tf.mean(tf.sub(1, iou)));
          // objectness target: detached IoU clamped at 0; duplicates keep the last write (index_put_)
          const iouHost = iou.dataSync();
          for (let r = 0; r < t.n; r++) {
            const v = Math.max(iouHost[r]!, 0);
            tobj[rows[r]!] = this.gr < 1 ? 1 - this.gr + this.gr * v : v;
          }
          if (this.nc > 1) {
            const tc = new Float32Array(t.n * this.nc).fill(this.cn);
            for (let r = 0; r < t.n; r++) tc[r * this.nc + t.tcls[r]!] = this.cp;
            lcls = tf.add(lcls, this.bce(pcls!, tf.tensor2d(tc, [t.n, this.nc]), this.hyp.cls_pw));
          }
        }
        const pobj = tf.reshape(tf.slice(flat, [0, 4], [cells, 1]), [cells]);
        const obji = this.bce(pobj, tf.tensor1d(tobj), this.hyp.obj_pw);
        lobj = tf.add(lobj, tf.mul(obji, this.balance[i]!));
      });
      lbox = tf.mul(lbox, this.hyp.box);
      lobj = tf.mul(lobj, this.hyp.obj);
      lcls = tf.mul(lcls, this.hyp.cls);
      const loss = tf.mul(tf.add(tf.add(lbox, lobj), lcls), bs) as tf.Scalar;
      const items = detach(tf.stack([lbox, lobj, lcls])) as tf.Tensor1D;
      return { loss, items };
    });
  }
}
