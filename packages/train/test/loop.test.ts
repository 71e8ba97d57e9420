import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@yolo-launch/data';
import { EarlyStopping } from '../src/early-stopping.js';
import { hashIndices, weightedChoices } from '../src/image-weights.js';
import { checkImgSize } from '@yolo-launch/core';

test('EarlyStopping follows utils/torch_utils.py (>= counts as improvement)', () => {
  const s = new EarlyStopping(2);
  assert.equal(s.step(0, 0.1), false);
  assert.equal(s.step(1, 0.1), false, 'equal fitness moves best_epoch');
  assert.equal(s.bestEpoch, 1);
  assert.equal(s.step(2, 0.05), false);
  assert.equal(s.possibleStop, true, 'delta 1 >= patience - 1');
  assert.equal(s.step(3, 0.09), true, 'delta 2 >= patience');
  const never = new EarlyStopping(0);
  for (let e = 0; e < 50; e++) assert.equal(never.step(e, 0), false, 'patience 0 = infinite');
});

test('weightedChoices draws in proportion to the weights, deterministically', () => {
  const w = [0, 1, 3, 0];
  const a = weightedChoices(w, 4000, Rng.from(1, 2));
  assert.deepEqual(a, weightedChoices(w, 4000, Rng.from(1, 2)));
  const counts = [0, 0, 0, 0];
  for (const i of a) counts[i]!++;
  assert.equal(counts[0], 0);
  assert.equal(counts[3], 0);
  assert.ok(Math.abs(counts[2]! / counts[1]! - 3) < 0.4, `ratio ${counts[2]! / counts[1]!}`);
  assert.notEqual(hashIndices(a), hashIndices(a.slice().reverse()));
});

test('check_img_size rounds up to the stride with a floor', () => {
  assert.equal(checkImgSize(640, 32, 64), 640);
  assert.equal(checkImgSize(100, 32, 64), 128);
  assert.equal(checkImgSize(33, 32, 64), 64);
});
