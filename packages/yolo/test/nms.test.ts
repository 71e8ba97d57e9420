/** nms/ fixtures: non_max_suppression rows, order, counts and classes; plus box helpers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nonMaxSuppression, scaleBoxes, xywh2xyxy, xyxy2xywh, xywhn2xyxy, xyxy2xywhn } from '../src/index.js';
import { assertClose, f32, loadFixtures, tol, type FixtureTensor } from './helpers.js';

interface NmsArgs {
  conf_thres: number;
  iou_thres: number;
  classes: number[] | null;
  agnostic: boolean;
  multi_label: boolean;
  max_det: number;
}

for (const fx of loadFixtures('nms')) {
  test(`nms fixture ${fx.file}`, () => {
    assert.equal(fx.kind, 'nms');
    const pred = fx.inputs.predictions as FixtureTensor;
    const args = fx.inputs.args as NmsArgs;
    const out = nonMaxSuppression(f32(pred), pred.shape as [number, number, number], {
      confThres: args.conf_thres,
      iouThres: args.iou_thres,
      classes: args.classes,
      agnostic: args.agnostic,
      multiLabel: args.multi_label,
      maxDet: args.max_det,
      maxNms: Number(fx.inputs.max_nms ?? 30000),
      maxWh: Number(fx.inputs.max_wh ?? 7680),
    });
    const exp = fx.expected as { detections: FixtureTensor[]; counts: number[] };
    assert.deepEqual(
      out.map((d) => d.n),
      exp.counts,
      'detections per image',
    );
    out.forEach((d, b) => {
      const e = f32(exp.detections[b]!);
      const cls = (a: Float32Array): number[] => Array.from({ length: a.length / 6 }, (_, r) => a[r * 6 + 5]!);
      assert.deepEqual(cls(d.data), cls(e), `image ${b}: classes in order`);
      assertClose(d.data, e, tol(fx, 'boxes_conf'), `image ${b}: boxes and conf`);
    });
  });
}

test('box format helpers round-trip and scale_boxes undoes a letterbox', () => {
  const xywh = Float32Array.of(50, 40, 20, 10, 5, 5, 4, 6);
  const xyxy = xywh2xyxy(xywh);
  assert.deepEqual(Array.from(xyxy), [40, 35, 60, 45, 3, 2, 7, 8]);
  assert.deepEqual(Array.from(xyxy2xywh(xyxy)), Array.from(xywh));
  const n = xyxy2xywhn(xywhn2xyxy(Float32Array.of(0.5, 0.25, 0.2, 0.1), 640, 480), 640, 480);
  assertClose(n, [0.5, 0.25, 0.2, 0.1], { abs: 1e-6 }, 'xywhn round trip');
  // 640x480 image letterboxed into 640x640: gain 1, pad (0, 80)
  const boxes = [10, 90, 100, 200, 0.9, 1, -5, 60, 700, 600, 0.5, 2];
  scaleBoxes([640, 640], boxes, [480, 640], undefined, 6);
  assert.deepEqual(boxes, [10, 10, 100, 120, 0.9, 1, 0, 0, 640, 480, 0.5, 2]);
  const b2 = [100, 100, 200, 200];
  scaleBoxes(
    [320, 320],
    b2,
    [480, 640],
    [
      [0.5, 0.5],
      [0, 40],
    ],
  );
  assert.deepEqual(b2, [200, 120, 400, 320]);
});

/** Straightforward reference: full sort, max_nms cut, O(n^2) greedy NMS, max_det cut. */
function referenceNms(
  pred: Float32Array,
  N: number,
  no: number,
  o: { confThres: number; iouThres: number; agnostic: boolean; multiLabel: boolean; maxDet: number; maxNms: number },
): number[][] {
  const f = Math.fround;
  const cand: number[][] = [];
  for (let i = 0; i < N; i++) {
    const r = pred.subarray(i * no, (i + 1) * no);
    if (!(r[4]! > o.confThres)) continue;
    const box = [f(r[0]! - f(r[2]! / 2)), f(r[1]! - f(r[3]! / 2)), f(r[0]! + f(r[2]! / 2)), f(r[1]! + f(r[3]! / 2))];
    const confs = Array.from(r.subarray(5), (p) => f(p * r[4]!));
    if (o.multiLabel) confs.forEach((c, k) => c > o.confThres && cand.push([...box, c, k, cand.length]));
    else {
      const k = confs.indexOf(Math.max(...confs));
      if (confs[k]! > o.confThres) cand.push([...box, confs[k]!, k, cand.length]);
    }
  }
  cand.sort((a, b) => b[4]! - a[4]! || a[6]! - b[6]!);
  const kept: number[][] = [];
  for (const c of cand.slice(0, o.maxNms)) {
    const sup = kept.some((k) => {
      if (!o.agnostic && k[5] !== c[5]) return false;
      const iw = Math.min(c[2]!, k[2]!) - Math.max(c[0]!, k[0]!);
      const ih = Math.min(c[3]!, k[3]!) - Math.max(c[1]!, k[1]!);
      if (iw <= 0 || ih <= 0) return false;
      const inter = iw * ih;
      return inter / ((c[2]! - c[0]!) * (c[3]! - c[1]!) + (k[2]! - k[0]!) * (k[3]! - k[1]!) - inter) > o.iouThres;
    });
    if (!sup) kept.push(c);
  }
  return kept.slice(0, o.maxDet).map((k) => k.slice(0, 6));
}

test('NMS equals a plain reference with max_nms truncation, the spatial grid and huge boxes', () => {
  const N = 6000;
  const nc = 4;
  const no = nc + 5;
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pred = new Float32Array(N * no);
  for (let i = 0; i < N; i++) {
    const huge = i % 500 === 0;
    pred.set(
      [
        40 + 560 * rnd(),
        40 + 560 * rnd(),
        huge ? 20000 * rnd() : 5 + 80 * rnd(),
        huge ? 20000 * rnd() : 5 + 80 * rnd(),
        rnd(),
      ],
      i * no,
    );
    for (let c = 0; c < nc; c++) pred[i * no + 5 + c] = rnd();
  }
  for (const o of [
    { confThres: 0.25, iouThres: 0.45, agnostic: false, multiLabel: false, maxDet: 300, maxNms: 30000 },
    { confThres: 0.25, iouThres: 0.45, agnostic: true, multiLabel: false, maxDet: 1000, maxNms: 30000 },
    { confThres: 0.001, iouThres: 0.6, agnostic: false, multiLabel: true, maxDet: 300, maxNms: 1000 },
    { confThres: 0.01, iouThres: 0.3, agnostic: true, multiLabel: true, maxDet: 2000, maxNms: 2500 },
  ]) {
    const got = nonMaxSuppression(pred, [1, N, no], o)[0]!;
    const exp = referenceNms(pred, N, no, o);
    assert.equal(got.n, exp.length, `count for ${JSON.stringify(o)}`);
    assert.deepEqual(Array.from(got.data), exp.flat(), `rows for ${JSON.stringify(o)}`);
  }
});
