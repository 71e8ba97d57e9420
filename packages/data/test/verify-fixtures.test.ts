/** verify_image_label against the data/ fixtures: coco128 per image and the synthetic edge cases. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { loadFixtures, coco128Yaml, tmpDir, close, type FixtureTensor } from './helpers.js';
import {
  loadDatasetYaml,
  listImageFiles,
  scanLabels,
  verifyImageLabel,
  labelsToClassWeights,
  labelsToImageWeights,
  imageWeightsClassWeights,
  loadSplit,
} from '../src/index.js';

const fixtures = loadFixtures('data');

function assertLabels(got: Float32Array, want: FixtureTensor | null, abs: number, what: string): void {
  const data = want ? want.data : [];
  assert.equal(got.length, data.length, `${what}: label count`);
  for (let i = 0; i < data.length; i++)
    assert.ok(close(got[i]!, data[i]!, abs), `${what}: label value ${i}: got ${got[i]} want ${data[i]}`);
}

interface CaseInput {
  name: string;
  image_file: string;
  label_file: string;
  image: {
    format?: string;
    width?: number;
    height?: number;
    truncated_trailing_bytes?: number;
    appended_bytes_hex?: string;
    exif_orientation?: number;
    bytes?: string;
  };
  label_text: string | null;
}

/** Recreates one edge-case image file as the fixture's inputs describe it. */
async function makeCaseImage(file: string, spec: CaseInput['image']): Promise<void> {
  if (spec.bytes !== undefined) {
    const m = /'(.*)'/.exec(spec.bytes);
    const text = (m ? m[1]! : 'this is not an image\\n').replace(/\\n/g, '\n');
    const times = Number(/repeated (\d+)/.exec(spec.bytes)?.[1] ?? 1);
    fs.writeFileSync(file, text.repeat(times));
    return;
  }
  const w = spec.width!;
  const h = spec.height!;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      px[o] = (x * 7) % 256;
      px[o + 1] = (y * 5) % 256;
      px[o + 2] = (x + y) % 256;
    }
  let s = sharp(px, { raw: { width: w, height: h, channels: 3 } });
  let buf: Buffer;
  if (spec.format === 'PNG') buf = await s.png().toBuffer();
  else {
    if (spec.exif_orientation) s = s.withMetadata({ orientation: spec.exif_orientation });
    buf = await s.jpeg({ quality: 95 }).toBuffer();
  }
  if (spec.truncated_trailing_bytes) buf = buf.subarray(0, buf.length - spec.truncated_trailing_bytes);
  if (spec.appended_bytes_hex) buf = Buffer.concat([buf, Buffer.from(spec.appended_bytes_hex, 'hex')]);
  fs.writeFileSync(file, buf);
}

for (const fx of fixtures) {
  if (fx.case === 'verify-coco128' || (fx.expected.images && fx.expected.totals)) {
    test(`data fixture ${fx.file}: verify_image_label on coco128 per image and totals`, async () => {
      const cfg = loadDatasetYaml(coco128Yaml);
      const ims = listImageFiles(cfg.train);
      const expImages = fx.expected.images as Array<{
        stem: string;
        n_labels: number;
        shape_wh: [number, number];
        labels: FixtureTensor;
        nm_nf_ne_nc: number[];
      }>;
      assert.equal(ims.length, expImages.length);
      // readCache false: verify now; writeCache false: never write into ../shared
      const scan = await scanLabels(ims, cfg.train, { nc: cfg.nc, readCache: false, writeCache: false });
      expImages.forEach((e, i) => {
        const r = scan.results[i]!;
        assert.equal(path.basename(r.imFile).replace(/\.[^.]+$/, ''), e.stem);
        assert.deepEqual([r.nm, r.nf, r.ne, r.nc], e.nm_nf_ne_nc, e.stem);
        assert.deepEqual(r.shape, e.shape_wh, e.stem);
        assert.equal(r.nLabels, e.n_labels, e.stem);
        assertLabels(r.labels, e.labels ? { ...e.labels, data: e.labels.data.map(Math.fround) } : null, 0, e.stem); // exact as float32
      });
      const t = fx.expected.totals as { found: number; missing: number; empty: number; corrupt: number };
      assert.deepEqual(scan.totals, t);
      assert.match(
        scan.summary,
        new RegExp(`${t.found} images, ${t.missing} missing labels, ${t.empty} empty, ${t.corrupt} corrupt$`),
      );
      if (fx.expected.n_labels_total !== undefined) {
        assert.equal(
          scan.results.reduce((s, r) => s + r.nLabels, 0),
          fx.expected.n_labels_total,
        );
      }
    });
  } else if (fx.expected.class_weights) {
    test(`data fixture ${fx.file}: labels_to_class_weights / labels_to_image_weights`, async () => {
      const { dataset } = await loadSplit(coco128Yaml, 'train', { writeCache: false });
      const nc = Number(fx.inputs.nc);
      const rel = (fx.tolerance.class_weights as { rel: number }).rel;
      const relIw = (fx.tolerance.image_weights as { rel: number }).rel;
      const cw = labelsToClassWeights(dataset.labels, nc);
      const want = fx.expected.class_weights as FixtureTensor;
      want.data.forEach((v, i) => assert.ok(close(cw[i]!, v, 0, rel), `class_weights[${i}] ${cw[i]} vs ${v}`));
      const cmp = (got: Float64Array, t: FixtureTensor, what: string): void => {
        assert.equal(got.length, t.data.length);
        t.data.forEach((v, i) => assert.ok(close(got[i]!, v, 1e-12, relIw), `${what}[${i}] ${got[i]} vs ${v}`));
      };
      if (fx.expected.image_weights_uniform)
        cmp(labelsToImageWeights(dataset.labels, nc), fx.expected.image_weights_uniform as FixtureTensor, 'uniform');
      if (fx.expected.image_weights_train && fx.inputs.maps) {
        const trainCw = imageWeightsClassWeights(cw, (fx.inputs.maps as FixtureTensor).data);
        if (fx.expected.class_weights_train) {
          (fx.expected.class_weights_train as FixtureTensor).data.forEach((v, i) =>
            assert.ok(close(trainCw[i]!, v, 1e-12, rel), `cw_train[${i}]`),
          );
        }
        cmp(
          labelsToImageWeights(dataset.labels, nc, trainCw),
          fx.expected.image_weights_train as FixtureTensor,
          'train',
        );
      }
    });
  } else if (Array.isArray(fx.inputs.cases)) {
    test(`data fixture ${fx.file}: every verify_image_label branch on recreated files`, async () => {
      const dir = tmpDir('edge');
      try {
        fs.mkdirSync(path.join(dir, 'images'));
        fs.mkdirSync(path.join(dir, 'labels'));
        const cases = fx.inputs.cases as CaseInput[];
        const expected = fx.expected.cases as Array<{
          status: string;
          nm_nf_ne_nc: number[];
          n_labels: number | null;
          labels: FixtureTensor | null;
          shape_wh: [number, number] | null;
          n_segments: number | null;
          file_ends_with_ffd9_afterwards: boolean | null;
        }>;
        const abs = (fx.tolerance.labels as { abs: number } | undefined)?.abs ?? 1e-6;
        for (const [k, c] of cases.entries()) {
          const e = expected[k]!;
          const im = path.join(dir, 'images', c.image_file);
          const lb = path.join(dir, 'labels', c.label_file);
          await makeCaseImage(im, c.image);
          if (c.label_text !== null) fs.writeFileSync(lb, c.label_text);
          const r = await verifyImageLabel(im, lb);
          const what = `${c.name}: ${r.message}`;
          assert.deepEqual([r.nm, r.nf, r.ne, r.nc], e.nm_nf_ne_nc, what);
          const status = e.status === 'duplicates_removed' || e.status === 'jpeg_restored' ? 'ok' : e.status;
          assert.equal(r.status, status, what);
          if (e.status === 'duplicates_removed') assert.match(r.message, /duplicate labels removed/, what);
          if (e.status === 'jpeg_restored') assert.match(r.message, /corrupt JPEG restored and saved/, what);
          if (e.status === 'corrupt') assert.match(r.message, /ignoring corrupt image\/label/, what);
          assert.deepEqual(r.shape, e.shape_wh, what);
          if (e.n_labels !== null) assert.equal(r.nLabels, e.n_labels, what);
          if (e.n_segments !== null) assert.equal(r.segments.length, e.n_segments, what);
          assertLabels(r.labels, e.labels, abs, c.name);
          if (e.file_ends_with_ffd9_afterwards !== null) {
            const b = fs.readFileSync(im);
            assert.equal(b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9, e.file_ends_with_ffd9_afterwards, what);
          }
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  } else {
    test(`data fixture ${fx.file}: unknown case shape`, () => {
      assert.fail(`no handler for data fixture ${fx.file}; add one`);
    });
  }
}
