/**
 * A YOLOv5n training step (forward, ComputeLoss, backward; 64 px, batch 2) on the backend
 * under test equals the same step on wasm: loss within 1e-5 relative, every parameter gradient
 * within 1e-3 of its largest element. Runs in the tensorflow rerun (tensorflow.test.ts); on
 * wasm itself there is nothing to compare.
 */
import { test } from 'node:test';
import { initBackend, tf } from '@yolo-launch/backend';
import { ComputeLoss, createModel, lossAndGradients, modelYamlPath, Rng } from '../src/index.js';
import { assertClose, testBackend } from './helpers.js';

const HYP = { box: 0.05, obj: 1.0, cls: 0.5, cls_pw: 1.0, obj_pw: 1.0, anchor_t: 4.0, label_smoothing: 0 };
const skip = testBackend === 'wasm' ? 'compares another backend with wasm (YOLO_TEST_BACKEND=tensorflow runs it)' : false;

test(`YOLOv5n train step: ${testBackend} equals wasm`, { skip }, async () => {
  await initBackend({ backend: 'wasm' });
  const model = createModel(modelYamlPath('yolov5n')!, { nc: 3, seed: 1 });
  const loss = ComputeLoss.forModel(model, HYP);
  const r = new Rng(7);
  const pixels = Float32Array.from({ length: 2 * 64 * 64 * 3 }, () => r.next());
  // image, class, x, y, w, h (normalised)
  const targets = Float32Array.of(0, 0, 0.5, 0.5, 0.3, 0.4, 0, 1, 0.2, 0.3, 0.1, 0.15, 1, 2, 0.7, 0.6, 0.5, 0.5);
  const step = (): { loss: number; grads: Float32Array[] } => {
    const x = tf.tensor4d(pixels, [2, 64, 64, 3]);
    const out = lossAndGradients(model, loss, x, targets);
    const grads = out.grads.map((g) => Float32Array.from(g.grad.dataSync()));
    tf.dispose([x, ...out.grads.map((g) => g.grad)]);
    return { loss: out.loss, grads };
  };
  try {
    const onWasm = step();
    await initBackend({ backend: testBackend });
    const onTested = step();
    assertClose([onTested.loss], [onWasm.loss], { rel: 1e-5, abs: 1e-6 }, 'loss');
    onWasm.grads.forEach((g, k) => {
      const scale = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assertClose(onTested.grads[k]!, g, { abs: 1e-3 * scale + 1e-7 }, `gradient ${model.trainableParameters()[k]!.name}`);
    });
  } finally {
    await initBackend({ backend: 'wasm' });
    model.dispose();
  }
});
