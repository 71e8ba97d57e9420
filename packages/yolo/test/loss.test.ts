/**
 * loss/ fixtures: build_targets per layer, the loss components and d(loss)/d(predictions).
 * Runs on the wasm backend (the loss has no convolutions; gather's gradient is a ScatterNd).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '@yolo-launch/backend';
import { ComputeLoss, scaleLossHyp, type LossHyp, type LayerTargets } from '../src/index.js';
import {
  assertClose,
  assertMatches,
  f32,
  type TensorSummary,
  loadFixtures,
  tol,
  type Fixture,
  type FixtureTensor,
  testBackend,
} from './helpers.js';

before(async () => {
  await initBackend({ backend: testBackend });
});

interface BuildTargetsExpected {
  layer: number;
  n: number;
  tcls: FixtureTensor;
  tbox: FixtureTensor;
  b: FixtureTensor;
  a: FixtureTensor;
  gj: FixtureTensor;
  gi: FixtureTensor;
  anch: FixtureTensor;
}

/** Rows as strings (ints exact, floats to the tolerance grid) for an order-insensitive comparison. */
function rowsOf(
  t: {
    tcls: ArrayLike<number>;
    b: ArrayLike<number>;
    a: ArrayLike<number>;
    gj: ArrayLike<number>;
    gi: ArrayLike<number>;
    tbox: ArrayLike<number>;
    anch: ArrayLike<number>;
  },
  n: number,
): string[] {
  const rows: string[] = [];
  for (let r = 0; r < n; r++)
    rows.push(
      [
        t.b[r],
        t.a[r],
        t.gj[r],
        t.gi[r],
        t.tcls[r],
        ...Array.from({ length: 4 }, (_, k) => t.tbox[r * 4 + k]!.toFixed(4)),
        t.anch[r * 2]!.toFixed(4),
        t.anch[r * 2 + 1]!.toFixed(4),
      ].join(','),
    );
  return rows.sort();
}

function checkBuildTargets(fx: Fixture, got: LayerTargets[]): void {
  const exp = fx.expected.build_targets as BuildTargetsExpected[];
  const fa = Number((fx.tolerance.build_targets as { float_abs: number }).float_abs);
  for (const e of exp) {
    const g = got[e.layer]!;
    assert.equal(g.n, e.n, `layer ${e.layer}: number of target rows`);
    const ints = ['tcls', 'b', 'a', 'gj', 'gi'] as const;
    const sameOrder = ints.every((k) => Array.from(g[k]).join() === e[k].data.join());
    if (sameOrder) {
      assertClose(g.tbox, f32(e.tbox), { abs: fa }, `layer ${e.layer} tbox`);
      assertClose(g.anch, f32(e.anch), { abs: fa }, `layer ${e.layer} anch`);
    } else {
      // the README allows a different order: compare as multisets of rows
      const er = {
        tcls: e.tcls.data,
        b: e.b.data,
        a: e.a.data,
        gj: e.gj.data,
        gi: e.gi.data,
        tbox: e.tbox.data,
        anch: e.anch.data,
      };
      assert.deepEqual(rowsOf(g, g.n), rowsOf(er, e.n), `layer ${e.layer}: build_targets rows (as a multiset)`);
    }
  }
}

for (const fx of loadFixtures('loss')) {
  test(`loss fixture ${fx.file}`, () => {
    assert.equal(fx.kind, 'loss');
    const inp = fx.inputs;
    const anchors = f32(inp.anchors_grid as FixtureTensor);
    const preds = inp.predictions as FixtureTensor[];
    const nl = preds.length;
    const na = preds[0]!.shape[1]!;
    const loss = new ComputeLoss({
      nc: Number(inp.nc),
      na,
      nl,
      anchors,
      hyp: inp.hyp_used as LossHyp,
      balance: inp.balance as number[] | undefined,
      gr: inp.gr as number | undefined,
    });
    // train.py's hyp scaling reproduces the hyp the fixture used
    if ('hyp_file_values' in inp) {
      const used = inp.hyp_used as LossHyp;
      const scaled = scaleLossHyp(inp.hyp_file_values as LossHyp, {
        nl,
        nc: Number(inp.nc),
        imgsz: Number(inp.imgsz),
        labelSmoothing: used.label_smoothing,
      });
      for (const k of ['box', 'obj', 'cls', 'label_smoothing'] as const)
        assertClose([scaled[k] ?? 0], [used[k] ?? 0], { rel: 1e-12, abs: 1e-15 }, `hyp ${k}`);
    }
    const targets = f32(inp.targets as FixtureTensor);
    checkBuildTargets(
      fx,
      loss.buildTargets(
        preds.map((p) => p.shape),
        targets,
      ),
    );
    const p = preds.map((t) => tf.tensor5d(f32(t), t.shape as [number, number, number, number, number]));
    let items: number[] = [];
    let lossValue = 0;
    const grads = tf.grads((...ps: tf.Tensor[]) => {
      const out = loss.compute(ps as tf.Tensor5D[], targets);
      items = Array.from(out.items.dataSync());
      lossValue = out.loss.dataSync()[0]!;
      return out.loss;
    })(p);
    const e = fx.expected as {
      lbox: number;
      lobj: number;
      lcls: number;
      loss: number;
      grad_p: (FixtureTensor | TensorSummary)[];
    };
    const lt = tol(fx, 'losses');
    assertClose(items, [e.lbox, e.lobj, e.lcls], lt, 'lbox, lobj, lcls');
    assertClose([lossValue], [e.loss], lt, 'loss');
    grads.forEach((g, i) => {
      assert.deepEqual(g.shape, e.grad_p[i]!.shape);
      assertMatches(g.dataSync(), e.grad_p[i]!, tol(fx, 'grad_p'), `grad_p layer ${i}`);
    });
    tf.dispose([...p, ...grads]);
  });
}

test('ComputeLoss refuses targets outside the batch or the class list', () => {
  const loss = new ComputeLoss({
    nc: 3,
    na: 3,
    nl: 3,
    anchors: Float32Array.of(
      1.25,
      1.625,
      2,
      3.75,
      4.125,
      2.875,
      1.875,
      3.8125,
      3.875,
      2.8125,
      3.6875,
      7.4375,
      3.625,
      2.8125,
      4.875,
      6.1875,
      11.65625,
      10.1875,
    ),
    hyp: { box: 0.05, obj: 1, cls: 0.5, cls_pw: 1, obj_pw: 1, anchor_t: 4 },
  });
  const p = [16, 8, 4].map((n) => tf.zeros([2, 3, n, n, 8]) as tf.Tensor5D);
  assert.throws(() => loss.compute(p, Float32Array.of(0, 3, 0.5, 0.5, 0.1, 0.1)), /class 3, the model has nc=3/);
  assert.throws(
    () => loss.compute(p, Float32Array.of(2, 0, 0.5, 0.5, 0.1, 0.1)),
    /image index 2, the batch has 2 images/,
  );
  assert.throws(() => loss.compute(p, Float32Array.of(0, 0, 0.5)), /rows of 6 values/);
  tf.dispose(p);
});
