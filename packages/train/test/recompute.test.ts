// The backward-path choice: the tape's estimated peak must track what tfjs really holds (so
// that the budget means what it says), and the choice must follow backend, budget and env.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '@yolo-launch/backend';
import * as yolo from '@yolo-launch/yolo';
import { chooseRecompute, TAPE_BUDGET_BYTES } from '../src/recompute.js';

test('the tape estimate is within [0.8x, 1.25x] of the measured peak (yolov5n, 96 px, batch 2)', async () => {
  await initBackend({ backend: 'wasm' });
  const yaml = yolo.readModelYaml(yolo.modelYamlPath('yolov5n.yaml')!);
  const model = yolo.createModel(yaml, { nc: 4 });
  const loss = yolo.ComputeLoss.forModel(model, {
    box: 0.05,
    cls: 0.025,
    obj: 0.25,
    cls_pw: 1,
    obj_pw: 1,
    fl_gamma: 0,
    anchor_t: 4,
    label_smoothing: 0,
  } as yolo.LossHyp);
  const params = model.trainableParameters().reduce((n, p) => n + p.variable.size, 0);
  const imgs = tf.randomUniform([2, 96, 96, 3]) as tf.Tensor4D;
  const targets = Float32Array.from([0, 1, 0.5, 0.5, 0.2, 0.3, 1, 2, 0.3, 0.6, 0.1, 0.2]);
  const prof = await tf.profile(() => {
    const r = yolo.lossAndGradients(model, loss, imgs, targets, { recompute: false });
    tf.dispose(r.grads.map((g) => g.grad));
  });
  imgs.dispose();
  const est = chooseRecompute({
    backend: 'wasm',
    batch: 2,
    maxSide: 96,
    widthMultiple: yaml.width_multiple,
    depthMultiple: yaml.depth_multiple,
    params,
  }).tapeBytes;
  const ratio = est / prof.peakBytes;
  assert.ok(
    ratio >= 0.8 && ratio <= 1.25,
    `estimate ${est} vs measured peak ${prof.peakBytes} (ratio ${ratio.toFixed(2)})`,
  );
});

test('wasm keeps the tape under the budget and recomputes above it; other backends keep it', () => {
  const base = { backend: 'wasm', widthMultiple: 0.25, depthMultiple: 0.33, params: 1_769_329 };
  assert.equal(chooseRecompute({ ...base, batch: 8, maxSide: 160 }).recompute, false);
  assert.equal(chooseRecompute({ ...base, batch: 8, maxSide: 640 }).recompute, true);
  const big = chooseRecompute({ ...base, batch: 64, maxSide: 640 });
  assert.ok(big.tapeBytes > TAPE_BUDGET_BYTES && big.recompute);
  assert.equal(chooseRecompute({ ...base, backend: 'tensorflow', batch: 64, maxSide: 640 }).recompute, false);
  assert.equal(chooseRecompute({ ...base, batch: 8, maxSide: 160, env: '1' }).recompute, true);
  assert.equal(chooseRecompute({ ...base, batch: 8, maxSide: 640, env: '0' }).recompute, false);
  assert.match(chooseRecompute({ ...base, batch: 8, maxSide: 640 }).reason, /exceeds/);
});
