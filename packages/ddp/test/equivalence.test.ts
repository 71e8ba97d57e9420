/**
 * The DDP equivalence tests: real rank processes over loopback with the real comm, the tiny
 * conv net of ./workers/tiny-net.ts, 5 SGD-momentum steps on fixed data.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runWorld, killAll, type RankOutcome } from './spawn-world.js';

interface ScenarioResult {
  weights: number[];
  buffers?: number[];
  paramFingerprint?: string;
  bufferFingerprintBeforeSync?: string;
  bufferFingerprint?: string;
  steps?: number;
  samples?: number[];
}
interface WorkerResult {
  rank: number;
  world: number;
  scenarios: Record<string, ScenarioResult>;
  error?: { code?: string; peerRank?: number; message: string };
}

const SCRIPT = 'equivalence-rank.js';
const runs = new Map<number, RankOutcome<WorkerResult>[]>();

function ok(outcomes: RankOutcome<WorkerResult>[]): WorkerResult[] {
  return outcomes.map((o) => {
    assert.equal(o.code, 0, `rank ${o.rank} exited ${o.code ?? o.signal}: ${o.stderr.slice(-2000)}`);
    assert.ok(o.result?.scenarios, `rank ${o.rank} wrote no result`);
    return o.result!;
  });
}

function maxAbsDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

before(async () => {
  // one process group per world size runs every scenario in sequence (process start-up of
  // tfjs + comm dominates the cost of these tiny nets)
  runs.set(1, await runWorld<WorkerResult>(SCRIPT, 1, { DDP_TEST_SCENARIOS: 'plain,syncbn,bn,big,uneven' }));
  runs.set(2, await runWorld<WorkerResult>(SCRIPT, 2, { DDP_TEST_SCENARIOS: 'plain,syncbn,bn,accum,uneven' }));
  runs.set(4, await runWorld<WorkerResult>(SCRIPT, 4, { DDP_TEST_SCENARIOS: 'plain,syncbn,bn,uneven' }));
});
after(killAll);

test('equivalence: without BN, world 2 and 4 with B/N per rank equal world 1 with B (max abs diff <= 1e-5)', () => {
  const ref = ok(runs.get(1)!)[0]!.scenarios.plain!.weights;
  for (const world of [2, 4]) {
    const ranks = ok(runs.get(world)!);
    for (const r of ranks) {
      const d = maxAbsDiff(r.scenarios.plain!.weights, ref);
      assert.ok(d <= 1e-5, `world ${world} rank ${r.rank}: max abs diff ${d}`);
      assert.deepEqual(r.scenarios.plain!.weights, ranks[0]!.scenarios.plain!.weights, 'ranks differ from each other');
    }
  }
  // the weights moved: the comparison is not between untouched initial values
  assert.ok(ref.some((v) => v !== 0));
});

test('equivalence: SyncBatchNorm at world 2 and 4 equals single-process BatchNorm at world 1 (weights and running stats)', () => {
  const ref = ok(runs.get(1)!)[0]!.scenarios.syncbn!;
  for (const world of [2, 4]) {
    for (const r of ok(runs.get(world)!)) {
      const d = maxAbsDiff(r.scenarios.syncbn!.weights, ref.weights);
      assert.ok(d <= 1e-5, `world ${world} rank ${r.rank}: weights max abs diff ${d}`);
      const db = maxAbsDiff(r.scenarios.syncbn!.buffers!, ref.buffers!);
      assert.ok(db <= 1e-5, `world ${world} rank ${r.rank}: running stats max abs diff ${db}`);
    }
  }
});

test('equivalence on the wasm backend (the one ranks train on here): world 2 equals world 1, without BN and with SyncBN', async () => {
  const env = { DDP_TEST_SCENARIOS: 'plain,syncbn', DDP_TEST_BACKEND: 'wasm' };
  const ref = ok(await runWorld<WorkerResult>(SCRIPT, 1, env))[0]!.scenarios;
  for (const r of ok(await runWorld<WorkerResult>(SCRIPT, 2, env))) {
    for (const name of ['plain', 'syncbn']) {
      const d = maxAbsDiff(r.scenarios[name]!.weights, ref[name]!.weights);
      assert.ok(d <= 1e-5, `wasm ${name} rank ${r.rank}: max abs diff ${d}`);
    }
  }
});

test('all-reduce overlapped with the backward (gradients handed over last layer first) gives the very same weights, with and without accumulation', async () => {
  const plain = ok(runs.get(2)!);
  const overlapped = ok(
    await runWorld<WorkerResult>(SCRIPT, 2, { DDP_TEST_SCENARIOS: 'plain,accum', DDP_TEST_OVERLAP: '1' }),
  );
  for (const r of overlapped) {
    assert.deepEqual(
      r.scenarios.plain!.weights,
      plain[0]!.scenarios.plain!.weights,
      `rank ${r.rank}: overlapped weights differ`,
    );
    assert.deepEqual(
      r.scenarios.accum!.weights,
      plain[0]!.scenarios.accum!.weights,
      `rank ${r.rank}: overlapped accumulation differs`,
    );
  }
});

test('--grad-compression fp16 / bf16: ranks stay bit-identical, close to world 1, and the gradients really were rounded', async () => {
  const exact = ok(runs.get(2)!)[0]!.scenarios.plain!.weights;
  const ref = ok(runs.get(1)!)[0]!.scenarios.plain!.weights;
  for (const [compression, tolerance] of [
    ['fp16', 1e-3],
    ['bf16', 1e-2],
  ] as const) {
    const ranks = ok(
      await runWorld<WorkerResult>(SCRIPT, 2, { DDP_TEST_SCENARIOS: 'plain', DDP_TEST_GRAD_COMPRESSION: compression }),
    );
    for (const r of ranks) {
      assert.deepEqual(
        r.scenarios.plain!.weights,
        ranks[0]!.scenarios.plain!.weights,
        `${compression}: ranks differ from each other`,
      );
      const d = maxAbsDiff(r.scenarios.plain!.weights, ref);
      assert.ok(d <= tolerance, `${compression} rank ${r.rank}: max abs diff to world 1 is ${d}`);
    }
    assert.ok(
      maxAbsDiff(ranks[0]!.scenarios.plain!.weights, exact) > 0,
      `${compression}: same weights as float32 gradients, so nothing was compressed`,
    );
  }
});

test('equivalence: plain BatchNorm keeps parameters bit-identical across ranks; buffers identical after syncBuffers', () => {
  for (const world of [2, 4]) {
    const ranks = ok(runs.get(world)!);
    const bn = ranks.map((r) => r.scenarios.bn!);
    for (const s of bn) {
      assert.equal(s.paramFingerprint, bn[0]!.paramFingerprint);
      assert.equal(s.bufferFingerprint, bn[0]!.bufferFingerprint);
    }
    // local statistics really differed before the explicit sync (the test is not vacuous)
    assert.ok(new Set(bn.map((s) => s.bufferFingerprintBeforeSync)).size > 1);
    // and plain BN on shards is NOT the single-process result, unlike SyncBN
    const ref = ok(runs.get(1)!)[0]!.scenarios.bn!.weights;
    assert.ok(maxAbsDiff(bn[0]!.weights, ref) > 1e-5);
  }
});

test('equivalence: accumulation with noSync on 3 of 4 micro-steps equals one step on the 4x batch', () => {
  const ref = ok(runs.get(1)!)[0]!.scenarios.big!.weights;
  for (const r of ok(runs.get(2)!)) {
    const d = maxAbsDiff(r.scenarios.accum!.weights, ref);
    assert.ok(d <= 1e-5, `rank ${r.rank}: max abs diff ${d}`);
  }
});

test('equivalence: an uneven dataset (13 samples) gives every rank the same batch count, no hang', () => {
  for (const world of [1, 2, 4]) {
    const ranks = ok(runs.get(world)!);
    const steps = ranks.map((r) => r.scenarios.uneven!.steps);
    assert.deepEqual(
      steps,
      ranks.map(() => Math.ceil(Math.ceil(13 / world) / 2)),
    );
    const union = new Set(ranks.flatMap((r) => r.scenarios.uneven!.samples!));
    assert.equal(union.size, 13);
    for (const r of ranks) assert.deepEqual(r.scenarios.uneven!.weights, ranks[0]!.scenarios.uneven!.weights);
  }
});

for (const [scenario, where] of [
  ['kill', 'in the gradient all-reduce'],
  ['killsync', "in SyncBatchNorm's blocking all-reduce"],
] as const)
  test(`equivalence: a rank killed mid-step makes the others fail with comm's error naming it (${where}), nothing hangs`, async () => {
    const outcomes = await runWorld<WorkerResult>(
      SCRIPT,
      3,
      { DDP_TEST_SCENARIOS: scenario, DDP_TEST_KILL_AT_STEP: '2', DDP_TEST_BATCH: '6' },
      45_000,
    );
    assert.equal(outcomes[1]!.signal, 'SIGKILL');
    for (const rank of [0, 2]) {
      const o = outcomes[rank]!;
      assert.equal(o.code, 3, `rank ${rank} exited ${o.code ?? o.signal}: ${o.stderr.slice(-1000)}`);
      const err = o.result?.error;
      assert.ok(err, `rank ${rank} reported no error`);
      assert.equal(err.code, 'PEER_DEAD', err.message);
      assert.equal(err.peerRank, 1, err.message);
      assert.match(err.message, /rank 1\b/);
    }
  });
