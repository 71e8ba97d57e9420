import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '@yolo-launch/backend';
import { DistributedDataParallel } from '../src/index.js';
import { copyTensorInto } from '../src/host-view.js';
import { createFakeWorld } from './fake-group.js';

before(async () => {
  await initBackend({ backend: 'wasm' });
  assert.equal(tf.getBackend(), 'wasm');
});

test('copyTensorInto reads wasm tensors straight from the heap, same values as dataSync', () => {
  const a = tf.randomNormal([7, 5], 0, 1, 'float32', 3);
  const b = tf.add(a, 1); // a computed tensor, not just an uploaded one
  const target = new Float32Array(100).fill(-9);
  copyTensorInto(a, target, 3);
  copyTensorInto(b, target, 40);
  assert.deepEqual(target.subarray(3, 38), a.dataSync());
  assert.deepEqual(target.subarray(40, 75), b.dataSync());
  assert.equal(target[2], -9);
  assert.equal(target[38], -9);
  tf.dispose([a, b]);
});

test('DDP on wasm: host transfer and device transfer give the same averaged gradients', async () => {
  const { groups } = createFakeWorld(2);
  const results: Record<string, number[][]> = {};
  for (const transfer of ['host', 'device'] as const) {
    const vars = groups.map((pg) => [
      tf.variable(tf.zeros([3, 3, 4, 8]), true, `${transfer}${pg.rank}/w`),
      tf.variable(tf.zeros([8]), true, `${transfer}${pg.rank}/b`),
    ]);
    const ddps = await Promise.all(
      groups.map((pg) =>
        DistributedDataParallel.create(pg, vars[pg.rank]!, { transfer, bucketCapMb: 1e-4, firstBucketCapMb: 1e-5 }),
      ),
    );
    const outs = await Promise.all(
      groups.map(async (pg) => {
        const g = Object.fromEntries(
          vars[pg.rank]!.map((v, i) => [v.name, tf.randomNormal(v.shape, 0, 1, 'float32', 10 * pg.rank + i + 1)]),
        );
        const out = (await ddps[pg.rank]!.reduceGradients(g))!;
        const vals = vars[pg.rank]!.map((v) => Array.from(out[v.name]!.dataSync()));
        tf.dispose([...Object.values(g), ...Object.values(out)]);
        return vals;
      }),
    );
    assert.deepEqual(outs[0], outs[1]);
    results[transfer] = outs[0]!;
  }
  assert.deepEqual(results.host, results.device);
  // and they are the mean of the two ranks' gradients
  const expect = tf.tidy(() =>
    tf.div(tf.add(tf.randomNormal([8], 0, 1, 'float32', 2), tf.randomNormal([8], 0, 1, 'float32', 12)), 2),
  );
  const e = expect.dataSync();
  results.host![1]!.forEach((v, i) => assert.ok(Math.abs(v - e[i]!) < 1e-6));
});
