// A whole YOLOv5n-shaped training step (yolov5n_shaped.ts: 6x6 stem, C3, SPPF, upsample,
// concat, BN, SiLU, gather) on wasm against the cpu backend, and no leaks over many steps:
// neither tensors nor wasm heap buffers (our kernels allocate on the heap directly).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../src/index.js';
import { YoloV5Shaped, YOLOV5N, type NetConfig } from './yolov5n_shaped.js';
import { relError } from './reference.js';

function gradsOn(backend: string, bn: NetConfig['bn']): { loss: number; grads: Float32Array[] } {
  tf.setBackend(backend);
  const net = new YoloV5Shaped(tf, { ...YOLOV5N, bn });
  const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 42) as tf.Tensor4D;
  tf.tidy(() => {
    net.forward(x);
  }); // create the variables
  const { value, grads } = tf.variableGrads(() => net.loss(net.forward(x)), net.params);
  // (the Detect convs' unused BN gains get no gradient on either backend)
  const out = {
    loss: value.dataSync()[0],
    grads: net.params.filter((p) => grads[p.name] != null).map((p) => Float32Array.from(grads[p.name].dataSync())),
  };
  tf.dispose([value, x, ...Object.values(grads)]);
  net.dispose();
  return out;
}

for (const bn of ['fused', 'moments'] as const) {
  test(`YOLOv5n-shaped step (BN ${bn}): wasm gradients equal cpu`, async () => {
    await initBackend({ backend: 'wasm' });
    const w = gradsOn('wasm', bn);
    const c = gradsOn('cpu', bn);
    tf.setBackend('wasm');
    assert.ok(Math.abs(w.loss - c.loss) < 1e-4 * Math.abs(c.loss), `loss ${w.loss} vs ${c.loss}`);
    assert.equal(w.grads.length, c.grads.length);
    let worst = 0;
    w.grads.forEach((g, i) => {
      worst = Math.max(worst, relError(g, c.grads[i]));
    });
    assert.ok(worst < 2e-3, `worst parameter-gradient relative error ${worst}`);
  });
}

test('no tensors or wasm buffers leak over 30 training steps', async () => {
  await initBackend({ backend: 'wasm' });
  const net = new YoloV5Shaped(tf, YOLOV5N);
  const optimizer = tf.train.sgd(0.01);
  const x = tf.randomUniform([2, 64, 64, 3]) as tf.Tensor4D;
  net.step(x, optimizer).dispose();
  const tensors = tf.memory().numTensors;
  const buffers = tf.engine().backend.numDataIds();
  const losses: number[] = [];
  for (let i = 0; i < 30; i++) {
    const loss = net.step(x, optimizer);
    losses.push(loss.dataSync()[0]);
    loss.dispose();
    assert.equal(tf.memory().numTensors, tensors, `tensors after step ${i + 1}`);
    assert.equal(tf.engine().backend.numDataIds(), buffers, `wasm buffers after step ${i + 1}`);
  }
  assert.ok(losses[losses.length - 1] < losses[0], `SGD lowers the loss: ${losses[0]} -> ${losses[losses.length - 1]}`);
  tf.dispose(x);
  net.dispose();
  optimizer.dispose();
});
