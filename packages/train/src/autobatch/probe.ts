// The step AutoBatch measures: the trainer's own forward + backward (the tape or per-layer
// recomputation, as the run will use) with its ComputeLoss, on a separate copy of the model
// (YOLOv5 profiles a deepcopy): the run's weights, BatchNorm statistics and SyncBN
// collectives are untouched, and every rank can probe on its own.

import { tf } from '@yolo-launch/backend';
import * as yolo from '@yolo-launch/yolo';
import type { AutoBatchProbe } from './profile.js';

export interface TrainStepProbeOptions {
  modelYaml: yolo.ModelYaml;
  nc: number;
  lossHyp: yolo.LossHyp;
  imgsz: number;
  /** the backward the run uses (recompute.ts) */
  recompute: boolean;
  anchors?: number;
}

export interface DisposableProbe extends AutoBatchProbe {
  readonly params: number;
  dispose(): void;
}

/** One centred box per image, so the loss builds targets as in training. */
function probeTargets(batch: number): Float32Array {
  const rows = new Float32Array(batch * 6);
  for (let i = 0; i < batch; i++) rows.set([i, 0, 0.5, 0.5, 0.25, 0.25], i * 6);
  return rows;
}

export function createTrainStepProbe(opts: TrainStepProbeOptions): DisposableProbe {
  // Under tidy: createModel leaves the initial value of every variable as a tensor handle.
  let model: yolo.YoloModel | null = null;
  tf.tidy(() => {
    model = yolo.createModel(opts.modelYaml, {
      nc: opts.nc,
      seed: 0,
      ...(opts.anchors ? { anchors: opts.anchors } : {}),
    });
  });
  return probeOn(model!, opts);
}

function probeOn(model: yolo.YoloModel, opts: TrainStepProbeOptions): DisposableProbe {
  const lossFn = yolo.ComputeLoss.forModel(model, opts.lossHyp);
  const images = (batch: number): tf.Tensor4D => tf.fill([batch, opts.imgsz, opts.imgsz, 3], 0.5) as tf.Tensor4D;
  const params = model.trainableParameters().reduce((n, p) => n + p.variable.size, 0);
  return {
    params,
    forward(batch) {
      tf.tidy(() => {
        const out = lossFn.compute(model.forwardTrain(images(batch)), probeTargets(batch));
        out.loss.dataSync();
      });
    },
    forwardBackward(batch) {
      const x = images(batch);
      try {
        const r = yolo.lossAndGradients(model, lossFn, x, probeTargets(batch), { recompute: opts.recompute });
        tf.dispose(r.grads.map((g) => g.grad));
      } finally {
        x.dispose();
      }
    },
    dispose() {
      model.dispose();
    },
  };
}
