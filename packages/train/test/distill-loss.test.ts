// The student's loss under --distill on tiny models (two Detect levels, teacher wider than the
// student, so --distill-feat needs adapters): how the terms add up, zero terms against itself,
// the same gradients on the layer-recompute and the one-tape backward (adapters included),
// the adapters' gradients handed to DDP's hook with Detect's, a frozen teacher, and the
// teacher file's checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, tf } from '@yolo-launch/backend';
import * as yolo from '@yolo-launch/yolo';
import { defaultOptions, UsageError, type TrainOptions } from '../src/options.js';
import { saveCheckpoint, type Checkpoint } from '../src/checkpoint.js';
import { ModelState } from '../src/model-state.js';
import { Distiller } from '../src/distill/distiller.js';
import { loadTeacherCheckpoint } from '../src/distill/teacher.js';
import { sampleCheckpoint } from './helpers/sample-checkpoint.js';

const tinyYaml = (c1: number, c2: number): yolo.ModelYaml => ({
  nc: 3,
  depth_multiple: 1,
  width_multiple: 1,
  anchors: [
    [10, 13, 16, 30],
    [30, 61, 62, 45],
  ],
  backbone: [
    [-1, 1, 'Conv', [c1, 3, 2]],
    [-1, 1, 'Conv', [c2, 3, 2]],
  ],
  head: [[[0, 1], 1, 'Detect', ['nc', 'anchors']]],
});
const HYP: yolo.LossHyp = { box: 0.05, obj: 1.0, cls: 0.5, cls_pw: 1, obj_pw: 1, anchor_t: 4 };
// two images 16x16, three boxes (normalised xywh) of classes 0..2
const TARGETS = Float32Array.from([0, 0, 0.5, 0.5, 0.4, 0.5, 0, 2, 0.3, 0.7, 0.3, 0.2, 1, 1, 0.6, 0.4, 0.5, 0.6]);

/** A teacher file's content for `model`: the sample checkpoint's metadata (nc 3, names a, b, c) with its definition. */
async function teacherCheckpoint(model: yolo.YoloModel, yaml: yolo.ModelYaml): Promise<Checkpoint> {
  const { meta } = await sampleCheckpoint(-1);
  const definition = yaml as unknown as Record<string, unknown>;
  return {
    meta: { ...meta, model_yaml: definition },
    model: new ModelState(model).checkpointTensors(),
    ema: null,
    optimizer: null,
  };
}

function distillOptions(feat: boolean): TrainOptions {
  return { ...defaultOptions(), distill: true, teacher_model_path: 'teacher.pt', distill_feat: feat, epochs: 10 };
}

async function setUp(feat: boolean) {
  await initBackend({ backend: 'cpu' });
  const student = yolo.createModel(tinyYaml(8, 16), { seed: 1 });
  const teacherSource = yolo.createModel(tinyYaml(12, 24), { seed: 2 });
  const distiller = Distiller.create(
    await teacherCheckpoint(teacherSource, tinyYaml(12, 24)),
    student,
    distillOptions(feat),
  );
  teacherSource.dispose();
  const detection = yolo.ComputeLoss.forModel(student, HYP);
  const images = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  return { student, distiller, detection, loss: distiller.wrap(detection), images };
}

test('loss = detection + bs · w(epoch) · (box + obj + cls + feat terms); all terms act', async () => {
  const { student, distiller, detection, loss, images } = await setUp(true);
  distiller.runTeacher(images, 3);
  const [total, plain] = tf.tidy(() => {
    const { raw, features } = student.forwardWithFeatures(images, { training: true, updateStats: false });
    return [
      loss.compute(raw, TARGETS, features).loss.dataSync()[0]!,
      detection.compute(raw, TARGETS).loss.dataSync()[0]!,
    ];
  });
  const items = loss.lastItems;
  for (const [k, v] of items.entries()) assert.ok(v > 0, `term ${k} is ${v}`);
  const expected = plain + 2 * loss.weight * items.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - expected) <= 1e-5 * expected, `${total} vs ${expected}`);
  assert.ok(Math.abs(loss.weight - (((1 - Math.cos((3 * Math.PI) / 10)) / 2) * (0.01 - 1) + 1)) < 1e-12);
  distiller.endStep();
  [student, distiller, images].forEach((x) => x.dispose());
});

test("a teacher's terms against its own outputs are zero", async () => {
  await initBackend({ backend: 'cpu' });
  const model = yolo.createModel(tinyYaml(8, 16), { seed: 3 });
  const distiller = Distiller.create(await teacherCheckpoint(model, tinyYaml(8, 16)), model, distillOptions(true));
  assert.equal(distiller.adapters!.variables.length, 0, 'same channels: no adapters');
  const loss = distiller.wrap(yolo.ComputeLoss.forModel(model, HYP));
  const images = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
  distiller.runTeacher(images, 0);
  tf.tidy(() => {
    const { raw, features } = distiller.teacher.forwardWithFeatures(images, { training: false });
    loss.compute(raw, TARGETS, features);
  });
  for (const v of loss.lastItems) assert.ok(Math.abs(v) < 1e-5, `terms ${loss.lastItems}`);
  distiller.endStep();
  [model, distiller, images].forEach((x) => x.dispose());
});

test('recompute and one-tape backward give the same gradients, adapters included; the teacher stays frozen', async () => {
  const { student, distiller, loss, images } = await setUp(true);
  const teacherBefore = new ModelState(distiller.teacher).checkpointTensors();
  assert.ok(
    distiller.teacher.parameters().every((p) => !p.variable.trainable),
    'teacher variables are not trainable',
  );
  const gradients = (recompute: boolean): Map<string, Float32Array> => {
    distiller.runTeacher(images, 0);
    const r = yolo.lossAndGradients(student, loss, images, TARGETS, { recompute });
    distiller.endStep();
    const out = new Map(r.grads.map((g) => [g.variable.name, Float32Array.from(g.grad.dataSync() as Float32Array)]));
    tf.dispose(r.grads.map((g) => g.grad));
    return out;
  };
  const tensorsBefore = tf.memory().numTensors;
  const layered = gradients(true);
  assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor left behind by a step');
  const taped = gradients(false);
  const adapterNames = distiller.adapters!.variables.map((v) => v.name);
  assert.equal(adapterNames.length, 2, 'one adapter per level (8->12, 16->24)');
  const teacherNames = new Set(distiller.teacher.parameters().map((p) => p.variable.name));
  for (const name of layered.keys()) assert.ok(!teacherNames.has(name), `no gradient for the teacher's ${name}`);
  for (const name of adapterNames)
    assert.ok(
      layered.get(name)!.some((v) => v !== 0),
      `${name} has a gradient`,
    );
  assert.equal(taped.size, layered.size);
  for (const [name, g] of layered) {
    const h = taped.get(name)!;
    const scale = Math.max(1e-3, ...g.map(Math.abs));
    g.forEach((v, i) => assert.ok(Math.abs(v - h[i]!) <= 1e-4 * scale, `${name}[${i}]: ${v} vs ${h[i]}`));
  }
  const teacherAfter = new ModelState(distiller.teacher).checkpointTensors();
  teacherBefore.forEach((t, k) => assert.deepEqual(teacherAfter[k]!.data, t.data, `teacher ${t.name} unchanged`));
  [student, distiller, images].forEach((x) => x.dispose());
});

test("the recomputing backward hands the adapters' gradients to the hook with Detect's, before any layer's", async () => {
  const { student, distiller, loss, images } = await setUp(true);
  distiller.runTeacher(images, 0);
  const order: string[] = [];
  const r = yolo.lossAndGradients(student, loss, images, TARGETS, {
    recompute: true,
    onGradient: (variable) => order.push(variable.name),
  });
  distiller.endStep();
  tf.dispose(r.grads.map((g) => g.grad));
  const layerOf = new Map(student.trainableParameters().map((p) => [p.variable.name, Number(p.name.split('.')[1])]));
  const adapterNames = distiller.adapters!.variables.map((v) => v.name);
  assert.deepEqual(new Set(order), new Set(r.grads.map((g) => g.variable.name)), 'every gradient handed over once');
  assert.equal(order.length, r.grads.length);
  const firstLayerGrad = order.findIndex((n) => layerOf.has(n) && layerOf.get(n) !== 2); // 2: Detect
  for (const name of adapterNames)
    assert.ok(order.indexOf(name) < firstLayerGrad, `${name} handed over before the layers' (${order.join(', ')})`);
  [student, distiller, images].forEach((x) => x.dispose());
});

test('the teacher file: missing, or trained on other classes, is refused before training', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yl-distill-'));
  try {
    const file = path.join(dir, 'teacher.pt');
    saveCheckpoint(file, await sampleCheckpoint(1)); // nc 3, names a, b, c
    assert.throws(
      () => loadTeacherCheckpoint(file, { nc: 4, names: ['a', 'b', 'c', 'd'] }),
      (e: Error) => e instanceof UsageError && /nc=3 classes, the dataset has nc=4/.test(e.message),
    );
    assert.throws(
      () => loadTeacherCheckpoint(file, { nc: 3, names: ['a', 'c', 'b'] }),
      (e: Error) => e instanceof UsageError && /are not the dataset's/.test(e.message),
    );
    assert.equal(loadTeacherCheckpoint(file, { nc: 3, names: ['a', 'b', 'c'] }).meta.nc, 3);
    assert.throws(
      () => loadTeacherCheckpoint(path.join(dir, 'missing.pt'), { nc: 3, names: ['a', 'b', 'c'] }),
      (e: Error) => e instanceof UsageError && /--teacher-model-path .*missing\.pt.*does not exist/.test(e.message),
    );
    fs.writeFileSync(path.join(dir, 'garbage.pt'), 'not a checkpoint');
    assert.throws(
      () => loadTeacherCheckpoint(path.join(dir, 'garbage.pt'), { nc: 3, names: ['a', 'b', 'c'] }),
      (e: Error) => e instanceof UsageError && /garbage\.pt/.test(e.message),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
