// The loss multiplier of one step: train.py's `loss *= WORLD_SIZE` under DDP and
// `if opt.quad: loss *= 4.`.
import assert from 'node:assert/strict';
import test from 'node:test';
import { tf } from '@yolo-launch/backend';
import { lossMultiplier } from '../src/step.js';

test('--quad multiplies the loss by 4 on top of the DDP scale; without it the scale is unchanged', () => {
  for (const worldSize of [1, 2, 3, 8]) {
    assert.equal(lossMultiplier(worldSize, false), worldSize);
    assert.equal(lossMultiplier(worldSize, true), worldSize * 4);
  }
});

test('the gradients of a --quad step are 4 times those of the same step without it', async () => {
  await tf.ready();
  const w = tf.variable(tf.tensor1d([0.5, -1.25, 2]), true, 'quad_test_w');
  const gradsWith = (quad: boolean) =>
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.mul(tf.sum(tf.square(w)), lossMultiplier(2, quad)) as tf.Scalar, [w]);
      return Array.from(grads['quad_test_w']!.dataSync());
    });
  const plain = gradsWith(false);
  const quad = gradsWith(true);
  assert.deepEqual(
    quad,
    plain.map((g) => g * 4),
  );
  w.dispose();
});
