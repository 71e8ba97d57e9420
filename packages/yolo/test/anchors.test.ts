/**
 * anchors/ fixtures: the check_anchors metric (bpr, aat, wh, best ratio, recompute decision)
 * and kmean_anchors' anchor_fitness on coco128. The coco128 labels and image sizes come from
 * the data/ fixture (verify_image_label output, images sorted by path), which is exactly what
 * upstream's dataset held.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { anchorFitness, anchorMetric, checkAnchors, kmeanAnchors, labelWh, type AnchorDataset } from '../src/index.js';
import { assertClose, f32, fixturesDir, loadFixtures, tol, type FixtureTensor } from './helpers.js';

interface VerifiedImage {
  stem: string;
  shape_wh: [number, number];
  labels: FixtureTensor;
}

function coco128(): AnchorDataset {
  const file = path.join(fixturesDir, 'data', 'data-verify-coco128.json');
  const d = JSON.parse(readFileSync(file, 'utf8')) as { expected: { images: VerifiedImage[] } };
  const imgs = [...d.expected.images].sort((a, b) => (a.stem < b.stem ? -1 : 1));
  return { shapes: Float64Array.from(imgs.flatMap((i) => i.shape_wh)), labels: imgs.map((i) => f32(i.labels)) };
}

const ds = coco128();

for (const fx of loadFixtures('anchors')) {
  test(`anchors fixture ${fx.file}`, () => {
    assert.equal(fx.kind, 'anchors');
    const inp = fx.inputs;
    if ('anchors_pixels' in inp) {
      const shapes = inp.image_shapes_wh as FixtureTensor;
      assert.deepEqual(
        Array.from(ds.shapes),
        shapes.data,
        'image sizes of the data fixture = the ones check_anchors saw',
      );
      const thr = Number(inp.thr);
      const imgsz = Number(inp.imgsz);
      const anchors = f32(inp.anchors_pixels as FixtureTensor);
      const wh = labelWh(ds, imgsz);
      const e = fx.expected as {
        bpr: number;
        aat: number;
        n_labels: number;
        wh: FixtureTensor;
        best_ratio_per_label: FixtureTensor;
        would_recompute_anchors: boolean;
      };
      assert.equal(wh.length / 2, e.n_labels, 'label count');
      assertClose(wh, f32(e.wh), tol(fx, 'wh'), 'wh');
      const m = anchorMetric(wh, anchors, thr);
      assertClose([m.bpr, m.aat], [e.bpr, e.aat], tol(fx, 'bpr_aat'), 'bpr, aat');
      assertClose(m.best, f32(e.best_ratio_per_label), { abs: 1e-6 }, 'best ratio per label');
      const res = checkAnchors(ds, anchors, { thr, imgsz, scaleAugment: false, gen: 200 });
      assert.equal(res.recompute, e.would_recompute_anchors, 'recompute decision');
      if (res.replaced)
        assert.ok(anchorMetric(wh, res.anchors, thr).bpr > m.bpr, 'replacement anchors must improve bpr');
    } else if ('anchor_sets' in inp) {
      const imgSize = Number(inp.img_size);
      const thr = Number(inp.thr);
      const wh0 = labelWh(ds, imgSize);
      const keep: number[] = [];
      for (let i = 0; i < wh0.length / 2; i++)
        if (wh0[i * 2]! >= 2 || wh0[i * 2 + 1]! >= 2) keep.push(wh0[i * 2]!, wh0[i * 2 + 1]!);
      assert.equal(wh0.length / 2, Number(inp.n_labels_total));
      assert.equal(keep.length / 2, Number(inp.n_labels_after_filter));
      const wh = Float32Array.from(keep);
      const sets = inp.anchor_sets as Record<string, FixtureTensor>;
      const exp = fx.expected.fitness as Record<string, number>;
      for (const [name, k] of Object.entries(sets))
        assertClose([anchorFitness(wh, f32(k), thr)], [exp[name]!], tol(fx, 'fitness'), `fitness ${name}`);
    } else assert.fail(`${fx.file}: unrecognised anchors inputs ${Object.keys(inp).join(', ')}`);
  });
}

test('kmean_anchors is seeded, sorted by area, and its evolution improves on plain k-means', () => {
  const a = kmeanAnchors(ds, { n: 9, imgSize: 640, thr: 4, gen: 300, seed: 1 });
  const b = kmeanAnchors(ds, { n: 9, imgSize: 640, thr: 4, gen: 300, seed: 1 });
  assert.deepEqual(Array.from(a), Array.from(b), 'same seed, same anchors');
  for (let i = 1; i < 9; i++)
    assert.ok(a[i * 2]! * a[i * 2 + 1]! >= a[(i - 1) * 2]! * a[(i - 1) * 2 + 1]!, 'sorted by area');
  const wh = labelWh(ds, 640);
  const start = kmeanAnchors(ds, { n: 9, imgSize: 640, thr: 4, gen: 0, seed: 1 });
  assert.ok(anchorFitness(wh, a, 4) > anchorFitness(wh, start, 4), 'evolution improves anchor_fitness');
  assert.ok(anchorMetric(wh, a, 4).bpr > 0.95, 'evolved anchors recall the labels');
});
