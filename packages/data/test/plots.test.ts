/** labels.jpg and train_batch*.jpg are written as real JPEGs of the expected size, with boxes drawn. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { tmpDir } from './helpers.js';
import { plotLabels, plotBatch, collate } from '../src/index.js';

test('plotLabels and plotBatch write JPEGs with the drawn content', async () => {
  const dir = tmpDir('plots');
  try {
    const labels = [
      Float32Array.from([0, 0.5, 0.5, 0.2, 0.3, 1, 0.2, 0.3, 0.1, 0.1]),
      Float32Array.from([2, 0.7, 0.7, 0.4, 0.2]),
    ];
    await plotLabels({ labels, names: ['a', 'b', 'c'] }, path.join(dir, 'labels.jpg'));
    const m = await sharp(path.join(dir, 'labels.jpg')).metadata();
    assert.equal(m.format, 'jpeg');
    assert.deepEqual([m.width, m.height], [1600, 1600]);
    // a batch of two grey 64x64 images with one box: the box outline shows up in the plot
    const img = { data: new Uint8Array(64 * 64 * 3).fill(128), width: 64, height: 64 };
    const batch = collate([
      { image: img, labels: Float32Array.from([0, 0.5, 0.5, 0.5, 0.5]), path: '/x/a.jpg', shape: null },
      { image: img, labels: new Float32Array(0), path: '/x/b.jpg', shape: null },
    ]);
    const file = path.join(dir, 'train_batch0.jpg');
    await plotBatch(batch, ['a'], file);
    const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [128, 64]);
    // left edge of the box at x=16, y=40 (below the label tag) is class 0's red, the plain image is grey
    const px = (x: number, y: number): number[] => [
      ...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3),
    ];
    const [r, g] = px(16, 40);
    assert.ok(r! > 180 && g! < 120, `box edge colour ${px(16, 40)}`);
    const [r2, g2] = px(96, 40);
    assert.ok(Math.abs(r2! - g2!) < 20, `second image untouched ${px(96, 40)}`);
    assert.ok(fs.statSync(file).size > 500);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
