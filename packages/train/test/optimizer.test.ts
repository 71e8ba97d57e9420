import { test } from 'node:test';
import assert from 'node:assert/strict';
import { YoloOptimizer, clipGradNorm, groupOf, type ParamSlot } from '../src/optimizer.js';

function slots(): ParamSlot[] {
  return [
    {
      name: 'model.0.conv.weight',
      group: groupOf('model.0.conv.weight', false),
      data: Float32Array.from([0.5, -0.25, 1.0]),
    },
    { name: 'model.0.bn.weight', group: groupOf('model.0.bn.weight', true), data: Float32Array.from([1.0, 0.75]) },
    { name: 'model.0.bn.bias', group: groupOf('model.0.bn.bias', true), data: Float32Array.from([0.1, -0.2]) },
  ];
}

const grads1 = [Float32Array.from([0.1, 0.2, -0.3]), Float32Array.from([0.05, -0.1]), Float32Array.from([0.3, 0.0])];
const grads2 = [Float32Array.from([-0.2, 0.1, 0.4]), Float32Array.from([0.02, 0.03]), Float32Array.from([-0.1, 0.5])];

function near(got: Float32Array, want: number[], what: string, tol = 2e-7): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++)
    assert.ok(
      Math.abs(got[i]! - want[i]!) <= tol * Math.max(1, Math.abs(want[i]!)),
      `${what}[${i}]: ${got[i]} vs ${want[i]}`,
    );
}

test('groups follow smart_optimizer: biases 0, weights 1, BN weights 2', () => {
  assert.deepEqual(
    slots().map((s) => s.group),
    [1, 2, 0],
  );
  const opt = new YoloOptimizer('SGD', slots(), { lr: 0.01, momentum: 0.937, decay: 0.0005 });
  assert.deepEqual(
    opt.groups.map((g) => g.weightDecay),
    [0, 0.0005, 0],
  );
  assert.match(opt.describe(), /1 weight\(decay=0.0\), 1 weight\(decay=0.0005\), 1 bias/);
});

test('SGD nesterov equals PyTorch formulas over two steps (momentum changes in between)', () => {
  const p = slots();
  const init = p.map((s) => Array.from(s.data));
  const opt = new YoloOptimizer('SGD', p, { lr: 0.01, momentum: 0.9, decay: 0.01 });
  opt.setSchedule([0.1, 0.02, 0.03], 0.8);
  opt.step(grads1);
  opt.setSchedule([0.05, 0.01, 0.02], 0.9);
  opt.step(grads2);
  const wd = [0.01, 0, 0];
  for (let k = 0; k < 3; k++) {
    const grp = p[k]!.group;
    const w = [0, 0.01, 0][grp]!;
    const lrs1 = [0.1, 0.02, 0.03][grp]!;
    const lrs2 = [0.05, 0.01, 0.02][grp]!;
    const want = init[k]!.map((x0, i) => {
      // step 1: buf = d (first step), update d + m*buf
      const d1 = grads1[k]![i]! + w * x0;
      const b1 = d1;
      const x1 = x0 - lrs1 * (d1 + 0.8 * b1);
      const d2 = grads2[k]![i]! + w * x1;
      const b2 = 0.9 * b1 + d2;
      return x1 - lrs2 * (d2 + 0.9 * b2);
    });
    void wd;
    near(p[k]!.data, want, p[k]!.name);
  }
});

for (const name of ['Adam', 'AdamW'] as const) {
  test(`${name} equals PyTorch formulas over two steps`, () => {
    const p = slots();
    const init = p.map((s) => Array.from(s.data));
    const opt = new YoloOptimizer(name, p, { lr: 0.001, momentum: 0.9, decay: 0.05 });
    opt.setSchedule([0.01, 0.002, 0.003], 0.85);
    opt.step(grads1);
    opt.setSchedule([0.005, 0.001, 0.002], 0.9);
    opt.step(grads2);
    const b2 = 0.999;
    const eps = 1e-8;
    for (let k = 0; k < 3; k++) {
      const grp = p[k]!.group;
      const w = [0, 0.05, 0][grp]!;
      const lrs = [[0.01, 0.002, 0.003][grp]!, [0.005, 0.001, 0.002][grp]!];
      const betas1 = [0.85, 0.9];
      const gs = [grads1[k]!, grads2[k]!];
      const want = init[k]!.map((x0, i) => {
        let x = x0;
        let m = 0;
        let v = 0;
        for (let t = 1; t <= 2; t++) {
          const lr = lrs[t - 1]!;
          const b1 = betas1[t - 1]!;
          let g = gs[t - 1]![i]!;
          if (name === 'AdamW') x = x * (1 - lr * w);
          else g = g + w * x;
          m = b1 * m + (1 - b1) * g;
          v = b2 * v + (1 - b2) * g * g;
          const bc1 = 1 - Math.pow(b1, t);
          const bc2 = 1 - Math.pow(b2, t);
          x = x - (lr / bc1) * (m / (Math.sqrt(v) / Math.sqrt(bc2) + eps));
        }
        return x;
      });
      near(p[k]!.data, want, `${name} ${p[k]!.name}`, 2e-6);
    }
  });
}

test('optimizer state round-trips and continues identically', () => {
  const a = slots();
  const b = slots();
  const oa = new YoloOptimizer('SGD', a, { lr: 0.01, momentum: 0.937, decay: 0.0005 });
  const ob = new YoloOptimizer('SGD', b, { lr: 0.01, momentum: 0.937, decay: 0.0005 });
  oa.step(grads1);
  ob.step(grads1);
  const st = oa.state();
  const c = a.map((s) => ({ ...s, data: s.data.slice() }));
  const oc = new YoloOptimizer('SGD', c, { lr: 0.01, momentum: 0.937, decay: 0.0005 });
  oc.loadState(st);
  ob.step(grads2);
  oc.step(grads2);
  for (let k = 0; k < 3; k++) assert.deepEqual(c[k]!.data, b[k]!.data);
  assert.throws(
    () => new YoloOptimizer('Adam', slots(), { lr: 0.01, momentum: 0.9, decay: 0 }).loadState(st),
    /--optimizer SGD/,
  );
});

test('clipGradNorm clips to norm 10 like torch.nn.utils.clip_grad_norm_', () => {
  const g = [Float32Array.from([30, 40]), Float32Array.from([0])];
  const total = clipGradNorm(g, 10);
  assert.equal(total, 50);
  const coef = 10 / (50 + 1e-6);
  assert.ok(Math.abs(g[0]![0]! - Math.fround(30 * coef)) < 1e-6);
  assert.ok(Math.abs(Math.hypot(g[0]![0]!, g[0]![1]!) - 10) < 1e-4);
  const small = [Float32Array.from([3, 4])];
  assert.equal(clipGradNorm(small, 10), 5);
  assert.deepEqual(Array.from(small[0]!), [3, 4]);
});
