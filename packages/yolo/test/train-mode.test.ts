/**
 * Training path (cpu backend, small sizes): BatchNorm gradients flow through the batch
 * moments, running statistics follow PyTorch, an injected MomentsFn is used, the full model +
 * ComputeLoss backward matches finite differences, freezing removes parameters from training.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '@yolo-launch/backend';
import {
  BatchNorm2d,
  ComputeLoss,
  createModel,
  localMoments,
  lossAndGradients,
  Rng,
  silu,
  StateRegistry,
  upsampleNearest,
  type BatchMoments,
  type MomentsFn,
} from '../src/index.js';
import { assertClose, testBackend } from './helpers.js';
import { tinyYaml } from './tiny.js';
import { assertSameStep, stepBatch, stepOnActiveBackend } from './compare-step.js';

before(async () => {
  await initBackend({ backend: 'cpu' });
});

function randn(shape: number[], seed: number): tf.Tensor {
  const r = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => r.normal()),
    shape,
  );
}

const HYP = { box: 0.05, obj: 1.0, cls: 0.5, cls_pw: 1.0, obj_pw: 1.0, anchor_t: 4.0, label_smoothing: 0 };

test('BatchNorm training: gradient goes through mean and variance (both paths), running stats like PyTorch', () => {
  const reg = new StateRegistry(new Rng(0));
  const bn = new BatchNorm2d(reg, 'bn', 3);
  tf.tidy(() => {
    bn.weight.assign(tf.tensor1d([1.5, 0.5, 2]));
    bn.bias.assign(tf.tensor1d([0.1, -0.2, 0.3]));
  });
  const x = tf.add(tf.mul(randn([2, 4, 5, 3], 1), 2), 0.7) as tf.Tensor4D;
  const w = randn([2, 4, 5, 3], 2);
  const seen: BatchMoments[] = [];
  const recording: MomentsFn = (t) => {
    const m = localMoments(t);
    seen.push(m);
    return m;
  };
  const grads = (moments: MomentsFn): Float32Array[] =>
    tf.tidy(() => {
      const g = tf.grads((xx: tf.Tensor, gg: tf.Tensor) => {
        void gg;
        return tf.sum(tf.mul(bn.forward(xx as tf.Tensor4D, { training: true, updateStats: false, moments }), w));
      });
      // gradient w.r.t. x and through bn.weight via variableGrads
      const dx = g([x, bn.weight])[0]!;
      const vg = tf.variableGrads(
        () => tf.sum(tf.mul(bn.forward(x, { training: true, updateStats: false, moments }), w)) as tf.Scalar,
        [bn.weight, bn.bias],
      );
      return [
        dx.dataSync() as Float32Array,
        vg.grads[bn.weight.name]!.dataSync() as Float32Array,
        vg.grads[bn.bias.name]!.dataSync() as Float32Array,
      ];
    });
  const fast = grads(localMoments);
  const generic = grads(recording);
  assert.ok(seen.length > 0, 'the injected moments function is called');
  fast.forEach((g, i) => assertClose(g, generic[i]!, { abs: 1e-4, rel: 1e-4 }, `fast vs generic gradient ${i}`));
  // sum(BN(x)) per channel does not depend on x when the moments are differentiated
  const dSum = tf.tidy(() =>
    tf
      .grad((xx: tf.Tensor) =>
        tf.sum(bn.forward(xx as tf.Tensor4D, { training: true, updateStats: false, moments: recording })),
      )(x)
      .dataSync(),
  );
  assertClose(dSum, new Float32Array(dSum.length), { abs: 1e-5 }, 'd sum(y) / dx');

  // running statistics: momentum 0.03, unbiased variance with the moments' count
  const { mean, variance } = tf.tidy(() => tf.moments(x, [0, 1, 2]));
  const m = Array.from(mean.dataSync());
  const v = Array.from(variance.dataSync());
  const count = 2 * 4 * 5;
  tf.tidy(() => bn.forward(x, { training: true, updateStats: true, moments: localMoments }));
  assertClose(
    bn.runningMean.dataSync(),
    m.map((a) => 0.03 * a),
    { abs: 1e-6 },
    'running_mean',
  );
  assertClose(
    bn.runningVar.dataSync(),
    v.map((a) => 0.97 + (0.03 * a * count) / (count - 1)),
    { abs: 1e-6 },
    'running_var',
  );
  assert.equal(bn.numBatchesTracked, 1);
  // a SyncBatchNorm-style function reporting a global count changes the unbiased factor
  const globalCount: MomentsFn = (t) => ({ ...localMoments(t), count: 4 * count });
  tf.tidy(() => bn.forward(x, { training: true, updateStats: true, moments: globalCount }));
  const rv1 = v.map((a) => 0.97 + (0.03 * a * count) / (count - 1));
  assertClose(
    bn.runningVar.dataSync(),
    rv1.map((r, i) => 0.97 * r + (0.03 * v[i]! * 4 * count) / (4 * count - 1)),
    { abs: 1e-6 },
    'running_var with global count',
  );
  tf.dispose([x, w, mean, variance]);
});

test('model + ComputeLoss backward: gradients for exactly the trainable parameters; model backward agrees with finite differences', () => {
  const model = createModel(tinyYaml(2), { seed: 3 });
  assert.deepEqual(model.stride, [8, 16, 32]);
  const loss = ComputeLoss.forModel(model, HYP);
  const x = tf.tidy(() => tf.sigmoid(randn([2, 64, 64, 3], 5))) as tf.Tensor4D;
  const targets = Float32Array.of(0, 0, 0.5, 0.5, 0.3, 0.4, 0, 1, 0.2, 0.3, 0.1, 0.15, 1, 1, 0.7, 0.6, 0.5, 0.5);
  const lossOf = (): tf.Scalar => loss.compute(model.forwardTrain(x, { updateStats: false }), targets).loss;

  const frozen = model.freeze(1); // layer 0
  assert.deepEqual(frozen, ['model.0.conv.weight', 'model.0.bn.weight', 'model.0.bn.bias']);
  const trainable = model.trainableParameters();
  assert.equal(trainable.length, model.parameters().length - 3);
  const { value, grads } = tf.variableGrads(lossOf);
  assert.ok(Number.isFinite(value.dataSync()[0]!));
  assert.deepEqual(
    Object.keys(grads).sort(),
    trainable.map((p) => p.variable.name).sort(),
    'gradients for exactly the trainable parameters',
  );
  for (const p of trainable) {
    const g = grads[p.variable.name]!.dataSync();
    assert.ok(g.every(Number.isFinite), `${p.name}: finite gradient`);
  }
  // Central differences on a few scalars of different kinds. The objective is a smooth function
  // of the raw outputs: ComputeLoss itself is not (its objectness target is the detached IoU),
  // and its gradient is checked against PyTorch by the loss/ fixtures.
  const smoothOf = (): tf.Scalar =>
    tf.addN(model.forwardTrain(x, { updateStats: false }).map((t) => tf.sum(tf.sin(t)))) as tf.Scalar;
  const fd = tf.variableGrads(smoothOf);
  const probes: [string, number][] = [
    ['model.1.bn.bias', 3],
    ['model.2.m.0.cv2.conv.weight', 17],
    ['model.6.cv2.bn.weight', 5],
    ['model.10.m.1.bias', 4],
    ['model.10.m.0.weight', 40],
  ];
  const sd = model.stateDict();
  for (const [name, idx] of probes) {
    const p = model.parameters().find((q) => q.name === name)!;
    const analytic = fd.grads[p.variable.name]!;
    // parameters() exposes the stored layout: conv weights are HWIO; map the OIHW probe index
    const shape = sd[name]!.shape;
    let flat = idx;
    if (shape.length === 4) {
      const [O, I, KH, KW] = shape as [number, number, number, number];
      const o = Math.floor(idx / (I * KH * KW));
      const i = Math.floor(idx / (KH * KW)) % I;
      const kh = Math.floor(idx / KW) % KH;
      const kw = idx % KW;
      flat = ((kh * KW + kw) * I + i) * O + o;
    }
    const a = analytic.dataSync()[flat]!;
    const base = p.variable.dataSync().slice();
    const h = 1e-2;
    const at = (delta: number): number => {
      const d = base.slice();
      d[flat] = base[flat]! + delta;
      tf.tidy(() => p.variable.assign(tf.tensor(d, p.variable.shape)));
      return tf.tidy(() => smoothOf().dataSync()[0]!);
    };
    const numeric = (at(h) - at(-h)) / (2 * h);
    tf.tidy(() => p.variable.assign(tf.tensor(base, p.variable.shape)));
    assert.ok(
      Math.abs(numeric - a) <= 1e-2 + 0.03 * Math.abs(a),
      `${name}[${idx}]: analytic ${a} vs numeric ${numeric}`,
    );
  }
  tf.dispose([x, value, fd.value, ...Object.values(grads), ...Object.values(fd.grads)]);
  model.dispose();
});

test('Upsample (nearest) matches PyTorch indexing and its gradient is the block sum', () => {
  const x = randn([2, 3, 2, 4], 11) as tf.Tensor4D;
  const up = upsampleNearest(x, 2);
  const xd = x.dataSync();
  const ud = up.dataSync();
  for (let n = 0; n < 2; n++)
    for (let i = 0; i < 6; i++)
      for (let j = 0; j < 4; j++)
        for (let c = 0; c < 4; c++)
          assert.equal(
            ud[((n * 6 + i) * 4 + j) * 4 + c],
            xd[((n * 3 + Math.floor(i / 2)) * 2 + Math.floor(j / 2)) * 4 + c],
          );
  const w = randn([2, 6, 4, 4], 12);
  const g = tf
    .grad((t: tf.Tensor) => tf.sum(tf.mul(upsampleNearest(t as tf.Tensor4D, 2), w)))(x)
    .dataSync();
  const wd = w.dataSync();
  const exp = new Float32Array(xd.length);
  for (let n = 0; n < 2; n++)
    for (let i = 0; i < 6; i++)
      for (let j = 0; j < 4; j++)
        for (let c = 0; c < 4; c++)
          exp[((n * 3 + Math.floor(i / 2)) * 2 + Math.floor(j / 2)) * 4 + c] += wd[((n * 6 + i) * 4 + j) * 4 + c]!;
  assertClose(g, exp, { abs: 1e-5 }, 'upsample gradient');
  tf.dispose([x, up, w]);
});

test('forwardTrain updates running stats and num_batches_tracked; eval uses them', () => {
  const model = createModel(tinyYaml(2), { seed: 1 });
  const x = tf.tidy(() => tf.sigmoid(randn([2, 32, 32, 3], 9))) as tf.Tensor4D;
  const before = tf.tidy(() => model.forwardEval(x).pred.dataSync());
  tf.tidy(() => model.forwardTrain(x));
  const sd = model.stateDict();
  assert.equal(sd['model.0.bn.num_batches_tracked']!.data[0], 1);
  assert.ok(
    sd['model.0.bn.running_mean']!.data.some((v) => v !== 0),
    'running_mean moved',
  );
  const after = tf.tidy(() => model.forwardEval(x).pred.dataSync());
  assert.ok(
    after.some((v, i) => Math.abs(v - before[i]!) > 1e-6),
    'eval output follows the new running stats',
  );
  x.dispose();
  model.dispose();
});

test('lossAndGradients: named gradients of the trainable parameters in state_dict order', () => {
  const model = createModel(tinyYaml(2), { seed: 2 });
  model.freeze([0, 1]);
  const loss = ComputeLoss.forModel(model, HYP);
  const x = tf.tidy(() => tf.sigmoid(randn([2, 32, 32, 3], 13))) as tf.Tensor4D;
  const targets = Float32Array.of(0, 1, 0.4, 0.5, 0.2, 0.3, 1, 0, 0.6, 0.6, 0.4, 0.3);
  const out = lossAndGradients(model, loss, x, targets);
  assert.deepEqual(
    out.grads.map((g) => g.name),
    model.trainableParameters().map((p) => p.name),
  );
  assert.ok(out.grads.every((g) => !g.name.startsWith('model.0.') && !g.name.startsWith('model.1.')));
  const ref = tf.tidy(() => loss.compute(model.forwardTrain(x, { updateStats: false }), targets).loss.dataSync()[0]!);
  assert.ok(Math.abs(out.loss - ref) < 1e-5 * Math.max(1, ref), `loss ${out.loss} vs ${ref}`);
  assert.ok(Math.abs(out.items[0] + out.items[1] + out.items[2] - out.loss / 2) < 1e-5);
  out.grads.forEach((g) => assert.deepEqual(g.grad.shape, g.variable.shape));
  tf.dispose([x, ...out.grads.map((g) => g.grad)]);
  model.dispose();
});

test(`${testBackend} and cpu backends give the same loss and gradients on the small model`, async () => {
  const model = createModel(tinyYaml(2), { seed: 3 });
  const loss = ComputeLoss.forModel(model, HYP);
  const batch = stepBatch(5);
  const onCpu = stepOnActiveBackend(model, loss, batch);
  try {
    await initBackend({ backend: testBackend });
    assertSameStep(stepOnActiveBackend(model, loss, batch), onCpu, model);
  } finally {
    await initBackend({ backend: 'cpu' });
    model.dispose();
  }
});

test('fused training BN+SiLU equals BN then SiLU (values, gradients, running stats)', () => {
  const mk = (): BatchNorm2d => {
    const bn = new BatchNorm2d(new StateRegistry(new Rng(0)), 'bn', 4);
    tf.tidy(() => {
      bn.weight.assign(tf.tensor1d([1.5, 0.5, 2, -1]));
      bn.bias.assign(tf.tensor1d([0.1, -0.2, 0.3, 0]));
    });
    return bn;
  };
  const a = mk();
  const b = mk();
  const x = tf.add(tf.mul(randn([2, 5, 3, 4], 21), 1.5), 0.4) as tf.Tensor4D;
  const w = randn([2, 5, 3, 4], 22);
  const generic: MomentsFn = (t) => localMoments(t);
  const run = (bn: BatchNorm2d, fused: boolean): Float32Array[] =>
    tf.tidy(() => {
      const f = (): tf.Scalar => {
        const ctx = { training: true, updateStats: true, moments: fused ? localMoments : generic };
        const y = fused ? bn.forwardSiluLocal(x, ctx) : silu(bn.forward(x, ctx));
        return tf.sum(tf.mul(y, w)) as tf.Scalar;
      };
      const dx = tf.grad((xx: tf.Tensor) => {
        const ctx = { training: true, updateStats: false, moments: fused ? localMoments : generic };
        const y = fused ? bn.forwardSiluLocal(xx as tf.Tensor4D, ctx) : silu(bn.forward(xx as tf.Tensor4D, ctx));
        return tf.sum(tf.mul(y, w));
      })(x);
      const { value, grads } = tf.variableGrads(f, [bn.weight, bn.bias]);
      return [
        value.dataSync() as Float32Array,
        dx.dataSync() as Float32Array,
        grads[bn.weight.name]!.dataSync() as Float32Array,
        grads[bn.bias.name]!.dataSync() as Float32Array,
      ];
    });
  const fa = run(a, true);
  const fb = run(b, false);
  fa.forEach((v, i) =>
    assertClose(v, fb[i]!, { abs: 1e-4, rel: 1e-4 }, `fused vs separate ${['value', 'dx', 'dgamma', 'dbeta'][i]}`),
  );
  assertClose(a.runningMean.dataSync(), b.runningMean.dataSync(), { abs: 1e-6 }, 'running_mean');
  assertClose(a.runningVar.dataSync(), b.runningVar.dataSync(), { abs: 1e-6 }, 'running_var');
  tf.dispose([x, w]);
});

test('recomputing backward (forwardBackward) equals one tf.variableGrads; BN stats updated once; freeze respected', () => {
  const targets = Float32Array.of(0, 0, 0.5, 0.5, 0.3, 0.4, 0, 1, 0.2, 0.3, 0.1, 0.15, 1, 1, 0.7, 0.6, 0.5, 0.5);
  const x = tf.tidy(() => tf.sigmoid(randn([2, 64, 64, 3], 31))) as tf.Tensor4D;
  for (const freeze of [0, 3]) {
    const a = createModel(tinyYaml(2), { seed: 4 });
    const b = createModel(tinyYaml(2), { seed: 4 });
    a.freeze(freeze);
    b.freeze(freeze);
    const la = ComputeLoss.forModel(a, HYP);
    const lb = ComputeLoss.forModel(b, HYP);
    const ra = lossAndGradients(a, la, x, targets, { recompute: true });
    const rb = lossAndGradients(b, lb, x, targets, { recompute: false });
    assertClose([ra.loss], [rb.loss], { rel: 1e-5, abs: 1e-6 }, 'loss');
    assertClose(ra.items, rb.items, { rel: 1e-5, abs: 1e-6 }, 'loss items');
    assert.deepEqual(
      ra.grads.map((g) => g.name),
      rb.grads.map((g) => g.name),
    );
    ra.grads.forEach((g, k) => {
      const ref = Float32Array.from(rb.grads[k]!.grad.dataSync());
      const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assertClose(g.grad.dataSync(), ref, { abs: 1e-4 * scale + 1e-8 }, `gradient ${g.name} (freeze ${freeze})`);
    });
    const sa = a.stateDict();
    const sb = b.stateDict();
    for (const k of Object.keys(sa).filter((n) => /running_|num_batches/.test(n)))
      assertClose(sa[k]!.data, sb[k]!.data, { abs: 1e-6 }, k);
    assert.equal(sa['model.0.bn.num_batches_tracked']!.data[0], 1);
    tf.dispose([...ra.grads.map((g) => g.grad), ...rb.grads.map((g) => g.grad)]);
    a.dispose();
    b.dispose();
  }
  x.dispose();
});

test('a few SGD steps on one batch lower the loss (gradients point downhill)', () => {
  const model = createModel(tinyYaml(2), { seed: 6 });
  const loss = ComputeLoss.forModel(model, HYP);
  const x = tf.tidy(() => tf.sigmoid(randn([2, 64, 64, 3], 41))) as tf.Tensor4D;
  const targets = Float32Array.of(0, 0, 0.5, 0.5, 0.3, 0.4, 0, 1, 0.2, 0.3, 0.1, 0.15, 1, 1, 0.7, 0.6, 0.5, 0.5);
  const losses: number[] = [];
  for (let step = 0; step < 12; step++) {
    const out = lossAndGradients(model, loss, x, targets);
    losses.push(out.loss);
    tf.tidy(() => out.grads.forEach((g) => g.variable.assign(tf.sub(g.variable, tf.mul(g.grad, 0.02)))));
    tf.dispose(out.grads.map((g) => g.grad));
  }
  assert.ok(losses.every(Number.isFinite));
  assert.ok(losses[losses.length - 1]! < 0.8 * losses[0]!, `loss went ${losses.map((l) => l.toFixed(3)).join(' -> ')}`);
  x.dispose();
  model.dispose();
});
