// The pure pieces of val and detect: which batches a rank runs, YOLOv5's txt and JSON lines,
// and --source listing (folders, globs, videos and empty sources refused).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ownedBatches, ownedIndices } from '@yolo-launch/train';
import { cocoRecords, labelLines, listSource } from '../src/index.js';

test('every batch of the one-rank run goes to exactly one rank, whole and in order', () => {
  for (const [n, batch] of [
    [128, 32],
    [100, 16],
    [7, 8],
    [33, 4],
  ] as const)
    for (const world of [1, 2, 3, 5]) {
      const seen: number[] = [];
      for (let rank = 0; rank < world; rank++) {
        const batches = ownedBatches(n, batch, { rank, world });
        const indices = ownedIndices(n, batch, batches);
        // cut every `batch` items, the indices are exactly the owned batches
        batches.forEach((b, j) =>
          assert.deepEqual(
            indices.slice(j * batch, (j + 1) * batch),
            Array.from({ length: Math.min(n, (b + 1) * batch) - b * batch }, (_, i) => b * batch + i),
          ),
        );
        seen.push(...indices);
      }
      assert.deepEqual(
        seen.sort((a, b) => a - b),
        Array.from({ length: n }, (_, i) => i),
        `n ${n} batch ${batch} world ${world}`,
      );
    }
});

test("labels/*.txt lines as save_one_txt writes them ('%g', normalised xywh, optional conf)", () => {
  const det = [10, 20, 30, 60, 0.87654321, 2, 0, 0, 640, 480, 0.5, 0];
  assert.equal(labelLines(det, [480, 640], false), '2 0.03125 0.0833333 0.03125 0.0833333\n0 0.5 0.5 1 1\n');
  assert.equal(labelLines(det, [480, 640], true).split('\n')[0], '2 0.03125 0.0833333 0.03125 0.0833333 0.876543');
});

test('COCO JSON records: numeric stems become ids, top-left xywh rounded to 3, score to 5, coco91 ids for COCO', () => {
  const det = [10.12345, 20, 30, 60, 0.876543, 0, 1, 1, 2, 2, 0.5, 11];
  assert.deepEqual(cocoRecords(det, '/x/000000000042.jpg', false), [
    { image_id: 42, category_id: 0, bbox: [10.123, 20, 19.877, 40], score: 0.87654 },
    { image_id: 42, category_id: 11, bbox: [1, 1, 1, 1], score: 0.5 },
  ]);
  assert.equal(cocoRecords(det, '/x/a.jpg', true)[1]!.category_id, 13, 'class 11 is COCO id 13');
  assert.equal(cocoRecords(det, '/x/a.jpg', false)[0]!.image_id, 'a');
});

test('--source: an image, a folder, a glob; videos, URLs and empty sources refused', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infer-src-'));
  try {
    fs.mkdirSync(path.join(dir, 'sub'));
    for (const f of ['b.jpg', 'a.png', 'notes.txt', 'sub/c.jpg']) fs.writeFileSync(path.join(dir, f), '');
    assert.deepEqual(listSource(dir), [path.join(dir, 'a.png'), path.join(dir, 'b.jpg')]);
    assert.deepEqual(listSource(path.join(dir, 'b.jpg')), [path.join(dir, 'b.jpg')]);
    assert.deepEqual(listSource(path.join(dir, '*.jpg')), [path.join(dir, 'b.jpg')]);
    assert.deepEqual(listSource(path.join(dir, '**', '*.jpg')), [
      path.join(dir, 'b.jpg'),
      path.join(dir, 'sub', 'c.jpg'),
    ]);
    assert.throws(() => listSource(path.join(dir, '*.gif')), /no images found/);
    fs.writeFileSync(path.join(dir, 'clip.mp4'), '');
    assert.throws(() => listSource(path.join(dir, 'clip.mp4')), /is a video/);
    assert.throws(() => listSource('https://x/y.jpg'), /not supported/);
    assert.throws(() => listSource(path.join(dir, 'missing')), /does not exist/);
    fs.mkdirSync(path.join(dir, 'empty'));
    assert.throws(() => listSource(path.join(dir, 'empty')), /no images found/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
