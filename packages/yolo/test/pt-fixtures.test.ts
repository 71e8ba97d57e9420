/**
 * weights/ fixtures: real .pt files written by YOLOv5 v7.0's train.py. Every file of the folder
 * is read with our reader (nothing executed), every state_dict entry compared with its .json
 * (shape, dtype, sum, abs sum, first values), the scalars and names too, and our forward on
 * the recorded input compared with PyTorch's (abs 1e-4).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { initBackend, tf } from '@yolo-launch/backend';
import { nchwToNhwc } from '../src/index.js';
import { readPtFile, type PtStateDict } from '../src/pt/read-checkpoint.js';
import { modelFromCheckpoint } from '../src/pt/to-model.js';
import { createModel } from '../src/model.js';
import { loadStrict } from '../src/pt/to-model.js';
import { assertClose, fixturesDir } from './helpers.js';

before(async () => {
  await initBackend({ backend: 'wasm' });
});

interface EntrySummary {
  shape: number[];
  dtype: string;
  sum: number;
  abs_sum: number;
  first: number[];
}
interface WeightsFixture {
  kind: 'yolov5-checkpoint' | 'state-dict';
  scalars?: {
    epoch: number;
    best_fitness: number | null | { numpy_ndarray: number[] };
    updates: number | null;
    date: string;
  };
  opt?: Record<string, unknown>;
  model_class?: string;
  model_yaml?: Record<string, unknown>;
  names?: Record<string, string>;
  stride?: number[];
  model: Record<string, EntrySummary>;
  ema?: Record<string, EntrySummary>;
  forward: { input: string; shape: number[]; data: number[] };
}

const weightsDir = path.join(fixturesDir, 'weights');
const files = readdirSync(weightsDir)
  .filter((f) => f.endsWith('.pt'))
  .sort();

function compareEntries(got: PtStateDict, want: Record<string, EntrySummary>, what: string): void {
  assert.deepEqual(Object.keys(got), Object.keys(want), `${what}: state_dict names and order`);
  for (const [name, summary] of Object.entries(want)) {
    const tensor = got[name]!;
    assert.deepEqual(tensor.shape, summary.shape, `${what} ${name} shape`);
    assert.equal(tensor.dtype, summary.dtype, `${what} ${name} dtype`);
    let sum = 0;
    let absSum = 0;
    for (const value of tensor.data) {
      sum += value;
      absSum += Math.abs(value);
    }
    // The values are exact (fp16 widened); sums differ from numpy's only in summation order.
    assertClose([sum, absSum], [summary.sum, summary.abs_sum], { abs: 1e-6, rel: 1e-9 }, `${what} ${name} sums`);
    assert.deepEqual(
      Array.from(tensor.data.subarray(0, summary.first.length)),
      summary.first,
      `${what} ${name} first values`,
    );
  }
}

/** x[0, c, h, w] = sin(0.001 * i), i the flat NCHW index (the fixture's input). */
function fixtureInput(shape: number[]): tf.Tensor4D {
  const nchw = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(0.001 * i));
  const [n, c, h, w] = shape as [number, number, number, number];
  return tf.tensor4d(nchwToNhwc(nchw, shape), [n, h, w, c]);
}

/** "x[0,c,h,w] = sin(0.001*i), ..., shape [1,3,64,64]" -> [1, 3, 64, 64]. */
function inputShape(description: string): number[] {
  const match = /shape \[([\d,\s]+)\]/.exec(description);
  assert.ok(match, `cannot read the input shape from "${description}"`);
  return match[1]!.split(',').map(Number);
}

test('the weights folder holds .pt files, each with its .json', () => {
  assert.ok(files.length > 0, `no .pt files in ${weightsDir}`);
  for (const file of files) assert.ok(readdirSync(weightsDir).includes(`${file}.json`), `${file}.json missing`);
});

for (const file of files) {
  test(`${file}: every entry, the scalars and the forward match PyTorch`, () => {
    const want = JSON.parse(readFileSync(path.join(weightsDir, `${file}.json`), 'utf8')) as WeightsFixture;
    const ckpt = readPtFile(path.join(weightsDir, file));
    assert.equal(ckpt.kind, want.kind);
    compareEntries(ckpt.model!.stateDict, want.model, 'model');
    if (want.ema) compareEntries(ckpt.ema!.stateDict, want.ema, 'ema');
    if (want.kind === 'yolov5-checkpoint') {
      const scalars = want.scalars!;
      assert.equal(ckpt.epoch, scalars.epoch);
      assert.equal(ckpt.updates, scalars.updates);
      assert.equal(ckpt.date, scalars.date);
      const best = scalars.best_fitness;
      assert.equal(ckpt.bestFitness, best !== null && typeof best === 'object' ? best.numpy_ndarray[0] : best);
      for (const [key, value] of Object.entries(want.opt ?? {})) assert.deepEqual(ckpt.opt?.[key], value, `opt.${key}`);
      assert.equal(ckpt.model!.className, want.model_class);
      assert.deepEqual(ckpt.model!.yaml, want.model_yaml);
      assert.deepEqual(ckpt.model!.names, Object.values(want.names!));
      assert.deepEqual(ckpt.model!.stride, want.stride);
    }
    // A bare state_dict has no yaml: the fixture's model is yolov5n with the best.pt's nc.
    const model =
      ckpt.kind === 'state-dict'
        ? createModel(readYamlOfSibling(files, want), {})
        : modelFromCheckpoint(ckpt, { from: 'model' });
    if (ckpt.kind === 'state-dict') loadStrict(model, ckpt.model!.stateDict, file);
    try {
      const x = fixtureInput(inputShape(want.forward.input));
      const pred = model.predict(x);
      assert.deepEqual(pred.shape, want.forward.shape);
      assertClose(pred.dataSync(), want.forward.data, { abs: 1e-4, rel: 1e-6 }, `${file} forward`);
      tf.dispose([x, pred]);
    } finally {
      model.dispose();
    }
  });
}

/** The yaml of a YOLOv5 checkpoint in the same folder whose state_dict has the same names and shapes. */
function readYamlOfSibling(
  all: string[],
  want: WeightsFixture,
): Record<string, unknown> & {
  nc: number;
  depth_multiple: number;
  width_multiple: number;
  anchors: number[][];
  backbone: never[];
  head: never[];
} {
  for (const other of all) {
    const fixture = JSON.parse(readFileSync(path.join(weightsDir, `${other}.json`), 'utf8')) as WeightsFixture;
    if (!fixture.model_yaml) continue;
    const same = Object.entries(want.model).every(
      ([name, e]) => JSON.stringify(fixture.model[name]?.shape) === JSON.stringify(e.shape),
    );
    if (same) return fixture.model_yaml as never;
  }
  throw new Error("no checkpoint in the folder describes the state_dict's model");
}
