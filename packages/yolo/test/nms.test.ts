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
  scaleBoxes([320, 320], b2, [480, 640], [
    [0.5, 0.5],
    [0, 40],
  ]);
  assert.deepEqual(b2, [200, 120, 400, 320]);
});
