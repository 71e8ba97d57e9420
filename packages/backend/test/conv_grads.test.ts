// Our wasm Conv2DBackpropFilter / Conv2DBackpropInput against a float64 reference and
// against tfjs's cpu kernels, over every conv configuration YOLOv5 uses and the awkward
// ones around them (odd sizes, explicit asymmetric padding, VALID with a remainder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../src/index.js';
import { convInfo, randomArray, refFilterGrad, refInputGrad, relError, type ConvCase, type Pad } from './reference.js';

const pads: Pad[] = [
  'same',
  'valid',
  1,
  [
    [0, 0],
    [2, 1],
    [0, 2],
    [0, 0],
  ],
];
const cases: ConvCase[] = [];
for (const kernel of [1, 3, 6])
  for (const stride of [1, 2])
    for (const pad of pads)
      for (const [n, h, w] of [
        [1, 7, 9],
        [3, 8, 8],
      ] as const) {
        if (pad === 'valid' && kernel > h) continue;
        cases.push({ n, h, w, c: 3, k: 5, kh: kernel, kw: kernel, stride, pad });
      }
// the YOLOv5 stem: 6x6 stride 2 pad 2, and a non-square kernel
cases.push({ n: 2, h: 16, w: 16, c: 3, k: 4, kh: 6, kw: 6, stride: 2, pad: 2 });
cases.push({ n: 1, h: 9, w: 10, c: 4, k: 3, kh: 3, kw: 2, stride: 2, pad: 'same' });
// >= 32 input channels: strided input gradients take the per-phase path
for (const pad of pads) cases.push({ n: 2, h: 9, w: 8, c: 32, k: 6, kh: 3, kw: 3, stride: 2, pad });
cases.push({ n: 1, h: 7, w: 7, c: 40, k: 4, kh: 1, kw: 1, stride: 2, pad: 'valid' });
cases.push({ n: 1, h: 11, w: 11, c: 33, k: 5, kh: 6, kw: 6, stride: 2, pad: 2 });

function label(cs: ConvCase): string {
  return `n${cs.n} ${cs.h}x${cs.w}x${cs.c}->${cs.k} k${cs.kh}x${cs.kw} s${cs.stride} pad ${JSON.stringify(cs.pad)}`;
}

function run(
  backend: 'wasm' | 'cpu',
  kernel: string,
  inputs: Record<string, Float32Array>,
  shapes: Record<string, number[]>,
  attrs: object,
): Float32Array {
  tf.setBackend(backend);
  const tensors: Record<string, tf.Tensor> = {};
  for (const key of Object.keys(inputs)) tensors[key] = tf.tensor(inputs[key], shapes[key]);
  const out = tf.engine().runKernel(kernel, tensors, attrs as tf.NamedAttrMap) as tf.Tensor;
  const values = out.dataSync() as Float32Array;
  tf.dispose([out, ...Object.values(tensors)]);
  return values;
}

test('conv gradient kernels match float64 and cpu', async (t) => {
  await initBackend({ backend: 'wasm' });
  for (const [idx, cs] of cases.entries()) {
    await t.test(label(cs), () => {
      const info = convInfo(cs);
      const xShape = [cs.n, cs.h, cs.w, cs.c],
        wShape = [cs.kh, cs.kw, cs.c, cs.k];
      const dyShape = [cs.n, info.outHeight, info.outWidth, cs.k];
      const x = randomArray(
        xShape.reduce((a, b) => a * b),
        11 + idx,
      );
      const w = randomArray(
        wShape.reduce((a, b) => a * b),
        23 + idx,
      );
      const dy = randomArray(
        dyShape.reduce((a, b) => a * b),
        37 + idx,
      );
      const common = { strides: cs.stride, pad: cs.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };

      const fAttrs = { ...common, filterShape: wShape };
      const dwRef = refFilterGrad(cs, x, dy);
      const dwWasm = run('wasm', 'Conv2DBackpropFilter', { x, dy }, { x: xShape, dy: dyShape }, fAttrs);
      const dwCpu = run('cpu', 'Conv2DBackpropFilter', { x, dy }, { x: xShape, dy: dyShape }, fAttrs);
      assert.ok(relError(dwWasm, dwRef) < 1e-5, `filter grad wasm vs f64: ${relError(dwWasm, dwRef)}`);
      assert.ok(relError(dwWasm, dwCpu) < 1e-5, `filter grad wasm vs cpu: ${relError(dwWasm, dwCpu)}`);

      const iAttrs = { ...common, inputShape: xShape };
      const dxRef = refInputGrad(cs, w, dy);
      const dxWasm = run('wasm', 'Conv2DBackpropInput', { dy, filter: w }, { dy: dyShape, filter: wShape }, iAttrs);
      const dxCpu = run('cpu', 'Conv2DBackpropInput', { dy, filter: w }, { dy: dyShape, filter: wShape }, iAttrs);
      assert.ok(relError(dxWasm, dxRef) < 1e-5, `input grad wasm vs f64: ${relError(dxWasm, dxRef)}`);
      assert.ok(relError(dxWasm, dxCpu) < 1e-5, `input grad wasm vs cpu: ${relError(dxWasm, dxCpu)}`);
    });
  }
  tf.setBackend('wasm');
});

test('tf.grads of conv2d on wasm equals cpu (through the gradient tape)', async () => {
  await initBackend({ backend: 'wasm' });
  const grads = (backend: string) => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const x = tf.tensor4d(randomArray(2 * 11 * 13 * 4, 5), [2, 11, 13, 4]);
      const f = tf.tensor4d(randomArray(3 * 3 * 4 * 6, 6), [3, 3, 4, 6]);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf
          .sigmoid(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 1))
          .mul(a.mean())
          .sum(),
      );
      return g([x, f]).map((v) => v.dataSync() as Float32Array);
    });
  };
  const [dxW, dfW] = grads('wasm');
  const [dxC, dfC] = grads('cpu');
  tf.setBackend('wasm');
  assert.ok(relError(dxW, dxC) < 1e-5);
  assert.ok(relError(dfW, dfC) < 1e-5);
});
