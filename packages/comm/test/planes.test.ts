// The two data planes (native-ring.ts): the native addon's C thread and the TS ring put the
// same messages on the wire and add in the same order, so a job gives the same bits whichever
// plane each rank runs, and ranks of different planes work together (a node without a C
// compiler joins a job of nodes with one). Without the addon every rank runs the TS ring and
// these tests check only that.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commNative, commNativeWhy } from '../src/native.js';
import { describeFailures, runJob, type RankOutcome } from './harness.js';

const LENGTHS = '0,1,7,1000,16384,16385,1000003';
const TS_PLANE = { YOLO_COMM_NATIVE: '0' };
const planes = (outs: RankOutcome[]): unknown[] => outs.map((o) => o.result!.plane);
const hashes = (outs: RankOutcome[]): unknown => outs[0]!.result!.hashes;

for (const worldSize of [2, 3, 4]) {
  test(`world ${worldSize}: native ranks, TS ranks and a mix give the same bits (all-reduce, broadcast, allGather, barrier, objects)`, async () => {
    const ts = await runJob({ worldSize, scenario: 'basic', args: [LENGTHS], env: TS_PLANE, timeoutMs: 120_000 });
    const native = await runJob({ worldSize, scenario: 'basic', args: [LENGTHS], timeoutMs: 120_000 });
    // rank 1 on the TS ring, the others native
    const mixed = await runJob({
      worldSize,
      scenario: 'basic',
      args: [LENGTHS],
      perRankEnv: (i) => (i === 1 ? TS_PLANE : {}),
      timeoutMs: 120_000,
    });
    assert.equal(describeFailures(ts) + describeFailures(native) + describeFailures(mixed), '');
    assert.deepEqual(new Set(planes(ts)), new Set(['ts']));
    const expected = commNative ? 'native' : 'ts';
    assert.deepEqual(new Set(planes(native)), new Set([expected]), commNativeWhy);
    assert.equal(mixed[1]!.result!.plane, 'ts');
    for (const outs of [ts, native, mixed])
      for (const o of outs) assert.deepEqual(o.result!.hashes, hashes(ts), `rank ${o.rank} differs`);
  });
}

test('a TS rank and a native rank calling different collectives both get MISMATCH, not a hang', async () => {
  for (const perRankEnv of [(i: number) => (i === 0 ? TS_PLANE : {}), (i: number) => (i === 1 ? TS_PLANE : {})]) {
    const outs = await runJob({ worldSize: 2, scenario: 'mismatch', perRankEnv });
    assert.equal(describeFailures(outs), '');
    const r1 = outs[1]!.result!;
    assert.equal(r1.outcome, 'MISMATCH', JSON.stringify(r1));
    assert.match(String(r1.error), /rank 0 sent broadcast #1 .* while rank 1 is in allReduce #1/);
  }
});

test('collectives of both planes in flight at once keep their order on the wire (world 2 and 3, one TS rank)', async () => {
  for (const worldSize of [2, 3]) {
    const outs = await runJob({ worldSize, scenario: 'overlapped', perRankEnv: (i) => (i === 1 ? TS_PLANE : {}) });
    assert.equal(describeFailures(outs), '');
    const sum = (worldSize * (worldSize + 1)) / 2;
    // (bf16 on the wire: sums of small integers are exact)
    const ranks = Array.from({ length: worldSize }, (_, r) => r);
    const expected = [sum, sum, sum / worldSize, 7, 8, sum, sum, ...ranks];
    for (const o of outs) assert.deepEqual(o.result!.values, expected, `rank ${o.rank}`);
  }
});
