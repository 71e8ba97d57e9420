import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '@yolo-launch/backend';
import { combineMoments, localMoments, syncBatchNormMoments, fingerprint } from '../src/index.js';
import { createFakeWorld } from './fake-group.js';

before(async () => {
  await initBackend({ backend: 'cpu' });
});

test('combineMoments merges per-rank slots exactly like the moments of the union', () => {
  const c = 3;
  const parts = [5, 11, 0, 2].map((n, r) =>
    Array.from({ length: n * c }, (_, i) => Math.sin(i * 0.7 + r) * 10 + r * 3),
  );
  const world = parts.length;
  const slot = 2 + 2 * c;
  const buf = new Float32Array(world * slot);
  parts.forEach((vals, r) => {
    const n = vals.length / c;
    buf[r * slot + 1] = n;
    for (let ch = 0; ch < c && n > 0; ch++) {
      const xs = vals.filter((_, i) => i % c === ch).map((v) => Math.fround(v));
      const m = xs.reduce((a, b) => a + b, 0) / n;
      buf[r * slot + 2 + ch] = m;
      buf[r * slot + 2 + c + ch] = xs.reduce((a, b) => a + (b - m) ** 2, 0) / n;
    }
  });
  const { count, meanVar } = combineMoments(buf, world, c);
  assert.equal(count, 18);
  for (let ch = 0; ch < c; ch++) {
    const xs = parts.flatMap((vals) => vals.filter((_, i) => i % c === ch).map((v) => Math.fround(v)));
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    const v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length;
    assert.ok(Math.abs(meanVar[ch]! - m) < 1e-5 * Math.max(1, Math.abs(m)));
    assert.ok(Math.abs(meanVar[c + ch]! - v) < 1e-5 * Math.max(1, v));
  }
  // counts beyond float32's exact integers survive the hi/lo split
  const big = new Float32Array(slot);
  const n = 64 * 640 * 640 + 3;
  big[0] = Math.floor(n / 4096);
  big[1] = n % 4096;
  assert.equal(combineMoments(big, 1, c).count, n);
});

test('SyncBN moments at world size 1 equal local moments bit for bit, gradients agree', () => {
  const { groups } = createFakeWorld(1);
  const sync = syncBatchNormMoments(groups[0]!);
  const x = tf.randomNormal([2, 3, 3, 4], 1.5, 2, 'float32', 7) as tf.Tensor4D;
  const a = localMoments(x);
  const b = sync(x);
  assert.equal(a.count, 18);
  assert.equal(b.count, 18);
  assert.equal(fingerprint(a.mean.dataSync() as Float32Array), fingerprint(b.mean.dataSync() as Float32Array));
  assert.equal(fingerprint(a.variance.dataSync() as Float32Array), fingerprint(b.variance.dataSync() as Float32Array));
  const w = tf.randomNormal([4], 0, 1, 'float32', 8);
  const loss = (fn: typeof localMoments) => (xx: tf.Tensor) => {
    const m = fn(xx as tf.Tensor4D);
    return tf.add(tf.sum(tf.mul(m.mean, w)), tf.sum(tf.mul(tf.sqrt(tf.add(m.variance, 1e-3)), tf.square(w))));
  };
  const ga = tf.grad(loss(localMoments))(x).dataSync();
  const gb = tf.grad(loss(sync))(x).dataSync();
  let maxDiff = 0;
  for (let i = 0; i < ga.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ga[i]! - gb[i]!));
  assert.ok(maxDiff < 1e-6, `max diff ${maxDiff}`);
});

test('SyncBN moments leak no tensors in forward and backward', () => {
  const { groups } = createFakeWorld(1);
  const sync = syncBatchNormMoments(groups[0]!);
  const x = tf.randomNormal([2, 3, 3, 4], 0, 1, 'float32', 9) as tf.Tensor4D;
  const f = (xx: tf.Tensor) => {
    const m = sync(xx as tf.Tensor4D);
    return tf.add(tf.sum(m.mean), tf.sum(tf.sqrt(tf.add(m.variance, 1))));
  };
  tf.grad(f)(x).dispose();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.grad(f)(x).dispose();
  assert.equal(tf.memory().numTensors, before);
});
