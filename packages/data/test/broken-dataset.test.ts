/** A small dataset with broken files: verified with the right counts and messages, cached, skipped by loading. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { tmpDir } from './helpers.js';
import {
  loadSplit,
  loadDatasetYaml,
  NoLabelsError,
  LABEL_CACHE_VERSION,
  listImageFiles,
  img2labelPath,
  createDataLoader,
} from '../src/index.js';

async function solid(w: number, h: number, fmt: 'jpeg' | 'png'): Promise<Buffer> {
  const s = sharp({ create: { width: w, height: h, channels: 3, background: { r: 200, g: 30, b: 30 } } });
  return fmt === 'png' ? s.png().toBuffer() : s.jpeg().toBuffer();
}

/** A noisy JPEG (several KB, so that cutting it keeps the header and loses scan data). */
async function noisyJpeg(w: number, h: number): Promise<Buffer> {
  const px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 2654435761) >>> 24;
  return sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

async function makeBroken(root: string): Promise<string> {
  const im = path.join(root, 'images', 'train');
  const lb = path.join(root, 'labels', 'train');
  fs.mkdirSync(im, { recursive: true });
  fs.mkdirSync(lb, { recursive: true });
  const good = '0 0.5 0.5 0.2 0.2\n1 0.25 0.25 0.1 0.1\n';
  const files: Array<[string, Buffer, string | null]> = [
    ['a-good.jpg', await solid(64, 48, 'jpeg'), good],
    ['b-good.png', await solid(48, 64, 'png'), '2 0.5 0.5 0.5 0.5\n'],
    ['c-png-named-jpg.jpg', await solid(40, 40, 'png'), '1 0.5 0.5 0.3 0.3\n'],
    ['d-truncated.jpg', await noisyJpeg(64, 64).then((b) => b.subarray(0, Math.floor(b.length * 0.6))), good],
    ['e-bad-rows.jpg', await solid(64, 64, 'jpeg'), '0 0.5 0.5 0.2\n'],
    ['f-class99.jpg', await solid(64, 64, 'jpeg'), '99 0.5 0.5 0.2 0.2\n'],
    ['g-negative.jpg', await solid(64, 64, 'jpeg'), '0 -0.1 0.5 0.2 0.2\n'],
    ['h-no-label.jpg', await solid(64, 64, 'jpeg'), null],
    ['i-empty-label.jpg', await solid(64, 64, 'jpeg'), ''],
    ['j-dupes.jpg', await solid(64, 64, 'jpeg'), good + good],
    ['k-text.jpg', Buffer.from('not an image at all\n'.repeat(5)), good],
  ];
  for (const [name, bytes, label] of files) {
    fs.writeFileSync(path.join(im, name), bytes);
    if (label !== null) fs.writeFileSync(path.join(lb, name.replace(/\.[^.]+$/, '.txt')), label);
  }
  const yamlFile = path.join(root, 'broken.yaml');
  fs.writeFileSync(yamlFile, `path: .\ntrain: images/train\nval: images/train\nnames: [red, green, blue]\n`);
  return yamlFile;
}

test('broken dataset: counts, messages, cache reuse and invalidation, corrupt pairs skipped', async () => {
  const root = tmpDir('broken');
  try {
    const yamlFile = await makeBroken(root);
    const lines: string[] = [];
    const { dataset, scan } = await loadSplit(yamlFile, 'train', { log: (l) => lines.push(l), requireLabels: true });
    assert.deepEqual(scan.totals, { found: 8, missing: 1, empty: 1, corrupt: 5 });
    assert.match(scan.summary, /8 images, 1 missing labels, 1 empty, 5 corrupt$/);
    const msg = (name: string): string => scan.results.find((r) => r.imFile.endsWith(name))!.message;
    assert.match(msg('d-truncated.jpg'), /ignoring corrupt image\/label: image file is truncated/);
    assert.match(msg('e-bad-rows.jpg'), /labels require 5 columns, 4 columns detected/);
    assert.match(msg('f-class99.jpg'), /Label class 99 exceeds dataset class count 3/);
    assert.match(msg('g-negative.jpg'), /negative label values \[-0\.1/);
    assert.match(msg('k-text.jpg'), /cannot identify image file/);
    assert.match(msg('j-dupes.jpg'), /2 duplicate labels removed/);
    assert.equal(msg('c-png-named-jpg.jpg'), '', 'a PNG named .jpg is decoded by content, as PIL does');
    assert.ok(lines.some((l) => l.includes('5 corrupt')));
    assert.equal(lines.filter((l) => l.includes('WARNING')).length, 6);
    // loading keeps the 6 usable images and drops the 5 corrupt ones
    assert.deepEqual(
      dataset.imFiles.map((f) => path.basename(f)),
      ['a-good.jpg', 'b-good.png', 'c-png-named-jpg.jpg', 'h-no-label.jpg', 'i-empty-label.jpg', 'j-dupes.jpg'],
    );
    assert.equal(dataset.labels[5]!.length, 10);
    assert.deepEqual(dataset.shapes[1], [48, 64]);
    // a training epoch over what is left runs through (mosaic, letterbox, the PNG named .jpg)
    const loader = await createDataLoader({
      dataset,
      batchSize: 3,
      imgsz: 64,
      augment: true,
      hyp: { mosaic: 0.5 },
      workers: 1,
    });
    try {
      let images = 0;
      for await (const b of loader.epoch([0, 1, 2, 3, 4, 5, 2, 1], 0)) images += b.shape[0];
      assert.equal(images, 8);
    } finally {
      await loader.close();
    }

    // the cache sits next to the labels, versioned, and is reused
    assert.ok(fs.existsSync(scan.cacheFile));
    assert.equal(path.dirname(scan.cacheFile), path.join(root, 'labels'));
    assert.equal(JSON.parse(fs.readFileSync(scan.cacheFile, 'utf8')).version, LABEL_CACHE_VERSION);
    const again = await loadSplit(yamlFile, 'train');
    assert.equal(again.scan.fromCache, true);
    assert.deepEqual(again.scan.totals, scan.totals);
    assert.deepEqual(again.dataset.labels, dataset.labels);
    // changing a label file changes the hash: rescanned
    fs.writeFileSync(path.join(root, 'labels/train/e-bad-rows.txt'), '0 0.5 0.5 0.2 0.2\n');
    const third = await loadSplit(yamlFile, 'train');
    assert.equal(third.scan.fromCache, false);
    assert.deepEqual(third.scan.totals, { found: 8, missing: 1, empty: 1, corrupt: 4 });
    // a cache of another version is ignored
    const c = JSON.parse(fs.readFileSync(scan.cacheFile, 'utf8'));
    c.version = 'old';
    fs.writeFileSync(scan.cacheFile, JSON.stringify(c));
    assert.equal((await loadSplit(yamlFile, 'train')).scan.fromCache, false);
    assert.ok(!fs.readdirSync(path.join(root, 'labels')).some((f) => f.endsWith('.tmp')), 'no temporary files left');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('training refuses a split without any label', async () => {
  const root = tmpDir('nolabels');
  try {
    fs.mkdirSync(path.join(root, 'images'), { recursive: true });
    fs.writeFileSync(path.join(root, 'images', 'x.jpg'), await solid(32, 32, 'jpeg'));
    fs.writeFileSync(path.join(root, 'd.yaml'), 'train: images\nval: images\nnames: {0: a}\n');
    await assert.rejects(loadSplit(path.join(root, 'd.yaml'), 'train', { requireLabels: true }), NoLabelsError);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('dataset YAML: path relative to the YAML, txt lists, lists of folders, names dict, nc check', () => {
  const root = tmpDir('yaml');
  try {
    fs.mkdirSync(path.join(root, 'ds/images/a'), { recursive: true });
    fs.mkdirSync(path.join(root, 'ds/images/b'), { recursive: true });
    fs.writeFileSync(path.join(root, 'ds/val.txt'), './images/a/1.jpg\n./images/b/2.jpg\n');
    fs.writeFileSync(
      path.join(root, 'd.yaml'),
      'path: ds\ntrain: [images/a, images/b]\nval: val.txt\nnc: 2\nnames: {0: cat, 1: dog}\n',
    );
    const cfg = loadDatasetYaml(path.join(root, 'd.yaml'));
    assert.equal(cfg.path, path.join(root, 'ds'));
    assert.deepEqual(cfg.train, [path.join(root, 'ds/images/a'), path.join(root, 'ds/images/b')]);
    assert.deepEqual(cfg.val, [path.join(root, 'ds/val.txt')]);
    assert.deepEqual(cfg.names, ['cat', 'dog']);
    assert.equal(cfg.nc, 2);
    fs.writeFileSync(path.join(root, 'bad.yaml'), 'train: a\nval: a\nnc: 3\nnames: [x, y]\n');
    assert.throws(() => loadDatasetYaml(path.join(root, 'bad.yaml')), /nc=3 but 2 names/);
    fs.writeFileSync(path.join(root, 'nonames.yaml'), 'train: a\nval: a\n');
    assert.throws(() => loadDatasetYaml(path.join(root, 'nonames.yaml')), /'names:' key missing/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('image listing: folders recursively, .txt lists with ./ lines, image suffixes only, sorted; images -> labels rule', () => {
  const root = tmpDir('list');
  try {
    fs.mkdirSync(path.join(root, 'images/a/sub'), { recursive: true });
    for (const f of [
      'images/a/2.jpg',
      'images/a/sub/1.PNG',
      'images/a/notes.txt',
      'images/a/.hidden.jpg',
      'images/a/x.gif',
    ])
      fs.writeFileSync(path.join(root, f), 'x');
    assert.deepEqual(listImageFiles([path.join(root, 'images/a')]), [
      path.join(root, 'images/a/2.jpg'),
      path.join(root, 'images/a/sub/1.PNG'),
    ]);
    fs.writeFileSync(path.join(root, 'list.txt'), `./images/a/2.jpg\n${path.join(root, 'images/a/sub/1.PNG')}\n\n`);
    assert.deepEqual(listImageFiles([path.join(root, 'list.txt')]), [
      path.join(root, 'images/a/2.jpg'),
      path.join(root, 'images/a/sub/1.PNG'),
    ]);
    assert.throws(() => listImageFiles([path.join(root, 'nope')]), /does not exist/);
    assert.equal(img2labelPath('/d/images/x/images/y.jpg'), '/d/images/x/labels/y.txt');
    assert.equal(img2labelPath('/d/images/train/a.b.jpeg'), '/d/labels/train/a.b.txt');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
