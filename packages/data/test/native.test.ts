/**
 * The native addon gives the bytes of the JS/sharp path: the warp, HSV and flip kernels on
 * random inputs against their JS references, the libjpeg-turbo decode against sharp on every
 * JPEG of coco128 and shapes, and load_image's decode + resize against a process that runs
 * without the addon (YOLO_LAUNCH_DATA_NATIVE=0). Skipped, saying why, when the addon is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import sharp from 'sharp';
import { noSharedJpegs, sharedJpegs } from './helpers.js';
import { loadImageHashes, hashesWithoutAddon } from './native-hashes.js';
import {
  Rng,
  dataNative,
  dataPathDescription,
  warpImage,
  warpImageJs,
  applyHsvGains,
  applyHsvGainsJs,
  flipLr,
  flipLrJs,
  SHARP_DECODE_OPTIONS,
  type Mat3,
  type RgbImage,
} from '../src/index.js';

const skip = dataNative ? false : dataPathDescription();

function randomImage(rng: Rng, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.randint(0, 255);
  return { data, width, height };
}

/** Scale + translation, affine (rotation, shear) and perspective matrices, some far outside. */
function randomMatrix(rng: Rng, kind: number, w: number): Mat3 {
  const s = rng.uniform(0.3, 2.5);
  const t = (): number => rng.uniform(-w, w);
  if (kind === 0) return [s, 0, t(), 0, rng.uniform(0.3, 2.5), t(), 0, 0, 1];
  const a = rng.uniform(-Math.PI, Math.PI);
  const affine: Mat3 = [
    s * Math.cos(a),
    s * Math.sin(a) + rng.uniform(-0.3, 0.3),
    t(),
    -s * Math.sin(a),
    s * Math.cos(a),
    t(),
    0,
    0,
    1,
  ];
  if (kind === 1) return affine;
  return [...affine.slice(0, 6), rng.uniform(-2e-3, 2e-3), rng.uniform(-2e-3, 2e-3), 1] as Mat3;
}

test('the data path in use is reported', () => {
  const said = dataPathDescription();
  assert.match(said, dataNative ? /^native addon \(libjpeg/ : /^JS\/sharp \(native addon unavailable: /);
});

test('native warp = JS warp on 600 random images and matrices (scale, affine, perspective)', { skip }, () => {
  const rng = new Rng(7);
  for (let i = 0; i < 600; i++) {
    const src = randomImage(rng, rng.randint(1, 48), rng.randint(1, 48));
    const outW = rng.randint(1, 64);
    const outH = rng.randint(1, 64);
    const M = randomMatrix(rng, i % 3, src.width);
    const border = rng.randint(0, 255);
    const want = warpImageJs(src, M, outW, outH, border);
    const got = warpImage(src, M, outW, outH, border, new Uint8Array(outW * outH * 3).fill(7));
    assert.ok(Buffer.from(got.data).equals(Buffer.from(want.data)), `case ${i}: matrix ${M.join(', ')}`);
  }
});

test('native warp = JS warp at mosaic size (1280 canvas to 640)', { skip }, () => {
  const rng = new Rng(8);
  const src = randomImage(rng, 1280, 1280);
  for (const M of [
    [1.1, 0, -320, 0, 1.1, -300, 0, 0, 1],
    [0.9, 0.2, -310, -0.2, 0.9, -290, 0, 0, 1],
    [0.9, 0.2, -310, -0.2, 0.9, -290, 1e-4, -2e-4, 1],
  ] as Mat3[]) {
    const want = warpImageJs(src, M, 640, 640);
    assert.ok(Buffer.from(warpImage(src, M, 640, 640).data).equals(Buffer.from(want.data)), M.join(', '));
  }
});

test('native HSV = JS HSV on every 24-bit colour, and flipLr = JS', { skip }, () => {
  const all = new Uint8Array(4096 * 4096 * 3);
  for (let c = 0; c < 1 << 24; c++) {
    all[3 * c] = c >> 16;
    all[3 * c + 1] = (c >> 8) & 255;
    all[3 * c + 2] = c & 255;
  }
  const rng = new Rng(9);
  // every colour at YOLOv5's gain range; then random images at gains that zero the
  // saturation, saturate it, or push the hue past 180
  const gains: Array<[number, number, number, RgbImage]> = [
    [1.0137, 0.4123, 1.3311, { data: all, width: 4096, height: 4096 }],
  ];
  for (const [r0, r1, r2] of [
    [0.985, 1.7, 0.6],
    [1.5, 0, 2],
    [-0.7, 3, 1],
  ])
    gains.push([r0!, r1!, r2!, randomImage(rng, 256, 256)]);
  for (const [r0, r1, r2, img] of gains) {
    const got = { ...img, data: img.data.slice() };
    const want = { ...img, data: img.data.slice() };
    applyHsvGains(got, r0, r1, r2);
    applyHsvGainsJs(want, r0, r1, r2);
    assert.ok(Buffer.from(got.data).equals(Buffer.from(want.data)), `gains ${r0} ${r1} ${r2}`);
  }
  for (let i = 0; i < 50; i++) {
    const img = randomImage(rng, rng.randint(1, 40), rng.randint(1, 40));
    const ref = { ...img, data: img.data.slice() };
    flipLr(img);
    flipLrJs(ref);
    assert.ok(Buffer.from(img.data).equals(Buffer.from(ref.data)));
  }
});

const jpegs = sharedJpegs(['coco128', 'shapes']);
const noJpegs = noSharedJpegs(jpegs, ['coco128', 'shapes']);

test(
  'native JPEG decode = sharp, every coco128 and shapes JPEG at 1/1 and 1/2 (shapes also 1/4, 1/8)',
  { skip: skip || noJpegs },
  async () => {
    let native = 0;
    for (const file of jpegs) {
      const bytes = fs.readFileSync(file);
      for (const scale of (file.includes('coco128') ? [1, 2] : [1, 2, 4, 8]) as Array<1 | 2 | 4 | 8>) {
        const got = await dataNative!.decodeJpeg(bytes, scale);
        if (!got) continue; // EXIF rotation, CMYK, ...: sharp decodes these
        native++;
        const input = scale > 1 ? `${file}[shrink=${scale}]` : bytes;
        const { data, info } = await sharp(input, SHARP_DECODE_OPTIONS)
          .autoOrient()
          .removeAlpha()
          .toColourspace('srgb')
          .raw()
          .toBuffer({ resolveWithObject: true });
        assert.deepEqual([got.width, got.height], [info.width, info.height], `${file} at 1/${scale}`);
        assert.ok(Buffer.from(got.data).equals(data), `${file} at 1/${scale}: pixels differ`);
      }
    }
    assert.ok(native > jpegs.length, `only ${native} decodes were native`);
  },
);

// the bench's sizes (coco128's photos are mostly 640 wide: 1/2-scale decodes at 320) and an odd one
const SIZES = [640, 320, 416];

test(
  'load_image (decode + resize) with the addon = without it, coco128 at 640, 320, 416',
  { skip: skip || noJpegs },
  async () => {
    const files = jpegs.filter((f) => f.includes('coco128'));
    const here = await loadImageHashes(files, SIZES);
    const there = hashesWithoutAddon(files, SIZES);
    assert.match(there.path, /^JS\/sharp/);
    for (let i = 0; i < here.length; i++)
      assert.equal(here[i], there.hashes[i], `${files[Math.floor(i / SIZES.length)]} at ${SIZES[i % SIZES.length]}`);
  },
);
