// The other wasm kernels we register, each against tfjs's cpu backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend, batchNormTrain, silu } from '../src/index.js';
import { randomArray, relError } from './reference.js';

type Run = () => tf.Tensor | tf.Tensor[];

/** Runs `fn` on wasm and on cpu with the same inputs and returns both results' values. */
function onBoth(fn: Run): { wasm: Float32Array[]; cpu: Float32Array[] } {
  const values = (backend: string) => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const out = fn();
      return (Array.isArray(out) ? out : [out]).map((t) => Float32Array.from(t.dataSync() as ArrayLike<number>));
    });
  };
  const wasm = values('wasm');
  const cpu = values('cpu');
  tf.setBackend('wasm');
  return { wasm, cpu };
}

function assertClose(fn: Run, tol = 1e-5, what = ''): void {
  const { wasm, cpu } = onBoth(fn);
  assert.equal(wasm.length, cpu.length);
  wasm.forEach((w, i) => assert.ok(relError(w, cpu[i]) < tol, `${what} output ${i}: rel error ${relError(w, cpu[i])}`));
}

test('setup', async () => {
  await initBackend({ backend: 'wasm' });
});

test('UnsortedSegmentSum (gather gradient) matches cpu, including dropped out-of-range ids', () => {
  assertClose(() =>
    tf.unsortedSegmentSum(tf.tensor2d(randomArray(7 * 5, 1), [7, 5]), tf.tensor1d([0, 2, 2, -1, 4, 0, 9], 'int32'), 6),
  );
  assertClose(() => tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4], 'int32'), tf.tensor1d([1, 1, 0, 3], 'int32'), 4));
  assertClose(
    () => {
      const x = tf.tensor2d(randomArray(20 * 6, 2), [20, 6]);
      return tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, tf.tensor1d([3, 3, 19, 0], 'int32')))))(x);
    },
    1e-6,
    'gather grad',
  );
});

test('Identity and same-dtype Cast share the buffer yet behave as copies', () => {
  const a = tf.tensor1d([1, 2, 3]);
  const b = tf.clone(a);
  const c = tf.cast(a, 'float32');
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
  assert.deepEqual(Array.from(c.dataSync()), [1, 2, 3]);
  const v = tf.variable(tf.tensor1d([5, 6]));
  const snapshot = tf.clone(v);
  v.assign(tf.tensor1d([7, 8]));
  assert.deepEqual(Array.from(snapshot.dataSync()), [5, 6], 'a clone must not follow variable updates');
  assert.deepEqual(
    Array.from(tf.cast(tf.tensor1d([1.7, -1.7]), 'int32').dataSync()),
    [1, -1],
    'real casts still convert',
  );
  tf.dispose([b, c, v, snapshot]);
});

test('Sum and Mean over leading axes match cpu for awkward row counts', () => {
  // rows: small, large with divisors, large prime (JS fallback), keepDims, non-leading axes
  for (const shape of [
    [2, 3, 5, 7],
    [8, 40, 40, 16],
    [1, 4099, 1, 3],
    [3, 64, 96, 5],
  ]) {
    const size = shape.reduce((p, q) => p * q);
    assertClose(() => tf.sum(tf.tensor(randomArray(size, 3), shape), [0, 1, 2]), 1e-5, `sum ${shape}`);
    assertClose(() => tf.mean(tf.tensor(randomArray(size, 4), shape), [0, 1, 2], true), 1e-5, `mean ${shape}`);
    assertClose(() => tf.sum(tf.tensor(randomArray(size, 5), shape), [0]), 1e-5, `sum axis0 ${shape}`);
    assertClose(() => tf.mean(tf.tensor(randomArray(size, 6), shape), [1, 2]), 1e-5, `mean axes 1,2 ${shape}`);
  }
  assertClose(() => tf.sum(tf.tensor1d([1, 2, 3])), 1e-6, 'full');
  assertClose(() => tf.sum(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), 0), 1e-6, 'int32');
});

test('SplitV (concat gradient) matches cpu on every axis', () => {
  const x = () => tf.tensor4d(randomArray(2 * 5 * 6 * 70, 7), [2, 5, 6, 70]);
  assertClose(() => tf.split(x(), [30, 40], 3));
  assertClose(() => tf.split(x(), [1, 3, 2], 2));
  assertClose(() => tf.split(x(), [4, 1], 1));
  assertClose(() => tf.split(x(), 2, 0));
  assertClose(
    () => {
      const [a, b] = [
        tf.tensor4d(randomArray(2 * 4 * 4 * 3, 8), [2, 4, 4, 3]),
        tf.tensor4d(randomArray(2 * 4 * 4 * 5, 9), [2, 4, 4, 5]),
      ];
      return tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.concat([p, q], 3))))([a, b]);
    },
    1e-6,
    'concat grad',
  );
});

test('depthwise conv gradients (bridged to cpu) work on wasm', () => {
  assertClose(() => {
    const x = tf.tensor4d(randomArray(2 * 7 * 7 * 4, 10), [2, 7, 7, 4]);
    const f = tf.tensor4d(randomArray(3 * 3 * 4 * 2, 11), [3, 3, 4, 2]);
    return tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'))),
    )([x, f]);
  }, 1e-5);
});

test('max-pool (SPPF 5x5 s1 p2) and nearest-upsample gradients match cpu', () => {
  assertClose(
    () => {
      const x = tf.tensor4d(randomArray(2 * 9 * 9 * 3, 12), [2, 9, 9, 3]);
      return tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.maxPool(t as tf.Tensor4D, 5, 1, 2))))(x);
    },
    1e-6,
    'maxpool',
  );
  // exact ties (a pool of a pool): the first maximum in scan order gets the gradient, as in
  // PyTorch and the cpu backend
  assertClose(
    () => {
      const x = tf.tensor4d([1, 5, 5, 2, 0, 3, 5, 1, 5], [1, 3, 3, 1]);
      return tf.grad((t: tf.Tensor) => tf.sum(tf.maxPool(tf.maxPool(t as tf.Tensor4D, 5, 1, 2), 5, 1, 2)))(x);
    },
    1e-9,
    'maxpool ties',
  );
  // float64 reference too: tfjs-backend-cpu's own version is wrong for batch > 1 (we replace it)
  const [n, h, w, c] = [2, 5, 7, 3];
  const ref = new Float64Array(n * h * w * c);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < 2 * h; y++)
      for (let x = 0; x < 2 * w; x++)
        for (let ch = 0; ch < c; ch++) {
          ref[((b * h + (y >> 1)) * w + (x >> 1)) * c + ch] += ((b * 2 * h + y) * 2 * w + x) * c + ch;
        }
  const upsampleGrad = () => {
    const x = tf.zeros([n, h, w, c]);
    return tf.grad((t: tf.Tensor) =>
      tf.sum(
        tf.mul(
          tf.image.resizeNearestNeighbor(t as tf.Tensor4D, [2 * h, 2 * w]),
          tf.range(0, n * 4 * h * w * c).reshape([n, 2 * h, 2 * w, c]),
        ),
      ),
    )(x);
  };
  const { wasm, cpu } = onBoth(upsampleGrad);
  assert.ok(relError(wasm[0], ref) < 1e-7, 'wasm upsample grad vs float64');
  assert.ok(relError(cpu[0], ref) < 1e-7, 'cpu upsample grad vs float64');
});

test('batchNormTrain and silu: values and gradients equal the op-by-op formulation', () => {
  const shape: [number, number, number, number] = [3, 5, 7, 6];
  const inputs = () =>
    [
      tf.tensor4d(randomArray(3 * 5 * 7 * 6, 14), shape),
      tf.tensor1d(randomArray(6, 15)),
      tf.tensor1d(randomArray(6, 16)),
      tf.tensor4d(randomArray(3 * 5 * 7 * 6, 17), shape),
    ] as const;
  const reference = () => {
    const [x, g, b, w] = inputs();
    return tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
      const { mean, variance } = tf.moments(xx, [0, 1, 2]);
      const y = tf.batchNorm(xx as tf.Tensor4D, mean, variance, bb as tf.Tensor1D, gg as tf.Tensor1D, 1e-3);
      return tf.sum(tf.mul(tf.mul(y, tf.sigmoid(y)), w));
    })([x, g, b]);
  };
  const fused = () => {
    const [x, g, b, w] = inputs();
    return tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(tf.mul(silu(batchNormTrain(xx as tf.Tensor4D, gg as tf.Tensor1D, bb as tf.Tensor1D, 1e-3).y), w)),
    )([x, g, b]);
  };
  for (const backend of ['wasm', 'cpu']) {
    tf.setBackend(backend);
    const [r, f] = tf.tidy(() => [reference(), fused()].map((gs) => gs.map((t) => Float32Array.from(t.dataSync()))));
    r.forEach((ref, i) => assert.ok(relError(f[i], ref) < 1e-4, `${backend} grad ${i}: ${relError(f[i], ref)}`));
  }
  tf.setBackend('wasm');
  const { y, mean, variance } = batchNormTrain(inputs()[0], tf.ones([6]), tf.zeros([6]));
  const m = tf.moments(y, [0, 1, 2]);
  assert.ok(Math.max(...Array.from(m.mean.dataSync()).map(Math.abs)) < 1e-5, 'normalised mean 0');
  assert.ok(Math.max(...Array.from(m.variance.dataSync()).map((v) => Math.abs(v - 1))) < 1e-3, 'normalised variance 1');
  assert.deepEqual(mean.shape, [6]);
  assert.deepEqual(variance.shape, [6]);
});
