/**
 * The ONNX export run by onnxruntime-node (CPU) equals our eval forward on letterboxed
 * images (coco128 from ../shared, else a synthetic image), for yolov5n and yolov5s; static and
 * --dynamic graphs, several opsets, metadata as export.py writes it, BN folded away.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { initBackend, tf } from '@yolo-launch/backend';
import { buildExportGraph, toNchw, toOnnx, type OnnxExportOptions } from '../src/index.js';
import { maxAbsDiff, testImages, testModel } from './helpers.js';

const SIZE: [number, number] = [320, 320];

function onnxOptions(overrides: Partial<OnnxExportOptions> = {}): OnnxExportOptions {
  return {
    height: SIZE[0],
    width: SIZE[1],
    batch: 1,
    dynamic: false,
    opset: 12,
    metadata: { stride: '32', names: "{0: 'a', 1: 'b', 2: 'c'}" },
    producerVersion: 'test',
    ...overrides,
  };
}

async function runOnnx(
  bytes: Uint8Array,
  nchw: Float32Array,
  dims: number[],
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
  const out = await session.run({ images: new ort.Tensor('float32', nchw, dims) });
  await session.release();
  return { data: out.output0!.data as Float32Array, dims: out.output0!.dims };
}

describe('ONNX export vs our forward (onnxruntime-node)', () => {
  before(async () => {
    await initBackend({ backend: 'wasm' });
  });

  for (const name of ['yolov5n', 'yolov5s'] as const) {
    test(`${name}: output0 equals predict() on letterboxed images (abs 1e-4, + 1e-6 rel on pixels)`, async (t) => {
      const model = testModel(name);
      const bytes = toOnnx(buildExportGraph(model), onnxOptions());
      const images = await testImages(SIZE, name === 'yolov5n' ? 3 : 2);
      for (const { label, input } of images) {
        const ours = tf.tidy(() => model.predict(tf.tensor4d(input.nhwc, [1, ...SIZE, 3])));
        const expected = await ours.data();
        ours.dispose();
        const got = await runOnnx(bytes, toNchw(input.nhwc, ...SIZE), [1, 3, ...SIZE]);
        assert.deepEqual(got.dims, [1, expected.length / model.no, model.no]);
        const { max, at, outside } = maxAbsDiff(got.data, expected);
        t.diagnostic(`${name} ${label}: max |onnx - ours| ${max.toExponential(2)}`);
        assert.equal(
          outside,
          0,
          `${name} ${label}: ${outside} values beyond abs 1e-4 + 1e-6 rel; max |onnx - ours| = ${max} at ${at}`,
        );
      }
      model.dispose();
    });
  }

  test('--dynamic: one graph serves other batch sizes and image sizes; opsets 11, 13, 17', async () => {
    const model = testModel('yolov5n');
    const graph = buildExportGraph(model);
    const [h, w] = [192, 256];
    const x = tf.randomUniform([2, h, w, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const expected = await tf.tidy(() => model.predict(x)).data();
    const nchw = await tf.tidy(() => tf.transpose(x, [0, 3, 1, 2])).data();
    for (const opset of [11, 12, 13, 17]) {
      const got = await runOnnx(toOnnx(graph, onnxOptions({ dynamic: true, opset })), nchw as Float32Array, [
        2,
        3,
        h,
        w,
      ]);
      assert.deepEqual(got.dims, [2, expected.length / 2 / model.no, model.no]);
      const { max, outside } = maxAbsDiff(got.data, expected);
      assert.equal(outside, 0, `opset ${opset}: max diff ${max}`);
    }
    x.dispose();
    model.dispose();
  });

  test('graph: images/output0 shapes, metadata stride and names, opset, no BatchNormalization left', () => {
    const model = testModel('yolov5n');
    const decoded = onnxProto.onnx.ModelProto.decode(toOnnx(buildExportGraph(model), onnxOptions({ batch: 2 })));
    const dims = (v: onnxProto.onnx.IValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((d) => Number(d.dimValue));
    assert.equal(decoded.graph!.input![0]!.name, 'images');
    assert.deepEqual(dims(decoded.graph!.input![0]!), [2, 3, 320, 320]);
    assert.equal(decoded.graph!.output![0]!.name, 'output0');
    assert.deepEqual(dims(decoded.graph!.output![0]!), [2, 3 * (40 * 40 + 20 * 20 + 10 * 10), 8]);
    assert.equal(Number(decoded.opsetImport![0]!.version), 12);
    assert.deepEqual(Object.fromEntries(decoded.metadataProps!.map((p) => [p.key, p.value])), {
      stride: '32',
      names: "{0: 'a', 1: 'b', 2: 'c'}",
    });
    const ops = new Set(decoded.graph!.node!.map((n) => n.opType));
    assert.ok(!ops.has('BatchNormalization'), 'BN must be folded into Conv');
    assert.equal(
      decoded.graph!.node!.filter((n) => n.opType === 'Conv').length,
      60,
      'yolov5n has 57 Conv modules + 3 Detect convs',
    );
    model.dispose();
  });
});
