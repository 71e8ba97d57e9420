// bench/overlap-rank.ts with BENCH_DISTILL_FEAT: the student's loss of --distill --distill-feat
// (src/distill/loss.ts) against a fixed yolov5s teacher (random weights; its outputs computed
// once, outside the timed steps), with the 1x1 adapters of the neck outputs. `new` registers
// the variables with DDP as the trainer does now (src/ddp-params.ts: model, then adapters,
// every gradient handed to the hook); `old` as before (adapters first, and their gradients left
// for reduceGradients to fill in after the backward, as yolo's backward did not hand them over).

import { tf } from '@yolo-launch/backend';
import * as yolo from '@yolo-launch/yolo';
import { ddpParameters } from '../src/ddp-params.js';
import { FeatureAdapters } from '../src/distill/adapters.js';
import { DistillLoss } from '../src/distill/loss.js';

export type DistillOrder = 'old' | 'new';

export interface DistillBench {
  loss: yolo.TrainLoss;
  /** The variables for DistributedDataParallel.create, in this order's registration order. */
  variables: tf.Variable[];
  /** Whether the backward's gradient of `variable` goes to DDP's hook (old: not the adapters'). */
  handOver: (variable: tf.Variable) => boolean;
  dispose: () => void;
}

export function distillOrder(value: string | undefined): DistillOrder | null {
  if (value === undefined || value === '' || value === '0') return null;
  if (value === 'old' || value === 'new') return value;
  throw new Error(`BENCH_DISTILL_FEAT must be 'new' (the trainer's order) or 'old' (adapters first), got '${value}'`);
}

export function distillBench(
  student: yolo.YoloModel,
  detection: yolo.ComputeLoss,
  images: tf.Tensor4D,
  order: DistillOrder,
): DistillBench {
  const teacher = yolo.createModel(yolo.modelYamlPath('yolov5s')!, { seed: 1 });
  teacher.freezePrefixes(['model.']);
  const outputs = tf.tidy(() => teacher.forwardWithFeatures(images, { training: false }));
  const channels = (f: readonly tf.Tensor4D[]) => f.map((t) => t.shape[3]);
  const studentFeatures = tf.tidy(() => student.forwardWithFeatures(images.slice(0, 1), { training: false }).features);
  const adapters = new FeatureAdapters(channels(studentFeatures), channels(outputs.features), 0);
  tf.dispose(studentFeatures);
  const loss = new DistillLoss(detection, teacher.anchors, 1, adapters);
  loss.setTeacher(outputs);
  const model = student.trainableParameters().map((p) => p.variable);
  const adapterNames = new Set(adapters.variables.map((v) => v.name));
  return {
    loss,
    variables: order === 'new' ? ddpParameters(model, adapters.variables) : [...adapters.variables, ...model],
    handOver: (v) => order === 'new' || !adapterNames.has(v.name),
    dispose: () => {
      loss.setTeacher(null);
      adapters.dispose();
      teacher.dispose();
    },
  };
}
