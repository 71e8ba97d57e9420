/** The worker-thread DataLoader: same batches for any worker count, rect shapes, caches, early stop. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpDir } from './helpers.js';
import {
  ensureSyntheticDataset,
  loadSplit,
  createDataLoader,
  cacheImagesToDisk,
  diskCachePath,
  effectiveWorkers,
  type LoadedBatch,
  type YoloDataset,
  BufferPool,
} from '../src/index.js';

let root = '';
let dataset: YoloDataset;

test.before(async () => {
  root = tmpDir('loader');
  const y = await ensureSyntheticDataset(path.join(root, 'syn'), { seed: 5, nTrain: 20, nVal: 10, imgSize: 96 });
  dataset = (await loadSplit(y, 'train')).dataset;
});
test.after(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

async function collect(it: AsyncGenerator<LoadedBatch>): Promise<LoadedBatch[]> {
  const out: LoadedBatch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

const order = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 0];

test('0, 1 and 2 workers give identical batches; targets and shapes well formed', async () => {
  const results: LoadedBatch[][] = [];
  for (const workers of [0, 1, 2]) {
    const loader = await createDataLoader({
      dataset,
      batchSize: 4,
      imgsz: 96,
      augment: true,
      hyp: { mixup: 0.3, degrees: 5 },
      workers,
      seed: 11,
      rank: 0,
      threadBudget: 8,
    });
    try {
      assert.equal(loader.workers, workers);
      results.push(await collect(loader.epoch(order, 2)));
    } finally {
      await loader.close();
    }
  }
  const [a, b, c] = results as [LoadedBatch[], LoadedBatch[], LoadedBatch[]];
  assert.equal(a.length, 5);
  assert.deepEqual(
    a.map((x) => x.shape),
    [
      [4, 96, 96, 3],
      [4, 96, 96, 3],
      [4, 96, 96, 3],
      [4, 96, 96, 3],
      [2, 96, 96, 3],
    ],
  );
  for (let k = 0; k < a.length; k++) {
    assert.deepEqual(b[k]!.images, a[k]!.images, `batch ${k}: 1 worker vs in-thread`);
    assert.deepEqual(c[k]!.images, a[k]!.images, `batch ${k}: 2 workers vs in-thread`);
    assert.deepEqual(c[k]!.targets, a[k]!.targets);
    assert.deepEqual(a[k]!.indices, order.slice(k * 4, k * 4 + 4));
    const t = a[k]!.targets;
    assert.equal(t.length % 6, 0);
    for (let r = 0; r < t.length; r += 6) {
      assert.ok(t[r]! >= 0 && t[r]! < a[k]!.shape[0] && Number.isInteger(t[r]));
      assert.ok(t[r + 1]! >= 0 && t[r + 1]! < 3);
      for (let j = 2; j < 6; j++) assert.ok(t[r + j]! >= 0 && t[r + j]! <= 1);
    }
  }
  // index 1 appears twice in the order: the two occurrences are augmented differently
  assert.notDeepEqual(
    a[0]!.images.subarray(96 * 96 * 3, 2 * 96 * 96 * 3),
    a[0]!.images.subarray(3 * 96 * 96 * 3, 4 * 96 * 96 * 3),
  );
  assert.ok(effectiveWorkers(8, { batchSize: 16, localWorldSize: 2, threadBudget: 2 }) === 1);
  assert.ok(effectiveWorkers(8, { batchSize: 1 }) === 0);
  const capped = await createDataLoader({
    dataset,
    batchSize: 4,
    imgsz: 64,
    augment: false,
    workers: 8,
    threadBudget: 4,
    localWorldSize: 2,
  });
  assert.equal(capped.workers, 2, '--workers 8 on 4 CPUs shared by 2 local ranks: 2 each');
  await capped.close();
});

test('recycled batch buffers give the same batches (0 and 2 workers, train and rect val)', async () => {
  for (const opts of [
    { augment: true, rect: false },
    { augment: false, rect: true },
  ]) {
    const base = { dataset, batchSize: 4, imgsz: 96, seed: 3, ...opts };
    const ref = await createDataLoader({ ...base, workers: 0 });
    const expected = [...(await collect(ref.epoch(order, 0))), ...(await collect(ref.epoch(order, 1)))];
    await ref.close();
    for (const workers of [0, 2]) {
      const loader = await createDataLoader({ ...base, workers, threadBudget: 8 });
      try {
        let k = 0;
        for (const epoch of [0, 1]) {
          for await (const b of loader.epoch(order, epoch)) {
            assert.deepEqual(b.images, expected[k]!.images, `workers ${workers}, batch ${k}`);
            assert.deepEqual(b.targets, expected[k++]!.targets);
            loader.recycle(b);
            assert.equal(b.images.byteLength, workers ? 0 : b.images.byteLength, 'handed to the worker (detached)');
          }
        }
        assert.equal(k, expected.length);
      } finally {
        await loader.close();
      }
    }
  }
});

test('validation loader with rect: batches sorted by aspect ratio, 32-multiple shapes, shape info', async () => {
  const loader = await createDataLoader({ dataset, batchSize: 5, imgsz: 96, augment: false, rect: true, workers: 1 });
  try {
    const batches = await collect(loader.epoch([...Array(loader.size).keys()], 0));
    const ars = loader.dataset.shapes.map(([w, h]) => h / w);
    assert.deepEqual(
      ars,
      [...ars].sort((x, y) => x - y),
    );
    for (const b of batches) {
      assert.equal(b.shape[1] % 32, 0);
      assert.equal(b.shape[2] % 32, 0);
      assert.ok(b.shapes.every((s) => s !== null && s.shape0[0] > 0));
    }
    assert.ok(
      new Set(batches.map((b) => `${b.shape[1]}x${b.shape[2]}`)).size > 1,
      'different batch shapes for different aspect ratios',
    );
  } finally {
    await loader.close();
  }
});

test('--cache ram gives the same batches; --cache disk writes .rgb.npy once and loads from it', async () => {
  const base = { dataset, batchSize: 4, imgsz: 96, augment: true, workers: 2, seed: 1 };
  const plain = await createDataLoader(base);
  const ram = await createDataLoader({ ...base, cache: 'ram', cacheIndices: order });
  try {
    const a = await collect(plain.epoch(order, 0));
    const b = await collect(ram.epoch(order, 0));
    a.forEach((x, k) => assert.deepEqual(b[k]!.images, x.images));
  } finally {
    await plain.close();
    await ram.close();
  }
  const first = await cacheImagesToDisk(dataset);
  assert.equal(first.written, dataset.imFiles.length);
  assert.ok(fs.existsSync(diskCachePath(dataset.imFiles[0]!)));
  assert.equal((await cacheImagesToDisk(dataset)).written, 0, 'second call reuses the files');
  const disk = await createDataLoader({ ...base, augment: false, cache: 'disk' });
  const ref = await createDataLoader({ ...base, augment: false });
  try {
    const a = await collect(ref.epoch(order, 0));
    const b = await collect(disk.epoch(order, 0));
    a.forEach((x, k) => {
      assert.deepEqual(b[k]!.targets, x.targets);
      let diff = 0;
      for (let i = 0; i < x.images.length; i++) diff += Math.abs(x.images[i]! - b[k]!.images[i]!);
      assert.ok(
        diff / x.images.length < 4,
        `disk-cached pixels close to decoded ones (mean abs diff ${diff / x.images.length})`,
      );
    });
  } finally {
    await disk.close();
    await ref.close();
  }
});

test('stopping an epoch early and closing leaves nothing running; quad halves the batch', async () => {
  const loader = await createDataLoader({
    dataset,
    batchSize: 4,
    imgsz: 64,
    augment: true,
    workers: 2,
    quad: true,
    prefetch: 4,
  });
  try {
    for await (const b of loader.epoch(order, 0)) {
      assert.deepEqual(b.shape, [1, 128, 128, 3]);
      break;
    }
    const again = await collect(loader.epoch(order.slice(0, 8), 1));
    assert.equal(again.length, 2);
  } finally {
    await loader.close();
  }
  await assert.rejects(
    createDataLoader({ dataset, batchSize: 6, imgsz: 64, augment: true, quad: true }),
    /multiple of 4/,
  );
});

test('a process that never calls close() still exits (idle workers are unref-ed)', async () => {
  const script = fileURLToPath(new URL('./workers/no-close.js', import.meta.url));
  const child = spawn(process.execPath, [script, path.join(root, 'syn', 'synthetic.yaml')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 0, out);
    assert.match(out, /images 2[0-9]/);
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('closeMosaic: the epoch is built as with hyp mosaic 0 and mixup 0 (other augmentations kept), on 0 and 2 workers', async () => {
  const hyp = { mosaic: 1.0, mixup: 0.5, degrees: 5, fliplr: 0.5, hsv_v: 0.4 };
  const build = async (workers: number, hypOverride: Record<string, number>, closeMosaic?: boolean) => {
    const loader = await createDataLoader({
      dataset,
      batchSize: 4,
      imgsz: 96,
      augment: true,
      hyp: { ...hyp, ...hypOverride },
      workers,
      seed: 3,
      rank: 0,
      threadBudget: 8,
    });
    try {
      return await collect(loader.epoch(order.slice(0, 8), 7, closeMosaic === undefined ? undefined : { closeMosaic }));
    } finally {
      await loader.close();
    }
  };
  const reference = await build(0, { mosaic: 0, mixup: 0 });
  const mosaic = await build(0, {}, false);
  for (const workers of [0, 2]) {
    const closed = await build(workers, {}, true);
    for (let k = 0; k < reference.length; k++) {
      assert.deepEqual(closed[k]!.images, reference[k]!.images, `batch ${k}, ${workers} workers: images`);
      assert.deepEqual(closed[k]!.targets, reference[k]!.targets, `batch ${k}, ${workers} workers: targets`);
    }
  }
  // single images keep their shape info (mosaics have none) and the augmentation still acts
  assert.ok(reference.every((b) => b.shapes.every((s) => s !== null)));
  assert.ok(
    mosaic.every((b) => b.shapes.every((s) => s === null)),
    'mosaic 1.0 makes every sample a mosaic',
  );
  const plain = await build(0, {
    mosaic: 0,
    mixup: 0,
    degrees: 0,
    fliplr: 0,
    hsv_v: 0,
    hsv_s: 0,
    hsv_h: 0,
    scale: 0,
    translate: 0,
  });
  assert.notDeepEqual(reference[0]!.images, plain[0]!.images, 'perspective, HSV and flips are kept');
});

test('BufferPool: a recycled buffer serves any batch that fits (the smallest that does), as a view of its start', () => {
  const pool = new BufferPool(2);
  const small = new ArrayBuffer(100);
  const large = new ArrayBuffer(300);
  pool.give(large);
  pool.give(small);
  const a = pool.take(80);
  assert.equal(a.buffer, small, 'the smallest buffer that fits');
  assert.deepEqual([a.byteOffset, a.length], [0, 80]);
  const b = pool.take(200);
  assert.equal(b.buffer, large);
  assert.notEqual(pool.take(50).buffer, small, 'taken buffers leave the pool');
  pool.give(new ArrayBuffer(10));
  pool.give(new ArrayBuffer(20));
  pool.give(new ArrayBuffer(30));
  assert.equal(pool.take(25).buffer.byteLength, 30);
  assert.equal(pool.take(15).buffer.byteLength, 20, 'the largest two were kept');
  assert.equal(pool.take(5).buffer.byteLength, 5, 'nothing left: a new array');
});
