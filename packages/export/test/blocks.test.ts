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
import { createModel } from '@yolo-launch/yolo';
import { focusSppYaml } from '@yolo-launch/yolo/test-helpers';
import { buildExportGraph, toOnnx, toTfjsGraph, weightBytes, type TfjsGraphModel } from '../src/index.js';
import { maxAbsDiff, toWebModelConvention } from './helpers.js';

// Bottleneck x6 at top level becomes nn.Sequential; the top-down head alone (no PAN) keeps it small.
const V50_STYLE = focusSppYaml({
  nc: 4,
  depth_multiple: 0.33,
  width_multiple: 0.125,
  stages: [
    [128, 6, 'Bottleneck'],
    [256, 3, 'C3'],
  ],
  top: 512,
  pan: false,
});

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
