/** A read-only dataset folder: label cache and --cache disk files go to the cache folder instead. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tmpDir } from './helpers.js';
import {
  ensureSyntheticDataset,
  loadSplit,
  cacheImagesToDisk,
  diskCacheReadPath,
  createDataLoader,
} from '../src/index.js';

test('read-only labels and images folders: caches are written under YOLO_LAUNCH_CACHE_DIR and found again', async () => {
  const root = tmpDir('cache-dir');
  const saved = process.env.YOLO_LAUNCH_CACHE_DIR;
  const cacheDir = path.join(root, 'cache');
  const readOnly = [path.join(root, 'syn', 'labels'), path.join(root, 'syn', 'images', 'train')];
  try {
    const yamlFile = await ensureSyntheticDataset(path.join(root, 'syn'), { seed: 4, nTrain: 6, nVal: 2, imgSize: 64 });
    for (const d of readOnly) fs.chmodSync(d, 0o555); // no write bit: read-only even for root
    process.env.YOLO_LAUNCH_CACHE_DIR = cacheDir;

    const first = await loadSplit(yamlFile, 'train');
    assert.equal(first.scan.fromCache, false);
    assert.ok(
      first.scan.cacheFile.startsWith(cacheDir + path.sep),
      `label cache under the cache folder: ${first.scan.cacheFile}`,
    );
    assert.ok(fs.existsSync(first.scan.cacheFile));
    assert.ok(!fs.readdirSync(readOnly[0]!).some((n) => n.includes('cache')), 'nothing written beside the labels');
    const second = await loadSplit(yamlFile, 'train');
    assert.equal(second.scan.fromCache, true, 'the fallback cache is read back');

    const { dataset } = first;
    const before = fs.readdirSync(readOnly[1]!).length;
    assert.equal((await cacheImagesToDisk(dataset)).written, dataset.imFiles.length);
    assert.equal(fs.readdirSync(readOnly[1]!).length, before, 'no .npy beside read-only images');
    for (const f of dataset.imFiles) assert.ok(diskCacheReadPath(f)?.startsWith(cacheDir + path.sep));
    assert.equal((await cacheImagesToDisk(dataset)).existing, dataset.imFiles.length, 'found again');
    const loader = await createDataLoader({
      dataset,
      batchSize: 2,
      imgsz: 64,
      augment: false,
      workers: 0,
      cache: 'disk',
    });
    try {
      let n = 0;
      for await (const b of loader.epoch([...dataset.imFiles.keys()], 0)) n += b.shape[0];
      assert.equal(n, dataset.imFiles.length);
    } finally {
      await loader.close();
    }
  } finally {
    if (saved === undefined) delete process.env.YOLO_LAUNCH_CACHE_DIR;
    else process.env.YOLO_LAUNCH_CACHE_DIR = saved;
    for (const d of readOnly) if (fs.existsSync(d)) fs.chmodSync(d, 0o755);
    fs.rmSync(root, { recursive: true, force: true });
  }
});
