// The trainer's validation metrics against the PyTorch YOLOv5 fixtures (metrics/ and nms/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { close, loadFixtures } from './helpers/fixtures.js';
import { apPerClass, nmsImage, processBatch } from '../src/metrics.js';
import { fitness } from '../src/loop.js';

interface T {
  shape: number[];
  data: number[];
}
type Tol = { abs?: number; rel?: number };

for (const f of loadFixtures('metrics')) {
  const inp = f.inputs as Record<string, T & number[]>;
  if ('detections' in inp && 'labels' in inp) {
    test(`process_batch fixture ${f.file}`, () => {
      const det = Float32Array.from(inp.detections.data);
      const labels = Float32Array.from(inp.labels.data);
      const got = processBatch(det, labels, Float32Array.from(inp.iouv.data));
      assert.deepEqual(Array.from(got), (f.expected.correct as T).data.map(Number));
    });
  } else if ('tp' in inp && 'target_cls' in inp) {
    test(`ap_per_class fixture ${f.file}`, () => {
      const T = inp.tp.shape[1] ?? 1;
      const res = apPerClass(Uint8Array.from(inp.tp.data), T, inp.conf.data, inp.pred_cls.data, inp.target_cls.data);
      const e = f.expected as Record<string, T & number>;
      const tolAp = (f.tolerance.ap ?? { abs: 1e-6 }) as Tol;
      const tolP = (f.tolerance.p_r_f1 ?? { abs: 1e-6 }) as Tol;
      assert.deepEqual(res.classes, e.unique_classes.data.map(Number));
      res.ap.flatMap((a) => Array.from(a)).forEach((v, k) => close(v, e.ap.data[k]!, tolAp, `ap[${k}]`));
      Array.from(res.p).forEach((v, k) => close(v, e.p.data[k]!, tolP, `p[${k}]`));
      Array.from(res.r).forEach((v, k) => close(v, e.r.data[k]!, tolP, `r[${k}]`));
      Array.from(res.f1).forEach((v, k) => close(v, e.f1.data[k]!, tolP, `f1[${k}]`));
      assert.deepEqual(Array.from(res.tp), e.tp.data.map(Number), 'tp');
      assert.deepEqual(Array.from(res.fp), e.fp.data.map(Number), 'fp');
      const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
      close(mean(res.ap.map((a) => a[0]!)), e.map50 as number, tolAp, 'map50');
      close(mean(res.ap.map((a) => mean(Array.from(a)))), e.map as number, tolAp, 'map');
    });
  } else if ('weights' in inp) {
    test(`fitness fixture ${f.file}`, () => {
      for (const key of Object.keys(inp).filter((k) => k !== 'weights')) {
        const x = inp[key] as T;
        const cols = x.shape[1]!;
        const want = (f.expected[`fitness_${key}`] as T).data;
        for (let i = 0; i < want.length; i++) {
          const r = x.data.slice(i * cols, i * cols + 4);
          close(fitness({ p: r[0]!, r: r[1]!, map50: r[2]!, map: r[3]! }), want[i]!, { abs: 1e-6 }, `${key} fitness[${i}]`);
        }
      }
    });
  }
}

for (const f of loadFixtures('nms')) {
  test(`non_max_suppression fixture ${f.file}`, () => {
    const p = f.inputs.predictions as T;
    const a = f.inputs.args as { conf_thres: number; iou_thres: number; classes: number[] | null; agnostic: boolean; multi_label: boolean; max_det: number };
    const [bs, n, no] = p.shape as [number, number, number];
    const dets = f.expected.detections as T[];
    const tol = (f.tolerance.boxes_conf ?? { abs: 1e-4 }) as Tol;
    for (let b = 0; b < bs; b++) {
      const pred = Float32Array.from(p.data.slice(b * n * no, (b + 1) * n * no));
      const got = nmsImage(pred, no - 5, {
        confThres: a.conf_thres, iouThres: a.iou_thres, multiLabel: a.multi_label, agnostic: a.agnostic, maxDet: a.max_det, ...(a.classes ? { classes: a.classes } : {}),
      });
      const want = dets[b]!;
      assert.equal(got.length / 6, want.shape[0], `image ${b} count`);
      for (let k = 0; k < got.length; k++) {
        if (k % 6 === 5) assert.equal(got[k], want.data[k], `image ${b} cls at row ${Math.floor(k / 6)}`);
        else close(got[k]!, want.data[k]!, tol, `image ${b} value ${k}`);
      }
    }
  });
}
