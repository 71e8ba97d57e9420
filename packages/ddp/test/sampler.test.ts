import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DistributedSampler, permute } from '../src/index.js';

function shards(
  n: number,
  world: number,
  opts: { seed?: number; epoch?: number; shuffle?: boolean; indices?: number[] } = {},
) {
  return Array.from({ length: world }, (_, rank) => {
    const s = new DistributedSampler({
      datasetSize: opts.indices ? undefined : n,
      indices: opts.indices,
      numReplicas: world,
      rank,
      seed: opts.seed ?? 0,
      shuffle: opts.shuffle,
    });
    s.setEpoch(opts.epoch ?? 0);
    return s;
  });
}

test('every rank gets the same number of samples and batches; padding repeats the head', () => {
  for (const n of [0, 1, 7, 13, 16, 101]) {
    for (const world of [1, 2, 3, 4]) {
      const ss = shards(n, world);
      const all = ss.map((s) => s.indices());
      const per = Math.ceil(n / world);
      for (const idx of all) assert.equal(idx.length, per);
      for (const bs of [1, 2, 5]) {
        const counts = ss.map((s) => s.batches(bs).length);
        assert.ok(
          counts.every((c) => c === Math.ceil(per / bs)),
          `n=${n} world=${world} bs=${bs}: ${counts}`,
        );
        assert.ok(ss.every((s) => s.numBatches(bs) === counts[0]));
      }
      // union covers the dataset
      const union = new Set(all.flat());
      assert.equal(union.size, n, `n=${n} world=${world}`);
      // without padding, shards are disjoint
      if (n % world === 0) assert.equal(all.flat().length, n);
    }
  }
});

test('shuffle depends on seed + epoch only, identically on every rank', () => {
  const a = shards(50, 2, { seed: 3, epoch: 1 }).map((s) => s.indices());
  const b = shards(50, 2, { seed: 3, epoch: 1 }).map((s) => s.indices());
  const c = shards(50, 2, { seed: 3, epoch: 2 }).map((s) => s.indices());
  const d = shards(50, 2, { seed: 2, epoch: 2 }).map((s) => s.indices());
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.notDeepEqual(c, d); // seed 3 + epoch 2 == seed 2 + epoch 3 in torch too, but not 2 + 2
  const noShuffle = shards(10, 2, { shuffle: false }).map((s) => s.indices());
  assert.deepEqual(noShuffle, [
    [0, 2, 4, 6, 8],
    [1, 3, 5, 7, 9],
  ]);
  const world1 = shards(10, 1, { seed: 5, epoch: 0 })[0]!.indices();
  assert.deepEqual(world1, permute([...Array(10).keys()], 5));
});

test('sampling from a given index list (image weights) shards that list', () => {
  const weighted = [4, 4, 4, 9, 1, 1, 0];
  const ss = shards(0, 3, { indices: weighted, shuffle: false });
  assert.deepEqual(
    ss.map((s) => s.indices()),
    [
      [4, 9, 0],
      [4, 1, 4],
      [4, 1, 4],
    ],
  );
  const s = new DistributedSampler({ datasetSize: 5, numReplicas: 2, rank: 1 });
  s.setIndices([7, 7, 7]);
  assert.equal(s.indices().length, 2);
  assert.ok(s.indices().every((i) => i === 7));
  assert.throws(() => s.setIndices([1, -1]), /non-negative/);
  assert.throws(() => new DistributedSampler({ datasetSize: 5, numReplicas: 2, rank: 2 }), /out of range/);
});

test('dropLast gives floor(n / world) per rank', () => {
  const ss = Array.from(
    { length: 4 },
    (_, rank) => new DistributedSampler({ datasetSize: 13, numReplicas: 4, rank, dropLast: true }),
  );
  assert.ok(ss.every((s) => s.indices().length === 3));
  assert.equal(new Set(ss.flatMap((s) => s.indices())).size, 12);
});
