/**
 * Every block the graph knows, on a non-square input: a v5.0-style model (Focus, SPP, repeated
 * Bottlenecks as nn.Sequential, C3 without shortcut) exported to ONNX (static and --dynamic)
 * and TF.js equals our forward at 96 x 128.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import ort from 'onnxruntime-node';
import { initBackend, tf } from '@yolo-launch/backend';
import { createModel, type ModelYaml } from '@yolo-launch/yolo';
import { buildExportGraph, toOnnx, toTfjsGraph, weightBytes, type TfjsGraphModel } from '../src/index.js';
import { maxAbsDiff, toWebModelConvention } from './helpers.js';

const V50_STYLE: ModelYaml = {
  nc: 4,
  depth_multiple: 0.33,
  width_multiple: 0.125,
  anchors: [
    [10, 13, 16, 30, 33, 23],
    [30, 61, 62, 45, 59, 119],
    [116, 90, 156, 198, 373, 326],
  ],
  backbone: [
    [-1, 1, 'Focus', [64, 3]],
    [-1, 1, 'Conv', [128, 3, 2]],
    [-1, 6, 'Bottleneck', [128]],
    [-1, 1, 'Conv', [256, 3, 2]],
    [-1, 3, 'C3', [256]],
    [-1, 1, 'Conv', [512, 3, 2]],
    [-1, 1, 'SPP', [512, [5, 9, 13]]],
    [-1, 3, 'C3', [512, 'False']],
  ],
  head: [
    [-1, 1, 'Conv', [256, 1, 1]],
    [-1, 1, 'nn.Upsample', ['None', 2, 'nearest']],
    [[-1, 4], 1, 'Concat', [1]],
    [-1, 3, 'C3', [256, 'False']],
    [-1, 1, 'Conv', [128, 1, 1]],
    [-1, 1, 'nn.Upsample', ['None', 2, 'nearest']],
    [[-1, 2], 1, 'Concat', [1]],
    [-1, 1, 'C3', [128, 'False']],
    [[15, 11, 7], 1, 'Detect', ['nc', 'anchors']],
  ],
};

/** The TF.js artifacts in memory, for tf.loadGraphModel without files. */
function memoryHandler(model: TfjsGraphModel): tf.io.IOHandler {
  const bytes = weightBytes(model);
  return {
    load: async () => ({
      modelTopology: model.modelJson.modelTopology,
      signature: model.modelJson.signature,
      weightSpecs: model.weights,
      weightData: bytes.buffer as ArrayBuffer,
    }),
  };
}

before(async () => {
  await initBackend({ backend: 'wasm' });
});

test('Focus, SPP, Sequential Bottlenecks, C3 without shortcut: ONNX and TF.js equal our forward at 96 x 128', async () => {
  const model = createModel(V50_STYLE, { seed: 3 });
  const [h, w] = [96, 128];
  const graph = buildExportGraph(model);
  const x = tf.randomUniform([1, h, w, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  const expected = (await tf.tidy(() => model.predict(x)).data()) as Float32Array;
  const nchw = (await tf.tidy(() => tf.transpose(x, [0, 3, 1, 2])).data()) as Float32Array;
  for (const dynamic of [false, true]) {
    const session = await ort.InferenceSession.create(
      toOnnx(graph, { height: h, width: w, batch: 1, dynamic, opset: 12, metadata: {}, producerVersion: 'test' }),
    );
    const out = await session.run({ images: new ort.Tensor('float32', nchw, [1, 3, h, w]) });
    assert.equal(maxAbsDiff(out.output0!.data as Float32Array, expected).outside, 0, `onnx dynamic=${dynamic}`);
  }
  const web = await loadGraphModel(
    memoryHandler(toTfjsGraph(graph, { height: h, width: w, batch: 1, metadata: {}, convertedBy: 'test' })),
  );
  const got = await (web.execute(x) as tf.Tensor).data();
  assert.equal(maxAbsDiff(got, toWebModelConvention(model, expected, [h, w])).outside, 0, 'tfjs');
  model.dispose();
});
