import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  planBuckets,
  DEFAULT_BUCKET_CAP_MB,
  DEFAULT_FIRST_BUCKET_CAP_MB,
  DEFAULT_LAST_BUCKET_CAP_MB,
} from '../src/index.js';
import { yolov5Shapes } from './bench/yolov5-shapes.js';

const MiB = 1024 * 1024;

test('buckets run from the last parameter to the first, first bucket small', () => {
  // 6 params of 0.5 MiB each (131072 floats)
  const params = Array.from({ length: 6 }, (_, i) => ({ name: `p${i}`, shape: [131072] }));
  const buckets = planBuckets(params, { capBytes: 1.5 * MiB, firstCapBytes: 0.5 * MiB });
  assert.deepEqual(
    buckets.map((b) => b.entries.map((e) => e.name)),
    [['p5'], ['p4', 'p3', 'p2'], ['p1', 'p0']],
  );
  for (const b of buckets) {
    let off = 0;
    for (const e of b.entries) {
      assert.equal(e.offset, off);
      off += e.size;
    }
    assert.equal(b.size, off);
  }
});

test('entries start at aligned offsets (16 bytes by default), without overlap', () => {
  const params = [
    { name: 'a', shape: [3] },
    { name: 'b', shape: [5] },
    { name: 'c', shape: [1] },
    { name: 'd', shape: [8] },
  ];
  const [bucket] = planBuckets(params, { capBytes: 1e6, firstCapBytes: 1e6 });
  assert.deepEqual(
    bucket!.entries.map((e) => [e.name, e.offset]),
    [
      ['d', 0],
      ['c', 8],
      ['b', 12],
      ['a', 20],
    ],
  );
  assert.equal(bucket!.size, 23);
  const [packed] = planBuckets(params, { capBytes: 1e6, firstCapBytes: 1e6, alignElements: 1 });
  assert.deepEqual(
    packed!.entries.map((e) => e.offset),
    [0, 8, 9, 14],
  );
});

test('a parameter larger than the cap gets a bucket of its own; every parameter appears once', () => {
  const params = [
    { name: 'a', shape: [10] },
    { name: 'big', shape: [1000, 1000] },
    { name: 'b', shape: [3, 3] },
    { name: 'c', shape: [] },
  ];
  const buckets = planBuckets(params, { capBytes: 1000, firstCapBytes: 20 });
  const names = buckets.flatMap((b) => b.entries.map((e) => e.name));
  assert.deepEqual([...names].sort(), ['a', 'b', 'big', 'c']);
  assert.deepEqual(names, ['c', 'b', 'big', 'a']);
  const big = buckets.find((b) => b.entries.some((e) => e.name === 'big'))!;
  assert.equal(big.entries.length, 1);
  assert.equal(planBuckets([], { capBytes: 10, firstCapBytes: 1 }).length, 0);
  assert.throws(() => planBuckets(params, { capBytes: 0, firstCapBytes: 1 }), /positive/);
});

test('YOLOv5s-sized gradient (29 MB) makes a 1 MiB first bucket and ~25 MiB buckets', () => {
  const params = Array.from({ length: 29 }, (_, i) => ({ name: `p${i}`, shape: [256 * 1024] })); // 1 MiB each
  const buckets = planBuckets(params, { capBytes: 25 * MiB, firstCapBytes: 1 * MiB });
  assert.deepEqual(
    buckets.map((b) => (b.size * 4) / MiB),
    [1, 25, 3],
  );
});

test('the last bucket holds the first parameters that fit lastCapBytes (capped by firstCapBytes)', () => {
  const params = [
    { name: 'p0', shape: [100] },
    { name: 'p1', shape: [100] },
    { name: 'p2', shape: [1000] },
    { name: 'p3', shape: [1000] },
  ];
  const names = (caps: { lastCapBytes?: number; firstCapBytes?: number }) =>
    planBuckets(params, { capBytes: 1e6, firstCapBytes: caps.firstCapBytes ?? 1e6, ...caps }).map((b) =>
      b.entries.map((e) => e.name),
    );
  // p0 + p1 (200 floats: 800 bytes) fit 1000 bytes, p2 does not
  assert.deepEqual(names({ lastCapBytes: 1000 }), [
    ['p3', 'p2'],
    ['p1', 'p0'],
  ]);
  assert.deepEqual(names({}), [['p3', 'p2', 'p1', 'p0']]);
  // the first parameter alone is over the cap: no separate last bucket
  assert.deepEqual(names({ lastCapBytes: 100 }), [['p3', 'p2', 'p1', 'p0']]);
  // never larger than the first bucket's cap
  assert.deepEqual(names({ lastCapBytes: 1e6, firstCapBytes: 500 }), [['p3'], ['p2', 'p1'], ['p0']]);
  // everything fits: one bucket
  assert.deepEqual(names({ lastCapBytes: 1e6 }), [['p3', 'p2', 'p1', 'p0']]);
  assert.throws(() => planBuckets(params, { capBytes: 10, firstCapBytes: 10, lastCapBytes: -1 }), /positive/);
});

test("YOLOv5n's default plan: 1 MiB for the last layers, the rest, and the first layers within 64 KiB", () => {
  const buckets = planBuckets(yolov5Shapes('n'), {
    capBytes: DEFAULT_BUCKET_CAP_MB * MiB,
    firstCapBytes: DEFAULT_FIRST_BUCKET_CAP_MB * MiB,
    lastCapBytes: DEFAULT_LAST_BUCKET_CAP_MB * MiB,
  });
  assert.equal(buckets.length, 3);
  assert.ok(buckets[0]!.size * 4 <= MiB);
  const last = buckets[2]!;
  assert.ok(last.size * 4 <= 64 * 1024, `last bucket ${last.size * 4} B`);
  // the first layers, and all of them up to where the bucket ends
  assert.deepEqual(
    last.entries.map((e) => e.index).sort((a, b) => a - b),
    last.entries.map((_, i) => i),
  );
  assert.ok(last.entries.some((e) => e.name === 'model.0.conv.weight'));
});
