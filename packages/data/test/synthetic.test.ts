/** The embedded synthetic dataset: deterministic, reused, and its boxes match what is drawn. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { tmpDir } from './helpers.js';
import {
  ensureSyntheticDataset,
  renderSyntheticImage,
  loadSplit,
  decodeImage,
  SYNTHETIC_CLASSES,
} from '../src/index.js';

function treeHash(dir: string): string {
  const h = crypto.createHash('sha256');
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.endsWith('.json')) h.update(path.relative(dir, p)).update(fs.readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

test('synthetic dataset: same seed gives identical files, reused on second call, loads cleanly', async () => {
  const root = tmpDir('syn');
  try {
    const opts = { seed: 3, nTrain: 24, nVal: 8, imgSize: 96 };
    const a = await ensureSyntheticDataset(path.join(root, 'a'), opts);
    const b = await ensureSyntheticDataset(path.join(root, 'b'), opts);
    assert.equal(treeHash(path.dirname(a)), treeHash(path.dirname(b)));
    const c = await ensureSyntheticDataset(path.join(root, 'c'), { ...opts, seed: 4 });
    assert.notEqual(treeHash(path.dirname(a)), treeHash(path.dirname(c)));
    const mtime = fs.statSync(path.join(root, 'a/images/train/train_00000.jpg')).mtimeMs;
    await ensureSyntheticDataset(path.join(root, 'a'), opts);
    assert.equal(
      fs.statSync(path.join(root, 'a/images/train/train_00000.jpg')).mtimeMs,
      mtime,
      'reused, not rewritten',
    );
    const { dataset, scan } = await loadSplit(a, 'train', { requireLabels: true });
    assert.deepEqual(scan.totals, { found: 24, missing: 0, empty: 0, corrupt: 0 });
    assert.deepEqual(dataset.names, [...SYNTHETIC_CLASSES]);
    const val = await loadSplit(a, 'val');
    assert.equal(val.dataset.imFiles.length, 8);
    assert.ok(!fs.readdirSync(root).some((f) => f.includes('.tmp-')), 'no temporary folders left');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('synthetic dataset: label boxes match the drawn shapes (saturated pixels) after JPEG round trip', async () => {
  const root = tmpDir('synbox');
  try {
    const yamlFile = await ensureSyntheticDataset(root, { seed: 1, nTrain: 12, nVal: 2, imgSize: 128 });
    const { dataset } = await loadSplit(yamlFile, 'train');
    let checked = 0;
    for (let i = 0; i < dataset.imFiles.length; i++) {
      const img = await decodeImage(dataset.imFiles[i]!);
      const { width: w, height: h, data } = img;
      const l = dataset.labels[i]!;
      const boxes: number[][] = [];
      for (let k = 0; k < l.length; k += 5) {
        const [x, y, bw, bh] = [l[k + 1]! * w, l[k + 2]! * h, l[k + 3]! * w, l[k + 4]! * h];
        boxes.push([x - bw / 2, y - bh / 2, x + bw / 2, y + bh / 2]);
      }
      const sat = (x: number, y: number): boolean => {
        const o = (y * w + x) * 3;
        return Math.max(data[o]!, data[o + 1]!, data[o + 2]!) - Math.min(data[o]!, data[o + 1]!, data[o + 2]!) > 90;
      };
      // every saturated pixel lies in some box (2 px slack for JPEG chroma bleeding)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          if (sat(x, y))
            assert.ok(
              boxes.some((b) => x >= b[0]! - 2 && x <= b[2]! + 2 && y >= b[1]! - 2 && y <= b[3]! + 2),
              `${dataset.imFiles[i]}: colour outside every box at ${x},${y}`,
            );
      // an object apart from the others: its saturated pixels span its box
      boxes.forEach((b, k) => {
        const apart = boxes.every(
          (o, j) => j === k || o[2]! < b[0]! - 4 || o[0]! > b[2]! + 4 || o[3]! < b[1]! - 4 || o[1]! > b[3]! + 4,
        );
        if (!apart) return;
        let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
        for (let y = Math.max(0, Math.floor(b[1]! - 3)); y < Math.min(h, b[3]! + 3); y++)
          for (let x = Math.max(0, Math.floor(b[0]! - 3)); x < Math.min(w, b[2]! + 3); x++)
            if (sat(x, y)) {
              x1 = Math.min(x1, x);
              y1 = Math.min(y1, y);
              x2 = Math.max(x2, x + 1);
              y2 = Math.max(y2, y + 1);
            }
        const d = Math.max(Math.abs(x1 - b[0]!), Math.abs(y1 - b[1]!), Math.abs(x2 - b[2]!), Math.abs(y2 - b[3]!));
        assert.ok(
          d <= 2.5,
          `${dataset.imFiles[i]} box ${k}: drawn extent ${[x1, y1, x2, y2]} vs label ${b.map((v) => v.toFixed(1))}`,
        );
        checked++;
      });
    }
    assert.ok(checked >= 10, `checked ${checked} isolated objects`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('synthetic renderer is a pure function of (seed, split, index)', () => {
  const o = { seed: 9, nTrain: 1, nVal: 1, imgSize: 64, maxObjects: 4 };
  const a = renderSyntheticImage(9, 0, 5, o);
  const b = renderSyntheticImage(9, 0, 5, o);
  assert.deepEqual(a.objects, b.objects);
  assert.deepEqual(a.image.data, b.image.data);
  assert.notDeepEqual(renderSyntheticImage(9, 0, 6, o).objects, a.objects);
});
