/** Augmentations keep boxes inside the image and on the pixels they label; determinism. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { tmpDir } from './helpers.js';
import {
  loadSplit,
  ImageStore,
  getSample,
  sampleRng,
  DEFAULT_HYP,
  collate,
  collateQuad,
  Rng,
  rectBatchShape,
  warpImage,
  boxCandidate,
  letterboxGeometry,
  applyHsvGains,
  type AugmentHyp,
  type Sample,
} from '../src/index.js';

/** A dataset whose images hold one red rectangle each on grey, in PNG (no JPEG blur). */
async function makeRectDataset(root: string, n: number): Promise<string> {
  fs.mkdirSync(path.join(root, 'images'), { recursive: true });
  fs.mkdirSync(path.join(root, 'labels'), { recursive: true });
  const rng = new Rng(42);
  for (let i = 0; i < n; i++) {
    const w = rng.randint(120, 220);
    const h = rng.randint(100, 200);
    const bw = rng.randint(20, Math.floor(w / 2));
    const bh = rng.randint(20, Math.floor(h / 2));
    const x1 = rng.randint(0, w - bw);
    const y1 = rng.randint(0, h - bh);
    const px = Buffer.alloc(w * h * 3, 60);
    for (let y = y1; y < y1 + bh; y++)
      for (let x = x1; x < x1 + bw; x++) {
        const o = (y * w + x) * 3;
        px[o] = 230;
        px[o + 1] = 30;
        px[o + 2] = 30;
      }
    const name = `r${String(i).padStart(3, '0')}`;
    await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toFile(path.join(root, 'images', `${name}.png`));
    fs.writeFileSync(
      path.join(root, 'labels', `${name}.txt`),
      `0 ${(x1 + bw / 2) / w} ${(y1 + bh / 2) / h} ${bw / w} ${bh / h}\n`,
    );
  }
  const y = path.join(root, 'rects.yaml');
  fs.writeFileSync(y, 'path: .\ntrain: images\nval: images\nnames: [red]\n');
  return y;
}

const red = (d: Uint8Array, o: number): boolean => d[o]! - d[o + 1]! > 40;

/** Checks each box against the red pixels: the box holds red and the red extent near it matches it. */
function checkSample(s: Sample, what: string): void {
  const { width: W, height: H, data } = s.image;
  assert.equal(s.labels.length % 5, 0);
  const boxes: number[][] = [];
  for (let k = 0; k < s.labels.length; k += 5) {
    const [c, x, y, w, h] = s.labels.subarray(k, k + 5);
    assert.equal(c, 0);
    assert.ok(
      x! - w! / 2 >= -1e-6 && x! + w! / 2 <= 1 + 1e-6 && y! - h! / 2 >= -1e-6 && y! + h! / 2 <= 1 + 1e-6,
      `${what}: box outside the image ${[x, y, w, h]}`,
    );
    assert.ok(w! > 0 && h! > 0, `${what}: empty box`);
    boxes.push([(x! - w! / 2) * W, (y! - h! / 2) * H, (x! + w! / 2) * W, (y! + h! / 2) * H]);
  }
  for (const b of boxes) {
    let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
    for (let y = Math.max(0, Math.floor(b[1]! - 3)); y < Math.min(H, Math.ceil(b[3]! + 3)); y++)
      for (let x = Math.max(0, Math.floor(b[0]! - 3)); x < Math.min(W, Math.ceil(b[2]! + 3)); x++)
        if (red(data, (y * W + x) * 3)) {
          x1 = Math.min(x1, x);
          y1 = Math.min(y1, y);
          x2 = Math.max(x2, x + 1);
          y2 = Math.max(y2, y + 1);
        }
    assert.ok(Number.isFinite(x1), `${what}: no red pixel inside box ${b.map((v) => v.toFixed(1))}`);
    // the box covers the rectangle (2 px slack for bilinear edges)
    const out = Math.max(b[0]! - x1, b[1]! - y1, x2 - b[2]!, y2 - b[3]!);
    assert.ok(out <= 2, `${what}: red extent ${[x1, y1, x2, y2]} not covered by box ${b.map((v) => v.toFixed(1))}`);
    // and is tight when it does not touch the border (a rotated corner cut off by the
    // window leaves the clipped corner extent, as in YOLOv5)
    if (b[0]! > 1 && b[1]! > 1 && b[2]! < W - 1 && b[3]! < H - 1) {
      const d = Math.max(Math.abs(x1 - b[0]!), Math.abs(y1 - b[1]!), Math.abs(x2 - b[2]!), Math.abs(y2 - b[3]!));
      assert.ok(
        d <= 3,
        `${what}: red extent ${[x1, y1, x2, y2]} vs box ${b.map((v) => v.toFixed(1))} (off by ${d.toFixed(1)} px)`,
      );
    }
  }
}

const strongHyp: AugmentHyp = {
  ...DEFAULT_HYP,
  degrees: 15,
  translate: 0.1,
  scale: 0.5,
  shear: 5,
  perspective: 0.0005,
  flipud: 0.5,
  fliplr: 0.5,
  hsv_s: 0.4,
  hsv_v: 0.3,
  mixup: 0,
};

test('mosaic + random_perspective + flips + HSV: boxes inside the image and on the drawn rectangle', async () => {
  const root = tmpDir('rects');
  try {
    const { dataset } = await loadSplit(await makeRectDataset(root, 12), 'train');
    for (const imgsz of [128, 160]) {
      const store = new ImageStore(dataset, imgsz);
      let boxes = 0;
      for (let i = 0; i < 24; i++) {
        const s = await getSample(
          store,
          i % dataset.imFiles.length,
          { augment: true, hyp: strongHyp, mosaic: true },
          sampleRng(7, 0, i),
        );
        assert.deepEqual([s.image.width, s.image.height], [imgsz, imgsz]);
        checkSample(s, `mosaic ${imgsz} #${i}`);
        boxes += s.labels.length / 5;
      }
      assert.ok(boxes > 24, `enough boxes survived (${boxes})`);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('letterbox path (train without mosaic, and val with rect shapes): boxes on the rectangle, shape info', async () => {
  const root = tmpDir('rects2');
  try {
    const { dataset } = await loadSplit(await makeRectDataset(root, 6), 'train');
    const store = new ImageStore(dataset, 160);
    for (let i = 0; i < dataset.imFiles.length; i++) {
      const t = await getSample(store, i, { augment: true, hyp: strongHyp, mosaic: false }, sampleRng(1, 0, i));
      checkSample(t, `train-letterbox #${i}`);
      const shape = rectBatchShape([dataset.shapes[i]!], 160, 32, 0.5);
      const v = await getSample(
        store,
        i,
        { augment: false, hyp: DEFAULT_HYP, mosaic: false, shape },
        sampleRng(1, 0, i),
      );
      assert.deepEqual([v.image.height, v.image.width], shape);
      checkSample(v, `val #${i}`);
      // validation labels are the file's boxes mapped through the letterbox exactly
      const [w0, h0] = dataset.shapes[i]!;
      assert.deepEqual(v.shape!.shape0, [h0, w0]);
      const lb = dataset.labels[i]!;
      const gain = v.shape!.ratioPad[0][1];
      const [padw, padh] = v.shape!.ratioPad[1];
      assert.ok(Math.abs(v.labels[1]! * shape[1] - (lb[1]! * w0 * gain + padw)) < 1e-3);
      assert.ok(Math.abs(v.labels[2]! * shape[0] - (lb[2]! * h0 * v.shape!.ratioPad[0][0] + padh)) < 1e-3);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('same seed gives the same samples; another seed or epoch gives others', async () => {
  const root = tmpDir('det');
  try {
    const { dataset } = await loadSplit(await makeRectDataset(root, 8), 'train');
    const hyp = { ...strongHyp, mixup: 0.5 };
    const run = async (seed: number, epoch: number): Promise<Sample[]> => {
      const store = new ImageStore(dataset, 128);
      const out: Sample[] = [];
      for (let i = 0; i < 6; i++)
        out.push(await getSample(store, i, { augment: true, hyp, mosaic: true }, sampleRng(seed, epoch, i)));
      return out;
    };
    const a = collate(await run(3, 1));
    const b = collate(await run(3, 1));
    assert.deepEqual(a.images, b.images);
    assert.deepEqual(a.targets, b.targets);
    assert.notDeepEqual(collate(await run(4, 1)).images, a.images);
    assert.notDeepEqual(collate(await run(3, 2)).images, a.images);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('quad collate: 2x images, labels rescaled onto the same pixels', async () => {
  const root = tmpDir('quad');
  try {
    const { dataset } = await loadSplit(await makeRectDataset(root, 8), 'train');
    const store = new ImageStore(dataset, 96);
    const samples: Sample[] = [];
    for (let i = 0; i < 8; i++)
      samples.push(await getSample(store, i, { augment: false, hyp: DEFAULT_HYP, mosaic: false }, sampleRng(0, 0, i)));
    for (const seed of [0, 1, 2, 3]) {
      const q = await collateQuad(samples, new Rng(seed));
      assert.deepEqual(q.shape, [2, 192, 192, 3]);
      for (let i = 0; i < 2; i++) {
        const rows: number[] = [];
        for (let k = 0; k < q.targets.length; k += 6)
          if (q.targets[k] === i) rows.push(...q.targets.subarray(k + 1, k + 6));
        checkSample(
          {
            image: { data: q.images.subarray(i * 192 * 192 * 3, (i + 1) * 192 * 192 * 3), width: 192, height: 192 },
            labels: Float32Array.from(rows),
            path: '',
            shape: null,
          },
          `quad seed ${seed} image ${i}`,
        );
      }
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('EXIF orientation 6: verified size swapped, loaded pixels upright and on the label', async () => {
  const root = tmpDir('exif');
  try {
    fs.mkdirSync(path.join(root, 'images'), { recursive: true });
    fs.mkdirSync(path.join(root, 'labels'), { recursive: true });
    // displayed image 120 wide x 80 high with a red rectangle at x 10..50, y 20..40
    const [W, H] = [120, 80];
    const px = Buffer.alloc(W * H * 3, 60);
    for (let y = 20; y < 40; y++) for (let x = 10; x < 50; x++) px.set([230, 30, 30], (y * W + x) * 3);
    // stored rotated 90 degrees counter-clockwise; orientation 6 tells viewers to turn it back
    const stored = await sharp(px, { raw: { width: W, height: H, channels: 3 } })
      .rotate(-90)
      .png()
      .toBuffer();
    await sharp(stored)
      .withMetadata({ orientation: 6 })
      .jpeg({ quality: 98 })
      .toFile(path.join(root, 'images', 'rot.jpg'));
    fs.writeFileSync(path.join(root, 'labels', 'rot.txt'), `0 ${30 / W} ${30 / H} ${40 / W} ${20 / H}\n`);
    fs.writeFileSync(path.join(root, 'd.yaml'), 'path: .\ntrain: images\nval: images\nnames: [red]\n');
    const { dataset } = await loadSplit(path.join(root, 'd.yaml'), 'train');
    assert.deepEqual(dataset.shapes[0], [W, H]);
    const store = new ImageStore(dataset, 120);
    const s = await getSample(
      store,
      0,
      { augment: false, hyp: DEFAULT_HYP, mosaic: false, shape: [96, 128] },
      sampleRng(0, 0, 0),
    );
    checkSample(s, 'exif-rotated');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('warp matches an integer translation exactly; box_candidates thresholds; rect batch shapes', () => {
  const src = { data: new Uint8Array(8 * 6 * 3).map((_, i) => (i * 37) % 251), width: 8, height: 6 };
  const out = warpImage(src, [1, 0, 2, 0, 1, 1, 0, 0, 1], 8, 6);
  for (let y = 0; y < 6; y++)
    for (let x = 0; x < 8; x++)
      for (let c = 0; c < 3; c++) {
        const want = x >= 2 && y >= 1 ? src.data[((y - 1) * 8 + (x - 2)) * 3 + c] : 114;
        assert.equal(out.data[(y * 8 + x) * 3 + c], want, `${x},${y}`);
      }
  assert.equal(boxCandidate([0, 0, 10, 10], [0, 0, 10, 10]), true);
  assert.equal(boxCandidate([0, 0, 10, 10], [0, 0, 2, 10]), false, 'width <= 2 px');
  assert.equal(boxCandidate([0, 0, 100, 100], [0, 0, 30, 30]), false, 'area below 10%');
  // YOLOv5 rect shapes: wide images -> (h, w) with h < w; val pad 0.5
  assert.deepEqual(
    rectBatchShape(
      [
        [640, 480],
        [640, 427],
      ],
      640,
      32,
      0.0,
    ),
    [480, 640],
  );
  assert.deepEqual(
    rectBatchShape(
      [
        [640, 480],
        [640, 427],
      ],
      640,
      32,
      0.5,
    ),
    [512, 672],
  );
  assert.deepEqual(rectBatchShape([[480, 640]], 640, 32, 0.0), [640, 480]);
  assert.deepEqual(letterboxGeometry([480, 640], [480, 640], { auto: false, scaleup: false }).outShape, [480, 640]);
});

test('HSV: unit gains give the image back (8-bit HSV round trip), zero saturation gives grey = max channel, hue rotates', () => {
  const rng = new Rng(5);
  const data = new Uint8Array(3 * 4096).map(() => rng.randint(0, 255));
  const img = { data: Uint8Array.from(data), width: 64, height: 64 };
  applyHsvGains(img, 1, 1, 1);
  let worst = 0;
  for (let i = 0; i < data.length; i++) worst = Math.max(worst, Math.abs(img.data[i]! - data[i]!));
  // hue is stored in 2-degree steps (0..179): up to ~4.3 levels per degree at full saturation, as in OpenCV
  assert.ok(worst <= 6, `round trip error ${worst}`);
  const grey = { data: Uint8Array.from(data), width: 64, height: 64 };
  applyHsvGains(grey, 1, 0, 1);
  for (let o = 0; o < data.length; o += 3) {
    const v = Math.max(data[o]!, data[o + 1]!, data[o + 2]!);
    assert.deepEqual([...grey.data.subarray(o, o + 3)], [v, v, v]);
  }
  // pure red has hue 0 and stays red for any hue gain; pure green (H=60 in OpenCV units) times 2 -> H=120: blue
  const px = { data: Uint8Array.from([255, 0, 0, 0, 255, 0]), width: 2, height: 1 };
  applyHsvGains(px, 2, 1, 1);
  assert.deepEqual([...px.data], [255, 0, 0, 0, 0, 255]);
});
