// The generators' streams must not change by a bit (see src/rng.ts): each test pins a hash of
// thousands of outputs, computed from the former copies in data/src/rng.ts (sfc32, mixSeed),
// yolo/src/util/rng.ts (mulberry32) and ddp/src/sampler.ts (splitmix32) before they moved here.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import test from 'node:test';
import { Mulberry32Rng, mixSeed, Sfc32Rng, splitmix32 } from '../src/index.js';

const SEEDS = [0, 1, 42, 0xffffffff, -7];
const digest = (values: number[]) =>
  createHash('sha256')
    .update(new Uint8Array(new Float64Array(values).buffer))
    .digest('hex')
    .slice(0, 16);

test('mixSeed: FNV-1a over 64-bit parts, murmur3 fmix32', () => {
  assert.deepEqual([mixSeed(0), mixSeed(1, 2, 3), mixSeed(2 ** 40 + 5, -3, 7.9)], [3138444313, 806020091, 3455080746]);
});

test('sfc32 (the data pipeline, multi-scale, image weights, evolve): stream unchanged', () => {
  const values: number[] = [];
  for (const seed of SEEDS) {
    const rng = Sfc32Rng.from(seed, 3, 17, 0x5ca1e);
    for (let i = 0; i < 1000; i++) values.push(rng.random());
    values.push(rng.normal(), rng.beta(32, 32), rng.gamma(0.5));
  }
  assert.equal(digest(values), '63195bb42dbd95af');
});

test('mulberry32 (model init, AutoAnchor): stream unchanged', () => {
  const values: number[] = [];
  for (const seed of SEEDS) {
    const rng = new Mulberry32Rng(seed);
    for (let i = 0; i < 1000; i++) values.push(rng.next());
    values.push(rng.normal());
  }
  assert.equal(digest(values), '495e948743d97ba9');
});

test('splitmix32 (DistributedSampler permutations): stream unchanged', () => {
  const values: number[] = [];
  for (const seed of SEEDS) {
    const next = splitmix32(seed);
    for (let i = 0; i < 1000; i++) values.push(next());
  }
  assert.equal(digest(values), '55b532725337638a');
});
