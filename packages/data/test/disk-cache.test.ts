/**
 * --cache disk files carry DISK_CACHE_VERSION in their name: a file of an older version (the
 * unversioned <stem>.rgb.npy, written while ICC profiles were still applied) is never read;
 * cacheImagesToDisk writes the current version beside it and counts the old one as stale.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tmpDir } from './helpers.js';
import {
  DISK_CACHE_VERSION,
  ImageStore,
  cacheImagesToDisk,
  diskCachePath,
  encodeNpyU8,
  ensureSyntheticDataset,
  loadSplit,
  staleDiskCachePaths,
  type YoloDataset,
} from '../src/index.js';

const FILL = 7; // a pixel value the synthetic images do not consist of

/** A cache file of the image's full size whose every byte is FILL. */
function writeFilled(file: string, dataset: YoloDataset, i: number): void {
  const [w, h] = dataset.shapes[i]!;
  fs.writeFileSync(file, encodeNpyU8(new Uint8Array(w * h * 3).fill(FILL), [h, w, 3]));
}

async function loaded(store: ImageStore, i: number): Promise<Uint8Array> {
  return (await store.load(i)).image.data;
}

test('a --cache disk file of an older version is not used; the current version is written beside it', async () => {
  const root = tmpDir('disk-cache');
  try {
    const yamlFile = await ensureSyntheticDataset(path.join(root, 'syn'), { seed: 5, nTrain: 4, nVal: 1, imgSize: 64 });
    const { dataset } = await loadSplit(yamlFile, 'train');
    const files = dataset.imFiles;
    assert.ok(DISK_CACHE_VERSION >= 2);
    const first = files[0]!;
    assert.equal(diskCachePath(first), first.replace(/\.jpg$/, `.rgb.v${DISK_CACHE_VERSION}.npy`));
    assert.equal(staleDiskCachePaths(first)[0], first.replace(/\.jpg$/, '.rgb.npy'), 'the pre-version name');

    // the test can fail: a current-version file is read, byte for byte
    writeFilled(diskCachePath(first), dataset, 0);
    assert.ok((await loaded(new ImageStore(dataset, 64, true), 0)).every((v) => v === FILL));
    fs.rmSync(diskCachePath(first));

    // old-version files only: the images are decoded, as without --cache disk
    files.forEach((f, i) => writeFilled(staleDiskCachePaths(f)[0]!, dataset, i));
    const plain = new ImageStore(dataset, 64, false);
    const disk = new ImageStore(dataset, 64, true);
    for (let i = 0; i < files.length; i++) assert.deepEqual(await loaded(disk, i), await loaded(plain, i));

    const lines: string[] = [];
    const res = await cacheImagesToDisk(dataset, { log: (s) => lines.push(s) });
    assert.equal(res.written, files.length, 'old-version files are not counted as cached');
    assert.equal(res.existing, 0);
    assert.equal(res.stale, files.length);
    assert.match(lines.join('\n'), /4 images also have a cache file of an older version, not used/);
    for (const f of files) {
      assert.ok(fs.existsSync(diskCachePath(f)), 'current version written');
      assert.ok(fs.existsSync(staleDiskCachePaths(f)[0]!), 'the old file is left to the user');
    }
    const fresh = new ImageStore(dataset, 64, true);
    for (let i = 0; i < files.length; i++) {
      const got = await loaded(fresh, i);
      const want = await loaded(plain, i);
      assert.ok(!got.every((v) => v === FILL), 'not the old file');
      let diff = 0;
      for (let k = 0; k < want.length; k++) diff += Math.abs(got[k]! - want[k]!);
      assert.ok(diff / want.length < 4, `new cache file close to decoded pixels (mean abs diff ${diff / want.length})`);
    }
    assert.equal((await cacheImagesToDisk(dataset)).existing, files.length, 'second call reuses the new files');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
