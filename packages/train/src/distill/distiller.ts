// --distill in the training run: the frozen teacher, the optional feature adapters and the
// student's loss with the distillation terms (loss.ts). setup.ts builds it, step.ts calls
// runTeacher / endStep around each step, loop.ts logs each epoch.

import { tf } from '@yolo-launch/backend';
import type * as yolo from '@yolo-launch/yolo';
import type { Checkpoint } from '../checkpoint.js';
import type { TrainOptions } from '../options.js';
import type { TrainLog } from '../log.js';
import { FeatureAdapters } from './adapters.js';
import { buildTeacher } from './teacher.js';
import { DistillLoss, type DistillItems } from './loss.js';
import { distillWeight } from './terms.js';

/** Channels of each Detect input (the neck outputs), probed with one small eval forward. */
function neckChannels(model: yolo.YoloModel): number[] {
  const side = Math.max(...model.stride);
  return tf.tidy(() =>
    model.forwardWithFeatures(tf.zeros([1, side, side, model.ch]), { training: false }).features.map((f) => f.shape[3]),
  );
}

export class Distiller {
  private loss: DistillLoss | null = null;
  private epochSums: number[] = [0, 0, 0, 0];
  private epochSteps = 0;
  private epochTeacherMs = 0;

  private constructor(
    readonly teacher: yolo.YoloModel,
    readonly adapters: FeatureAdapters | null,
    private readonly options: Pick<TrainOptions, 'temperature' | 'epochs' | 'teacher_model_path'>,
  ) {}

  /** The frozen teacher on this rank, and the adapters with --distill-feat (seeded alike on every rank). */
  static create(checkpoint: Checkpoint, student: yolo.YoloModel, options: TrainOptions): Distiller {
    const teacher = buildTeacher(checkpoint, options.teacher_model_path, student);
    const adapters = options.distill_feat
      ? new FeatureAdapters(neckChannels(student), neckChannels(teacher), options.seed)
      : null;
    return new Distiller(teacher, adapters, options);
  }

  /** Trainable variables DDP must reduce besides the model's (the adapters). */
  get variables(): tf.Variable[] {
    return this.adapters?.variables ?? [];
  }

  describe(): string {
    const adapted = this.adapters?.kernels.map((k) => (k ? `${k.shape[2]}->${k.shape[3]}` : 'same')).join(', ');
    return (
      `distill: teacher ${this.options.teacher_model_path} (${this.teacher.numParameters()} parameters, frozen, eval mode), ` +
      `temperature ${this.options.temperature}` +
      (this.adapters ? `, feature term on the neck outputs (1x1 adapters: ${adapted})` : '')
    );
  }

  /** The student's training loss: detection + distillation (validation keeps the detection loss). */
  wrap(detection: yolo.ComputeLoss): DistillLoss {
    this.loss = new DistillLoss(detection, this.teacher.anchors, this.options.temperature, this.adapters);
    return this.loss;
  }

  /** The teacher's forward on the step's images (no tape, nothing trains); returns its ms. */
  runTeacher(images: tf.Tensor4D, epoch: number): number {
    const startedAt = performance.now();
    const outputs = tf.tidy(() => this.teacher.forwardWithFeatures(images, { training: false }));
    // the backend runs asynchronously on some devices: the time counts once the outputs exist
    outputs.raw.forEach((r) => r.dataSync());
    const ms = performance.now() - startedAt;
    this.loss!.weight = distillWeight(epoch, this.options.epochs);
    this.loss!.setTeacher(outputs);
    this.epochTeacherMs += ms;
    return ms;
  }

  /** After the step's backward: the teacher's outputs freed, the step's terms summed for the epoch. */
  endStep(): void {
    const loss = this.loss!;
    loss.lastItems.forEach((v, k) => (this.epochSums[k]! += v));
    this.epochSteps++;
    loss.setTeacher(null);
  }

  /** The epoch's line: mean terms, the weight, and the teacher's cost per step (ms and share of `stepMs`, the epoch's steps). */
  logEpoch(log: TrainLog, epoch: number, stepMs: number, isMain: boolean): void {
    const n = Math.max(1, this.epochSteps);
    const means = this.epochSums.map((v) => v / n) as DistillItems;
    const teacherMs = this.epochTeacherMs / n;
    const share = stepMs > 0 ? this.epochTeacherMs / stepMs : 0;
    const record = {
      epoch,
      weight: distillWeight(epoch, this.options.epochs),
      box: means[0],
      obj: means[1],
      cls: means[2],
      feat: means[3],
      teacher_ms_per_step: teacherMs,
      teacher_share_of_step: share,
    };
    const line =
      `distill: weight ${record.weight.toFixed(3)}, box ${means[0].toPrecision(4)} obj ${means[1].toPrecision(4)} ` +
      `cls ${means[2].toPrecision(4)} feat ${means[3].toPrecision(4)}; teacher ${teacherMs.toFixed(1)} ms/step ` +
      `(${(share * 100).toFixed(1)}% of the step: forward, backward, all-reduce, optimizer)`;
    if (isMain) log.info(line, record);
    else log.record(line, record);
    this.epochSums = [0, 0, 0, 0];
    this.epochSteps = 0;
    this.epochTeacherMs = 0;
  }

  dispose(): void {
    this.teacher.dispose();
    this.adapters?.dispose();
  }
}
