// The student's training loss under --distill: YOLOv5's ComputeLoss plus the distillation
// terms against the teacher's outputs on the same batch (terms.ts), weighted by YOLOv6's
// cosine schedule. All terms are normalised per image like YOLOv5's, then multiplied by the
// batch size with them:
//
//   loss = bs · [ lbox + lobj + lcls + w(epoch) · (box·Dbox + obj·Dobj + cls·Dcls + 10·Dfeat) ]
//
//   Dbox = Σ_levels mean over the anchors YOLOv5 assigns to targets of 1 - CIoU(student box, teacher box)
//   Dobj = Σ_levels balance_l · mean over every anchor of KL(sigmoid(t_obj) ‖ sigmoid(s_obj))
//   Dcls = Σ_levels mean over the assigned anchors of T² · KL(softmax(t_cls/T) ‖ softmax(s_cls/T))
//   Dfeat = Σ_levels CWD(adapter(student neck output), teacher neck output)   (--distill-feat)
//
// box/obj/cls are YOLOv5's scaled gains (hyp.box, hyp.obj, hyp.cls after train.py's scaling),
// balance = [4, 1, 0.4] as lobj's, 10 is YOLOv6's cwd loss weight. Everything here is a sum
// over this rank's images divided by a per-image count, so under DDP it is per rank exactly
// as the detection loss is.

import { tf } from '@yolo-launch/backend';
import * as yolo from '@yolo-launch/yolo';
import { boxCiouMean, channelWiseKl, classKlSum, objectnessKlMean } from './terms.js';
import type { FeatureAdapters } from './adapters.js';

/** YOLOv6's loss_weight['cwd']. */
export const FEATURE_WEIGHT = 10;

/** The teacher's outputs for the current batch (kept until the step ends). */
export interface TeacherOutputs {
  raw: tf.Tensor5D[];
  features: tf.Tensor4D[];
}

/** One step's distillation terms after their gains, before the schedule weight: [box, obj, cls, feat]. */
export type DistillItems = [number, number, number, number];

interface LevelRows {
  rows: Int32Array;
  studentAnchors: Float32Array;
  teacherAnchors: Float32Array;
}

/** Flat row indices of the assigned anchors of one level (as ComputeLoss gathers them), with both models' anchors. */
function assignedRows(
  t: yolo.LayerTargets,
  shape: readonly number[],
  teacherAnchors: Float32Array,
  level: number,
): LevelRows {
  const [, na, ny, nx] = shape as [number, number, number, number];
  const rows = new Int32Array(t.n);
  const anchors = new Float32Array(t.n * 2);
  for (let r = 0; r < t.n; r++) {
    rows[r] = ((t.b[r]! * na + t.a[r]!) * ny + t.gj[r]!) * nx + t.gi[r]!;
    anchors[r * 2] = teacherAnchors[(level * na + t.a[r]!) * 2]!;
    anchors[r * 2 + 1] = teacherAnchors[(level * na + t.a[r]!) * 2 + 1]!;
  }
  return { rows, studentAnchors: t.anch, teacherAnchors: anchors };
}

/** YOLOv5's box decoding at the assigned anchors: xy = 2σ - 0.5, wh = (2σ)² · anchor (grid units). */
function decodeBoxes(rows: tf.Tensor2D, anchors: Float32Array): tf.Tensor2D {
  const [xy, wh] = tf.split(tf.slice(rows, [0, 0], [-1, 4]), 2, 1);
  const pxy = tf.sub(tf.mul(tf.sigmoid(xy!), 2), 0.5);
  const pwh = tf.mul(tf.square(tf.mul(tf.sigmoid(wh!), 2)), tf.tensor2d(anchors, [rows.shape[0], 2]));
  return tf.concat([pxy, pwh], 1) as tf.Tensor2D;
}

export class DistillLoss implements yolo.TrainLoss {
  /** The schedule weight w(epoch) of this step. */
  weight = 1;
  /** The last step's terms (gains applied, weight not), for the epoch's log. */
  lastItems: DistillItems = [0, 0, 0, 0];
  private teacherOutputs: TeacherOutputs | null = null;

  constructor(
    private readonly detection: yolo.ComputeLoss,
    private readonly teacherAnchors: Float32Array,
    private readonly temperature: number,
    private readonly adapters: FeatureAdapters | null,
  ) {}

  get extraVariables(): readonly tf.Variable[] {
    return this.adapters?.variables ?? [];
  }

  /** The teacher's outputs for the next compute; the previous ones are disposed. */
  setTeacher(outputs: TeacherOutputs | null): void {
    if (this.teacherOutputs) tf.dispose([...this.teacherOutputs.raw, ...this.teacherOutputs.features]);
    this.teacherOutputs = outputs;
  }

  compute(p: tf.Tensor5D[], targets: Float32Array, features?: tf.Tensor4D[]): yolo.LossOutput {
    const teacher = this.teacherOutputs;
    if (!teacher) throw new Error('DistillLoss: no teacher outputs for this batch (Distiller.runTeacher first)');
    const levels = this.detection.buildTargets(
      p.map((t) => t.shape),
      targets,
    );
    return tf.tidy(() => {
      const detection = this.detection.compute(p, targets);
      const terms = this.terms(p, teacher, levels, features);
      const items = tf.stack(terms);
      this.lastItems = Array.from(items.dataSync()) as DistillItems;
      const bs = p[0]!.shape[0];
      const distill = tf.mul(tf.addN(terms), bs * this.weight);
      return { loss: tf.add(detection.loss, distill) as tf.Scalar, items: detection.items };
    });
  }

  /** [box·Dbox, obj·Dobj, cls·Dcls, 10·Dfeat] (see the top of this file). */
  private terms(
    p: tf.Tensor5D[],
    teacher: TeacherOutputs,
    levels: yolo.LayerTargets[],
    features: tf.Tensor4D[] | undefined,
  ): tf.Scalar[] {
    const { hyp, balance, nc } = this.detection;
    let box: tf.Scalar = tf.scalar(0);
    let obj: tf.Scalar = tf.scalar(0);
    let cls: tf.Scalar = tf.scalar(0);
    p.forEach((student, level) => {
      const no = student.shape[4];
      const cells = student.size / no;
      const s = tf.reshape(student, [cells, no]) as tf.Tensor2D;
      const t = tf.reshape(teacher.raw[level]!, [cells, no]) as tf.Tensor2D;
      const objS = tf.reshape(tf.slice(s, [0, 4], [cells, 1]), [cells]) as tf.Tensor1D;
      const objT = tf.reshape(tf.slice(t, [0, 4], [cells, 1]), [cells]) as tf.Tensor1D;
      obj = tf.add(obj, tf.mul(objectnessKlMean(objS, objT, hyp.obj_pw), balance[level]!));
      const assigned = levels[level]!;
      if (!assigned.n) return;
      const rows = assignedRows(assigned, student.shape, this.teacherAnchors, level);
      const sRows = yolo.gatherRows(s, rows.rows);
      const tRows = yolo.gatherRows(t, rows.rows);
      box = tf.add(box, boxCiouMean(decodeBoxes(sRows, rows.studentAnchors), decodeBoxes(tRows, rows.teacherAnchors)));
      const sCls = tf.slice(sRows, [0, 5], [-1, nc]) as tf.Tensor2D;
      const tCls = tf.slice(tRows, [0, 5], [-1, nc]) as tf.Tensor2D;
      cls = tf.add(cls, tf.div(classKlSum(sCls, tCls, this.temperature), assigned.n));
    });
    let feat: tf.Scalar = tf.scalar(0);
    if (this.adapters && features)
      features.forEach((f, level) => {
        feat = tf.add(feat, channelWiseKl(this.adapters!.apply(level, f), teacher.features[level]!));
      });
    return [
      tf.mul(box, hyp.box) as tf.Scalar,
      tf.mul(obj, hyp.obj) as tf.Scalar,
      tf.mul(cls, hyp.cls) as tf.Scalar,
      tf.mul(feat, FEATURE_WEIGHT) as tf.Scalar,
    ];
  }
}
