/** metrics/ fixtures: box_iou, bbox_iou (IoU/GIoU/DIoU/CIoU), ap_per_class, fitness, process_batch; plus ConfusionMatrix. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '@yolo-launch/backend';
import {
  apPerClass,
  apSummary,
  bboxIou,
  bboxIouXywh,
  boxIou,
  ConfusionMatrix,
  DetectionStats,
  fitness,
  processBatch,
  type IouKind,
} from '../src/index.js';
import { assertClose, f32, loadFixtures, tol, type Fixture, type FixtureTensor, testBackend } from './helpers.js';

before(async () => {
  await initBackend({ backend: testBackend });
});

const KINDS: Record<string, IouKind> = { iou: 'IoU', giou: 'GIoU', diou: 'DIoU', ciou: 'CIoU' };

function checkBboxIou(fx: Fixture): void {
  const b1 = fx.inputs.box1 as FixtureTensor;
  const b2 = fx.inputs.box2 as FixtureTensor;
  const t = tol(fx, 'all');
  const n = b1.shape[0]!;
  const groups: [string, Float32Array][] = [
    ['pairwise', f32(b1)],
    ['broadcast_first_box1', Float32Array.from({ length: n * 4 }, (_, i) => b1.data[i % 4]!)],
  ];
  for (const [key, box1] of groups) {
    const exp = fx.expected[key] as Record<string, FixtureTensor>;
    for (const [name, e] of Object.entries(exp)) {
      const kind = KINDS[name];
      assert.ok(kind, `unknown IoU variant ${name}`);
      // tensor version (used by the loss; float32 on the backend) ...
      const got = tf.tidy(() =>
        bboxIouXywh(
          tf.tensor2d(box1, [n, 4]),
          tf.tensor2d(f32(b2), [n, 4]),
          kind,
          Number(fx.inputs.eps ?? 1e-7),
        ).dataSync(),
      );
      assertClose(got, f32(e), t, `${key} ${name} (tensor)`);
      // ... and the host version
      const host = Array.from({ length: n }, (_, i) =>
        bboxIou(box1.subarray(i * 4, i * 4 + 4), b2.data.slice(i * 4, i * 4 + 4), { kind }),
      );
      assertClose(host, f32(e), t, `${key} ${name} (host)`);
    }
  }
}

function checkAp(fx: Fixture): void {
  const tp = fx.inputs.tp as FixtureTensor;
  const res = apPerClass(
    tp.data,
    tp.shape[1]!,
    (fx.inputs.conf as FixtureTensor).data,
    (fx.inputs.pred_cls as FixtureTensor).data,
    (fx.inputs.target_cls as FixtureTensor).data,
  );
  const e = fx.expected as Record<string, FixtureTensor | number>;
  const v = (k: string): number[] => (e[k] as FixtureTensor).data;
  assert.deepEqual(Array.from(res.uniqueClasses), v('unique_classes'), 'unique classes');
  assert.deepEqual(Array.from(res.tp), v('tp'), 'tp');
  assert.deepEqual(Array.from(res.fp), v('fp'), 'fp');
  const prf = tol(fx, 'p_r_f1');
  assertClose(res.p, v('p'), prf, 'p');
  assertClose(res.r, v('r'), prf, 'r');
  assertClose(res.f1, v('f1'), prf, 'f1');
  const apT = tol(fx, 'ap');
  assertClose(res.ap, v('ap'), apT, 'ap');
  const s = apSummary(res);
  assertClose(s.ap50, v('ap50'), apT, 'ap50');
  assertClose(s.apMean, v('ap_mean'), apT, 'ap_mean');
  assertClose([s.mp, s.mr], [e.mp as number, e.mr as number], prf, 'mp, mr');
  assertClose([s.map50, s.map], [e.map50 as number, e.map as number], apT, 'map50, map');
}

function checkFitness(fx: Fixture): void {
  const t = tol(fx, 'all');
  for (const [k, x] of Object.entries(fx.inputs)) {
    if (k === 'weights') continue;
    const m = x as FixtureTensor;
    const cols = m.shape[1]!;
    const got = Array.from({ length: m.shape[0]! }, (_, r) => fitness(m.data.slice(r * cols, (r + 1) * cols)));
    assertClose(got, (fx.expected[`fitness_${k}`] as FixtureTensor).data, t, `fitness ${k}`);
  }
}

for (const fx of loadFixtures('metrics')) {
  test(`metrics fixture ${fx.file}`, () => {
    assert.equal(fx.kind, 'metrics');
    const inp = fx.inputs;
    if ('detections' in inp && 'labels' in inp) {
      const correct = processBatch(
        f32(inp.detections as FixtureTensor),
        f32(inp.labels as FixtureTensor),
        f32(inp.iouv as FixtureTensor),
      );
      assert.deepEqual(Array.from(correct), (fx.expected.correct as FixtureTensor).data, 'correct matrix');
    } else if ('tp' in inp && 'target_cls' in inp) checkAp(fx);
    else if ('box1' in inp && 'iou' in fx.expected) {
      const b1 = inp.box1 as FixtureTensor;
      const b2 = inp.box2 as FixtureTensor;
      assertClose(
        boxIou(b1.data, b2.data, Number(inp.eps ?? 1e-7)),
        (fx.expected.iou as FixtureTensor).data,
        tol(fx, 'iou'),
        'box_iou',
      );
    } else if ('box1' in inp && 'pairwise' in fx.expected) checkBboxIou(fx);
    else if ('weights' in inp) checkFitness(fx);
    else assert.fail(`${fx.file}: unrecognised metrics inputs ${Object.keys(inp).join(', ')}`);
  });
}

test('ConfusionMatrix counts matches, misses and background predictions like upstream', () => {
  const cm = new ConfusionMatrix(2, 0.25, 0.45);
  // label 0 matched by a class-0 detection, label 1 (class 1) predicted as class 0, a stray class-1 detection
  const labels = [0, 0, 0, 10, 10, 1, 20, 20, 30, 30];
  const dets = [0, 0, 10, 10, 0.9, 0, 20, 20, 30, 30, 0.8, 0, 50, 50, 60, 60, 0.7, 1, 0, 0, 10, 10, 0.1, 1];
  cm.processBatch(dets, labels);
  const n = 3;
  const at = (p: number, t: number): number => cm.matrix[p * n + t]!;
  assert.equal(at(0, 0), 1);
  assert.equal(at(0, 1), 1);
  assert.equal(at(1, 2), 1); // predicted background (FP)
  assert.equal(at(1, 0), 0); // the low-confidence detection is ignored
  cm.processBatch(null, [1, 0, 0, 5, 5]);
  assert.equal(at(2, 1), 1); // missed label
  const { tp, fp } = cm.tpFp();
  assert.deepEqual(Array.from(tp), [1, 0]);
  assert.deepEqual(Array.from(fp), [1, 1]);
});

test("DetectionStats (val.py loop): perfect detections give YOLOv5's 0.995, misses and false positives lower it", () => {
  const perfect = new DetectionStats(3);
  const labels = [0, 10, 10, 50, 50, 2, 100, 100, 180, 160];
  perfect.addImage([10, 10, 50, 50, 0.9, 0, 100, 100, 180, 160, 0.8, 2], labels);
  perfect.addImage([], []);
  const p = perfect.compute();
  assert.equal(p.seen, 2);
  // 101-point interpolation with the (recall 1, precision 0) sentinel: a perfect set scores 0.995 upstream too
  assert.ok(Math.abs(p.map50 - 0.995) < 1e-9 && Math.abs(p.map - 0.995) < 1e-9, `map50 ${p.map50}, map ${p.map}`);
  assert.deepEqual(Array.from(p.nt), [1, 0, 1]);
  const worse = new DetectionStats(3);
  worse.addImage([10, 10, 50, 50, 0.9, 0, 300, 300, 340, 340, 0.95, 2], labels); // class-2 box misplaced
  worse.addImage([], [1, 0, 0, 20, 20]); // a missed class-1 label
  const w = worse.compute();
  assert.ok(w.map50 < 0.75 && w.map50 > 0, `map50 ${w.map50}`);
  // the accumulated statistics equal one ap_per_class call over the concatenated arrays
  const direct = apSummary(
    apPerClass([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 10, [0.9, 0.95], [0, 2], [0, 2, 1]),
  );
  assert.ok(Math.abs(direct.map - w.map) < 1e-12);
  const none = new DetectionStats(2);
  none.addImage([], [0, 1, 1, 5, 5]);
  assert.equal(none.compute().map, 0);
});
