/**
 * The TF.js graph model folder loads with tf.loadGraphModel (from disk through our IOHandler,
 * wasm backend) and its output equals our forward, with YOLOv5's web_model convention: NHWC
 * input `x`, output `Identity` with xywh normalised by (W, H) and rows cell-major.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { initBackend, tf } from '@yolo-launch/backend';
import { buildExportGraph, fileSystemHandler, graphModelFiles, toTfjsGraph, writeDirAtomic } from '../src/index.js';
import { testImages, testModel, toWebModelConvention, withinTolerance } from './helpers.js';

const SIZE: [number, number] = [320, 320];

describe('TF.js graph model vs our forward', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yl-tfjs-'));
  before(async () => {
    await initBackend({ backend: 'wasm' });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const name of ['yolov5n', 'yolov5s'] as const) {
    test(`${name}: tf.loadGraphModel output equals predict() (abs 1e-4)`, async (t) => {
      const model = testModel(name);
      const folder = path.join(dir, `${name}_web_model`);
      writeDirAtomic(
        folder,
        graphModelFiles(
          toTfjsGraph(buildExportGraph(model), {
            height: SIZE[0],
            width: SIZE[1],
            batch: 1,
            metadata: { stride: 32 },
            convertedBy: 'test',
          }),
        ),
      );
      const files = readdirSync(folder).sort();
      assert.ok(
        files.includes('model.json') && files.some((f) => /^group1-shard\d+of\d+\.bin$/.test(f)),
        files.join(' '),
      );
      const json = JSON.parse(readFileSync(path.join(folder, 'model.json'), 'utf8'));
      assert.equal(json.format, 'graph-model');
      assert.deepEqual(Object.keys(json.signature.inputs), ['x']);
      assert.deepEqual(Object.keys(json.signature.outputs), ['Identity']);
      const graphModel = await loadGraphModel(fileSystemHandler(folder));
      assert.deepEqual(graphModel.metadata, { stride: 32 });
      for (const { label, input } of await testImages(SIZE, 2)) {
        const x = tf.tensor4d(input.nhwc, [1, ...SIZE, 3]);
        const ours = toWebModelConvention(model, (await tf.tidy(() => model.predict(x)).data()) as Float32Array, SIZE);
        const y = graphModel.execute(x) as tf.Tensor;
        assert.deepEqual(y.shape, [1, ours.length / model.no, model.no]);
        const got = await y.data();
        let max = 0;
        for (let i = 0; i < got.length; i++) {
          max = Math.max(max, Math.abs(got[i]! - ours[i]!));
          if (!withinTolerance(got[i]!, ours[i]!))
            assert.fail(`${name} ${label}: value ${i}: web model ${got[i]} vs ours ${ours[i]}`);
        }
        t.diagnostic(`${name} ${label}: max |web model - ours| ${max.toExponential(2)} (normalised units)`);
        tf.dispose([x, y]);
      }
      graphModel.dispose();
      model.dispose();
    });
  }
});
