// --distill-feat's 1x1 adapters: where a student neck output has other channels than the
// teacher's (yolov5n's 64/128/256 against yolov5s's 128/256/512), a trainable 1x1
// convolution maps the student's channels onto the teacher's before the channel-wise term
// (as the CWD paper does). No bias: the term's softmax over a channel's positions ignores a
// per-channel constant, so a bias would never get a gradient.
//
// The adapters train with the model: their gradients are all-reduced by DDP with the model's
// (setup.ts registers them) and stepped by an optimizer of the same kind and schedule as the
// model's conv weights (group 1: with weight decay), clipped to norm 10 on their own. They are
// not written into last.pt/best.pt: those files' `model` must stay a YOLOv5 DetectionModel
// that YOLOv5 and our export load, and the adapters serve the training loss only (a resumed
// run starts them again from their seeded initialisation).

import { tf } from '@yolo-launch/backend';
import { Rng } from '@yolo-launch/yolo';
import { clipGradNorm, YoloOptimizer, type ParamSlot } from '../optimizer.js';

/** tfjs variable names are global: each set of adapters gets its own prefix. */
let instances = 0;

export class FeatureAdapters {
  /** Per Detect level: the 1x1 kernel [1, 1, Cs, Ct] (HWIO), or null where the channels match. */
  readonly kernels: (tf.Variable | null)[];
  private readonly slots: ParamSlot[];
  private optimizer: YoloOptimizer | null = null;

  constructor(studentChannels: readonly number[], teacherChannels: readonly number[], seed: number) {
    const rng = new Rng(seed ^ 0xad0b7e5);
    const prefix = `distill${instances++}`;
    this.kernels = studentChannels.map((cs, level) => {
      const ct = teacherChannels[level]!;
      if (cs === ct) return null;
      // PyTorch's default Conv2d initialisation: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
      const bound = 1 / Math.sqrt(cs);
      const values = Float32Array.from({ length: cs * ct }, () => rng.uniform(-bound, bound));
      return tf.variable(tf.tensor4d(values, [1, 1, cs, ct]), true, `${prefix}/adapter.${level}.weight`);
    });
    this.slots = this.variables.map((v) => ({
      name: v.name,
      group: 1,
      data: Float32Array.from(v.dataSync() as Float32Array),
    }));
  }

  get variables(): tf.Variable[] {
    return this.kernels.filter((k): k is tf.Variable => k !== null);
  }

  /** The student's feature map of `level` in the teacher's channels. */
  apply(level: number, feature: tf.Tensor4D): tf.Tensor4D {
    const kernel = this.kernels[level];
    return kernel ? tf.conv2d(feature, kernel as tf.Tensor4D, 1, 'valid') : feature;
  }

  /** The adapters' gradients out of DDP's reduced map, on the host (before the map is disposed). */
  hostGradients(reduced: tf.NamedTensorMap): Float32Array[] {
    return this.slots.map((s) => {
      const g = reduced[s.name];
      return g ? Float32Array.from(g.dataSync() as Float32Array) : new Float32Array(s.data.length);
    });
  }

  /** One optimizer step with the model optimizer's kind, learning rates, momentum and weight decay. */
  step(grads: Float32Array[], model: YoloOptimizer): void {
    if (!this.slots.length) return;
    this.optimizer ??= new YoloOptimizer(model.name, this.slots, {
      lr: model.groups[1].lr,
      momentum: model.groups[1].momentum,
      decay: model.groups[1].weightDecay,
    });
    this.optimizer.setSchedule(
      model.groups.map((g) => g.lr),
      model.groups[1].momentum,
    );
    clipGradNorm(grads, 10.0);
    this.optimizer.step(grads);
    this.variables.forEach((v, k) => tf.tidy(() => v.assign(tf.tensor(this.slots[k]!.data, v.shape, 'float32'))));
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}
