import { test } from 'node:test';
import assert from 'node:assert/strict';
import { close, loadFixtures } from './helpers/fixtures.js';
import { roundHalfEven } from '@yolo-launch/core';
import {
  Schedule,
  emaDecay,
  initialAccumulate,
  interp,
  lrLambda,
  scaledWeightDecay,
  warmupIterations,
} from '../src/schedule.js';

interface Tol {
  abs?: number;
  rel?: number;
}

function tolOf(f: { tolerance: Record<string, unknown> }, key: string): Tol {
  return (f.tolerance[key] ?? f.tolerance.all ?? { abs: 0 }) as Tol;
}

test('roundHalfEven and interp follow NumPy', () => {
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(3.5), 4);
  assert.equal(roundHalfEven(0.5), 0);
  assert.equal(roundHalfEven(-2.5), -2);
  assert.equal(roundHalfEven(2.4999), 2);
  assert.equal(roundHalfEven(2.6), 3);
  assert.equal(interp(5, [0, 10], [1, 4]), 2.5);
  assert.equal(interp(-1, [0, 10], [1, 4]), 1);
  assert.equal(interp(11, [0, 10], [1, 4]), 4);
});

const fixtures = loadFixtures('schedule');

test('schedule fixtures folder is not empty', () => {
  assert.ok(fixtures.length > 0);
});

for (const f of fixtures) {
  test(`schedule fixture ${f.file}`, () => {
    const inp = f.inputs;
    if ('updates' in inp) {
      const updates = inp.updates as number[];
      const want = f.expected.d as number[];
      updates.forEach((u, k) =>
        close(emaDecay(u, inp.decay as number, inp.tau as number), want[k]!, tolOf(f, 'd'), `ema d(${u})`),
      );
      return;
    }
    if ('x' in inp && !('nb' in inp)) {
      const xs = inp.x as number[];
      for (const mode of ['linear', 'one_cycle'] as const) {
        const want = f.expected[mode] as number[] | undefined;
        if (!want) continue;
        const lf = lrLambda(inp.epochs as number, inp.lrf as number, mode === 'one_cycle');
        xs.forEach((x, k) => close(lf(x), want[k]!, tolOf(f, mode), `${mode} lf(${x})`));
      }
      return;
    }
    if ('nb' in inp) {
      const hyp = inp.hyp as {
        lr0: number;
        lrf: number;
        momentum: number;
        weight_decay: number;
        warmup_epochs: number;
        warmup_momentum: number;
        warmup_bias_lr: number;
      };
      const epochs = inp.epochs as number;
      const nb = inp.nb as number;
      const batch = inp.batch_size as number;
      const nbs = inp.nbs as number;
      const tol = tolOf(f, 'all');
      if ('nw' in inp) assert.equal(warmupIterations(hyp.warmup_epochs, nb), inp.nw);
      if ('weight_decay_scaled' in inp)
        close(
          scaledWeightDecay(hyp.weight_decay, batch, nbs),
          inp.weight_decay_scaled as number,
          { abs: 1e-15 },
          'weight_decay_scaled',
        );
      const wd = scaledWeightDecay(hyp.weight_decay, batch, nbs);
      if ('group_weight_decay' in inp) assert.deepEqual([0, wd, 0.0], (inp.group_weight_decay as number[]).map(Number));
      assert.ok(initialAccumulate(batch, nbs) >= 1);
      const sched = new Schedule(hyp, { epochs, lrf: hyp.lrf, cosLr: Boolean(inp.cos_lr), nb, batchSize: batch, nbs });
      const rows = new Map<number, { lr: number[]; momentum: number[]; accumulate: number; warmup: boolean }>();
      for (const r of (f.expected.all_iterations ?? f.expected.table) as {
        ni: number;
        lr: number[];
        momentum: number[];
        accumulate: number;
        warmup: boolean;
      }[])
        rows.set(r.ni, r);
      for (const r of (f.expected.table ?? []) as {
        ni: number;
        lr: number[];
        momentum: number[];
        accumulate: number;
        warmup: boolean;
      }[])
        rows.set(r.ni, r);
      const perEpoch = new Map(
        ((f.expected.per_epoch ?? []) as { epoch: number; lr_logged: number[] }[]).map((r) => [r.epoch, r.lr_logged]),
      );
      let checked = 0;
      for (let epoch = 0; epoch < epochs; epoch++) {
        for (let i = 0; i < nb; i++) {
          const ni = i + nb * epoch;
          const warm = sched.beforeIteration(epoch, ni);
          const want = rows.get(ni);
          if (!want) continue;
          checked++;
          assert.equal(warm, want.warmup, `warmup flag at ni=${ni}`);
          for (let j = 0; j < 3; j++) {
            close(sched.lr[j]!, want.lr[j]!, tol, `lr[${j}] at ni=${ni}`);
            close(sched.momentum, want.momentum[j]!, tol, `momentum at ni=${ni}`);
          }
          assert.equal(sched.accumulate, want.accumulate, `accumulate at ni=${ni}`);
        }
        const logged = perEpoch.get(epoch);
        if (logged) for (let j = 0; j < 3; j++) close(sched.lr[j]!, logged[j]!, tol, `lr_logged[${j}] epoch ${epoch}`);
        sched.endEpoch(epoch);
      }
      assert.equal(checked, rows.size, 'every fixture row was reached');
      return;
    }
    assert.fail(`unknown schedule fixture inputs: ${Object.keys(inp).join(', ')}`);
  });
}

test('a schedule rebuilt at a resume epoch equals the uninterrupted one', () => {
  const hyp = { lr0: 0.01, lrf: 0.01, momentum: 0.937, warmup_epochs: 3, warmup_momentum: 0.8, warmup_bias_lr: 0.1 };
  for (const start of [1, 5, 13, 19]) {
    const a = new Schedule(hyp, { epochs: 20, lrf: 0.01, cosLr: false, nb: 8, batchSize: 16 });
    for (let e = 0; e < start; e++) {
      for (let i = 0; i < 8; i++) a.beforeIteration(e, i + 8 * e);
      a.endEpoch(e);
    }
    const b = new Schedule(hyp, { epochs: 20, lrf: 0.01, cosLr: false, nb: 8, batchSize: 16, startEpoch: start });
    assert.deepEqual(b.lr, a.lr);
    assert.equal(b.momentum, a.momentum);
    assert.equal(b.accumulate, a.accumulate);
  }
});
