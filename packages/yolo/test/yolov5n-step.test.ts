/**
 * A YOLOv5n training step (forward, ComputeLoss, backward; 64 px, batch 2) on the backend
 * under test equals the same step on wasm: loss within 1e-5 relative, every parameter gradient
 * within 1e-3 of its largest element. Runs in the tensorflow rerun (tensorflow.test.ts); on
 * wasm itself there is nothing to compare.
 */
import { test } from 'node:test';
import { initBackend } from '@yolo-launch/backend';
import { ComputeLoss, createModel, modelYamlPath } from '../src/index.js';
import { testBackend } from './helpers.js';
import { assertSameStep, stepBatch, stepOnActiveBackend } from './compare-step.js';

const HYP = { box: 0.05, obj: 1.0, cls: 0.5, cls_pw: 1.0, obj_pw: 1.0, anchor_t: 4.0, label_smoothing: 0 };
const skip =
  testBackend === 'wasm' ? 'compares another backend with wasm (YOLO_TEST_BACKEND=tensorflow runs it)' : false;

test(`YOLOv5n train step: ${testBackend} equals wasm`, { skip }, async () => {
  await initBackend({ backend: 'wasm' });
  const model = createModel(modelYamlPath('yolov5n')!, { nc: 3, seed: 1 });
  const loss = ComputeLoss.forModel(model, HYP);
  const batch = stepBatch(7);
  try {
    const onWasm = stepOnActiveBackend(model, loss, batch);
    await initBackend({ backend: testBackend });
    assertSameStep(stepOnActiveBackend(model, loss, batch), onWasm, model);
  } finally {
    await initBackend({ backend: 'wasm' });
    model.dispose();
  }
});
