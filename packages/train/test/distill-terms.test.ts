// The distillation terms against values computed independently with PyTorch (YOLOv6's
// formulas and YOLOv5 v7.0's bbox_iou): test/fixtures/distill/reference.py wrote terms.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, tf } from '@yolo-launch/backend';
import { nchwToNhwc } from '@yolo-launch/yolo';
import { boxCiouMean, channelWiseKl, classKlSum, distillWeight, objectnessKlMean } from '../src/distill/terms.js';

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Reference {
  class: { student: number[]; teacher: number[]; shape: [number, number]; T20: number; T2: number };
  objectness: { student: number[]; teacher: number[]; value: number };
  box: { student: number[]; teacher: number[]; value: number };
  cwd: { nchw: [number, number, number, number]; student: number[]; teacher: number[]; T1: number; T4: number };
  weight: { epochs: number; at: Record<string, number> };
}
const reference = JSON.parse(
  fs.readFileSync(path.join(PACKAGE_ROOT, 'test', 'fixtures', 'distill', 'terms.json'), 'utf8'),
) as Reference;

function close(actual: number, expected: number, what: string, rel = 1e-5): void {
  assert.ok(
    Math.abs(actual - expected) <= rel * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} vs PyTorch ${expected}`,
  );
}

const scalar = (f: () => tf.Scalar): number => tf.tidy(() => f().dataSync()[0]!);

test('class term: T² · KL(softmax(teacher/T) ‖ softmax(student/T)), summed (YOLOv6 distill_loss_cls)', async () => {
  await initBackend({ backend: 'cpu' });
  const { student, teacher, shape } = reference.class;
  for (const [T, expected] of [
    [20, reference.class.T20],
    [2, reference.class.T2],
  ] as const) {
    const value = scalar(() => classKlSum(tf.tensor2d(student, shape), tf.tensor2d(teacher, shape), T));
    close(value, expected, `T=${T}`);
  }
  // equal logits: nothing to learn
  close(
    scalar(() => classKlSum(tf.tensor2d(teacher, shape), tf.tensor2d(teacher, shape), 20)),
    0,
    'equal logits',
  );
});

test('objectness term: BCE against sigmoid(teacher) minus its entropy, mean', async () => {
  await initBackend({ backend: 'cpu' });
  const { student, teacher, value } = reference.objectness;
  close(
    scalar(() => objectnessKlMean(tf.tensor1d(student), tf.tensor1d(teacher))),
    value,
    'objectness',
  );
  close(
    scalar(() => objectnessKlMean(tf.tensor1d(teacher), tf.tensor1d(teacher))),
    0,
    'equal objectness',
  );
});

test("box term: mean 1 - CIoU against the teacher's boxes (YOLOv5's bbox_iou, CIoU)", async () => {
  await initBackend({ backend: 'cpu' });
  const { student, teacher, value } = reference.box;
  close(
    scalar(() => boxCiouMean(tf.tensor2d(student, [2, 4]), tf.tensor2d(teacher, [2, 4]))),
    value,
    'box',
  );
});

test('feature term: channel-wise KL over positions, T² / (N·C) (YOLOv6 distill_loss_cw), NHWC', async () => {
  await initBackend({ backend: 'cpu' });
  const { nchw, student, teacher } = reference.cwd;
  const [n, c, h, w] = nchw;
  const nhwc = (v: number[]): tf.Tensor4D => tf.tensor4d(nchwToNhwc(Float32Array.from(v), [n, c, h, w]), [n, h, w, c]);
  close(
    scalar(() => channelWiseKl(nhwc(student), nhwc(teacher), 1)),
    reference.cwd.T1,
    'T=1',
  );
  close(
    scalar(() => channelWiseKl(nhwc(student), nhwc(teacher), 4)),
    reference.cwd.T4,
    'T=4',
  );
});

test("the distillation weight follows YOLOv6's cosine decay from 1 to 0.01", () => {
  const { epochs, at } = reference.weight;
  for (const [epoch, expected] of Object.entries(at))
    close(distillWeight(Number(epoch), epochs), expected, `epoch ${epoch}`, 1e-12);
  assert.equal(distillWeight(0, epochs), 1);
  close(distillWeight(epochs / 2, epochs), 0.505, 'half way', 1e-12);
});
