// Eager-release backprop gives bit-identical gradients to tfjs-core's, with a lower peak.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend, setEagerBackprop, eagerBackpropEnabled } from '../src/index.js';
import { YoloV5Shaped, YOLOV5N } from './yolov5n_shaped.js';

function stepGrads(): { grads: Float32Array[]; peakBytes: number } {
  const net = new YoloV5Shaped(tf, YOLOV5N);
  const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  tf.tidy(() => {
    net.forward(x);
  });
  let peakBytes = 0;
  const configs = tf.getKernelsForBackend('wasm');
  const originals = configs.map((c) => c.kernelFunc);
  configs.forEach((c, i) => {
    (c as { kernelFunc: tf.KernelFunc }).kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
      const out = originals[i](args);
      peakBytes = Math.max(peakBytes, tf.memory().numBytes);
      return out;
    }) as tf.KernelFunc;
  });
  try {
    const { value, grads } = tf.variableGrads(() => net.loss(net.forward(x)), net.params);
    const out = net.params.filter((p) => grads[p.name] != null).map((p) => Float32Array.from(grads[p.name].dataSync()));
    tf.dispose([value, x, ...Object.values(grads)]);
    return { grads: out, peakBytes };
  } finally {
    configs.forEach((c, i) => {
      (c as { kernelFunc: tf.KernelFunc }).kernelFunc = originals[i];
    });
    net.dispose();
  }
}

test('eager backprop: same gradients bit for bit, lower peak memory, nothing leaked', async () => {
  await initBackend({ backend: 'wasm' });
  assert.equal(eagerBackpropEnabled(), true, 'installed by default');
  const before = tf.memory().numTensors;
  const eager = stepGrads();
  setEagerBackprop(false);
  const stock = stepGrads();
  setEagerBackprop(true);
  assert.equal(eager.grads.length, stock.grads.length);
  eager.grads.forEach((g, i) => assert.deepEqual(g, stock.grads[i], `gradient ${i}`));
  assert.ok(eager.peakBytes < 0.8 * stock.peakBytes, `peak ${eager.peakBytes} vs stock ${stock.peakBytes}`);
  assert.equal(tf.memory().numTensors, before);
});

test('eager backprop: higher-order gradients, user dy, xs that are intermediates', async () => {
  await initBackend({ backend: 'wasm' });
  const x = tf.scalar(3);
  // d2/dx2 of x^3 = 6x
  const d2 = tf.grad((v: tf.Tensor) => tf.grad((w: tf.Tensor) => tf.pow(w, 3))(v))(x);
  assert.equal(d2.dataSync()[0], 18);
  const a = tf.tensor1d([1, 2, 3]);
  const dy = tf.tensor1d([1, 10, 100]);
  const g = tf.grad((t: tf.Tensor) => tf.mul(tf.square(t), 2))(a, dy);
  assert.deepEqual(Array.from(g.dataSync()), [4, 80, 1200]);
  assert.equal(dy.isDisposed, false, 'a caller-provided dy is never freed');
  const { grads } = tf.engine().gradients(() => {
    const h = tf.mul(a, 2);
    return tf.sum(tf.mul(h, h));
  }, [a]);
  assert.deepEqual(Array.from(grads[0].dataSync()), [8, 16, 24]);
  // a custom gradient that returns its saved tensor as the gradient
  const weird = tf.customGrad(((v: tf.Tensor, save: tf.GradSaveFunc) => {
    const w = tf.tensor1d([5, 6, 7]);
    save([w]);
    return { value: tf.sum(tf.mul(v, w)), gradFunc: (_dy: tf.Tensor, saved: tf.Tensor[]) => [saved[0]] };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const gw = tf.grad((v: tf.Tensor) => weird(v) as tf.Tensor)(a);
  assert.deepEqual(Array.from(gw.dataSync()), [5, 6, 7]);
  tf.dispose([x, d2, a, dy, g, gw, ...grads]);
});
