/**
 * The native resize (native/resize.c) gives sharp's bytes for resize(w, h, { fit: 'fill',
 * kernel: 'linear' }): on coco128 and shapes images at the sizes load_image asks for (from the
 * full-size decode, as the disk cache resizes, and from the DCT-scaled decode decodeResized
 * makes), and on random noise with random size pairs (upscales, 1-pixel sides, odd ratios, box
 * shrinks). A size pair the addon declines must be one it says it declines (one axis shrinking
 * while the other grows); every other pair must be native. The committed run takes a sample of
 * the images and 400 pairs; YOLO_LAUNCH_RESIZE_TEST_ALL=1 takes every image and 4000 pairs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { noSharedJpegs, sharedJpegs } from './helpers.js';
import {
  Rng,
  SHARP_DECODE_OPTIONS,
  dataNative,
  dataPathDescription,
  resizeSharp,
  resizedSize,
  type RgbImage,
} from '../src/index.js';

const skip = dataNative ? false : dataPathDescription();
const all = process.env.YOLO_LAUNCH_RESIZE_TEST_ALL === '1';

/** Every image, or an even sample of about `n` (the committed test stays fast). */
function sample<T>(items: T[], n: number): T[] {
  if (all || items.length <= n) return items;
  const step = items.length / n;
  return Array.from({ length: n }, (_, i) => items[Math.floor(i * step)]!);
}

/** The addon's resize, or null where it declines. */
function nativeResize(img: RgbImage, width: number, height: number): RgbImage | null {
  const data = new Uint8Array(width * height * 3);
  return dataNative!.resizeRgb(img.data, img.width, img.height, data, width, height) ? { data, width, height } : null;
}

/** One axis shrinks while the other grows: the pairs resize.c may decline (see its header). */
function mixed(img: RgbImage, width: number, height: number): boolean {
  const sx = width / img.width;
  const sy = height / img.height;
  return (sx < 1 && sy > 1) || (sx > 1 && sy < 1);
}

async function assertSameAsSharp(img: RgbImage, width: number, height: number, what: string): Promise<boolean> {
  const got = nativeResize(img, width, height);
  if (!got) {
    assert.ok(mixed(img, width, height), `${what}: declined a pair that is not mixed`);
    return false;
  }
  const want = await resizeSharp(img, width, height);
  assert.deepEqual([want.width, want.height], [width, height], `${what}: sharp's size`);
  const equal = Buffer.from(got.data).equals(Buffer.from(want.data));
  if (!equal) {
    const at = got.data.findIndex((v, i) => v !== want.data[i]);
    const px = Math.floor(at / 3);
    assert.fail(`${what}: first difference at (${px % width}, ${Math.floor(px / width)}) band ${at % 3}`);
  }
  return true;
}

async function decodeAt(file: string, shrink: number): Promise<RgbImage> {
  const input = shrink > 1 ? `${file}[shrink=${shrink}]` : fs.readFileSync(file);
  const { data, info } = await sharp(input, SHARP_DECODE_OPTIONS)
    .autoOrient()
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
  };
}

/** decodeResized's DCT scale for a JPEG (image.ts). */
function loaderShrink(w0: number, h0: number, w: number, h: number): number {
  const f = Math.min(w0 / w, h0 / h);
  return f >= 8 ? 8 : f >= 4 ? 4 : f >= 2 ? 2 : 1;
}

const files = sharedJpegs(['coco128', 'shapes']);
const noImages = noSharedJpegs(files, ['coco128', 'shapes']);

test(
  "native resize = sharp's on coco128 and shapes at load_image's sizes (640, 320), full and DCT-scaled decodes",
  { skip: skip || noImages },
  async () => {
    let resized = 0;
    for (const file of sample(files, 24)) {
      const full = await decodeAt(file, 1);
      for (const imgsz of [640, 320]) {
        const [w, h] = resizedSize(full.width, full.height, imgsz);
        const shrink = loaderShrink(full.width, full.height, w, h);
        const decoded = shrink > 1 ? await decodeAt(file, shrink) : full;
        for (const src of shrink > 1 ? [full, decoded] : [full]) {
          if (src.width === w && src.height === h) continue;
          const what = `${path.basename(file)} ${src.width}x${src.height} -> ${w}x${h} (imgsz ${imgsz})`;
          assert.ok(await assertSameAsSharp(src, w, h, what), `${what}: declined`);
          resized++;
        }
      }
    }
    assert.ok(resized > 0, 'no image needed a resize');
  },
);

/** Random sizes: mostly small, some 1-pixel sides, some big shrinks (vips_shrink's box first). */
function randomSide(rng: Rng): number {
  const kind = rng.randint(0, 9);
  if (kind === 0) return 1;
  if (kind === 1) return rng.randint(2, 4);
  if (kind <= 7) return rng.randint(5, 160);
  return rng.randint(161, 700);
}

test('native resize = sharp on random noise and random size pairs', { skip }, async () => {
  const rng = new Rng(15);
  let native = 0;
  const pairs = all ? 4000 : 400;
  for (let i = 0; i < pairs; i++) {
    const w0 = randomSide(rng);
    const h0 = randomSide(rng);
    // half the targets keep the aspect ratio (load_image), the rest are free (fit 'fill')
    const r = rng.uniform(0.05, 3);
    const [w, h] =
      i % 2 ? [randomSide(rng), randomSide(rng)] : [Math.max(1, Math.ceil(w0 * r)), Math.max(1, Math.ceil(h0 * r))];
    if (w === w0 && h === h0) continue;
    const data = new Uint8Array(w0 * h0 * 3);
    for (let k = 0; k < data.length; k++) data[k] = rng.randint(0, 255);
    if (await assertSameAsSharp({ data, width: w0, height: h0 }, w, h, `case ${i}: ${w0}x${h0} -> ${w}x${h}`)) native++;
  }
  assert.ok(native > pairs * 0.6, `only ${native} of ${pairs} pairs were native`);
});

test(
  "native resize = sharp where a sample lands on a mask boundary (exact ratios, libvips' tiles)",
  { skip },
  async () => {
    const rng = new Rng(16);
    // 427 -> 320 rows: (y + 0.5) * 427/320 * 128 is an odd integer for every y = 2 mod 5
    const cases: Array<[number, number, number, number]> = [
      [300, 427, 300, 320],
      [427, 300, 320, 300],
      [427, 427, 320, 320],
      [640, 427, 320, 214],
      [1280, 853, 320, 214],
      [500, 375, 320, 240],
      [640, 480, 320, 240],
      [640, 480, 96, 72],
      [333, 500, 213, 320],
      [320, 213, 320, 214],
      [500, 375, 640, 480],
      [7, 3, 640, 2],
      [50, 385, 50, 24], // box shrink first: 128x128 tiles, reducev restarts every 128 rows
      [187, 499, 2, 96], // box shrink along rows: reducev asked for 16-row chunks
      [144, 123, 634, 18], // rows shrink, columns grow: the affine's 128-wide tiles
    ];
    for (const [w0, h0, w, h] of cases) {
      const data = new Uint8Array(w0 * h0 * 3);
      for (let k = 0; k < data.length; k++) data[k] = rng.randint(0, 255);
      await assertSameAsSharp({ data, width: w0, height: h0 }, w, h, `${w0}x${h0} -> ${w}x${h}`);
    }
  },
);
