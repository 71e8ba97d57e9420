/**
 * An embedded ICC profile changes no decoded pixel, as in YOLOv5 (cv2.imread ignores profiles):
 * the same stored pixels as a JPEG and a PNG, without and with a Display P3 profile spliced into
 * the file, decode to the same bytes through decodeImage, load_image's decodeResized (JPEG
 * shrink-on-load), the native decoder and sharp with SHARP_DECODE_OPTIONS. Applying the profile
 * (sharp's default) would change them: checked too, so the test can fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { tmpDir } from './helpers.js';
import { Rng, SHARP_DECODE_OPTIONS, dataNative, decodeImage, decodeResized, type RgbImage } from '../src/index.js';

const W = 64;
const H = 48;

function testImage(): RgbImage {
  const rng = new Rng(3);
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < 3; c++) data[(y * W + x) * 3 + c] = (x * 4 + y * 2 * c + rng.randint(0, 40)) & 255;
  return { data, width: W, height: H };
}

/** JPEG segments [start, end) before the scan whose marker is APP2 and name ICC_PROFILE. */
function jpegIccSegments(jpeg: Buffer): Buffer[] {
  const found: Buffer[] = [];
  for (let at = 2; at + 4 <= jpeg.length && jpeg[at] === 0xff && jpeg[at + 1] !== 0xda;) {
    const end = at + 2 + jpeg.readUInt16BE(at + 2);
    if (jpeg[at + 1] === 0xe2 && jpeg.toString('latin1', at + 4, at + 15) === 'ICC_PROFILE')
      found.push(jpeg.subarray(at, end));
    at = end;
  }
  return found;
}

/** PNG chunks (length, type, data, CRC) of the given type. */
function pngChunks(png: Buffer, type: string): Buffer[] {
  const found: Buffer[] = [];
  for (let at = 8; at + 12 <= png.length;) {
    const end = at + 12 + png.readUInt32BE(at);
    if (png.toString('latin1', at + 4, at + 8) === type) found.push(png.subarray(at, end));
    at = end;
  }
  return found;
}

/** The plain file and the same file with the P3-encoded file's profile spliced in. */
async function withAndWithoutProfile(img: RgbImage, format: 'jpeg' | 'png'): Promise<[Buffer, Buffer]> {
  const raw = { raw: { width: img.width, height: img.height, channels: 3 as const } };
  const encode = (s: Sharp): Promise<Buffer> => (format === 'jpeg' ? s.jpeg({ quality: 95 }) : s.png()).toBuffer();
  const plain = await encode(sharp(img.data, raw));
  const p3 = await encode(sharp(img.data, raw).withIccProfile('p3'));
  if (format === 'jpeg') {
    const icc = jpegIccSegments(p3);
    assert.ok(icc.length > 0, 'sharp wrote no ICC_PROFILE segment');
    return [plain, Buffer.concat([plain.subarray(0, 2), ...icc, plain.subarray(2)])];
  }
  const icc = pngChunks(p3, 'iCCP');
  assert.equal(icc.length, 1, 'sharp wrote no iCCP chunk');
  const afterIhdr = 8 + 12 + plain.readUInt32BE(8);
  return [plain, Buffer.concat([plain.subarray(0, afterIhdr), icc[0]!, plain.subarray(afterIhdr)])];
}

async function sharpRaw(input: Buffer, ignoreIcc: boolean): Promise<Buffer> {
  const options = ignoreIcc ? SHARP_DECODE_OPTIONS : { ...SHARP_DECODE_OPTIONS, ignoreIcc: false };
  return sharp(input, options).removeAlpha().toColourspace('srgb').raw().toBuffer();
}

for (const format of ['jpeg', 'png'] as const) {
  test(`an ICC profile in a ${format.toUpperCase()} changes no decoded pixel`, async () => {
    const [plain, profiled] = await withAndWithoutProfile(testImage(), format);
    const want = await sharpRaw(plain, true);
    assert.ok(!(await sharpRaw(profiled, false)).equals(want), 'applying the P3 profile changes nothing: no test');
    assert.ok((await sharpRaw(profiled, true)).equals(want), 'sharp with SHARP_DECODE_OPTIONS');
    assert.ok(Buffer.from((await decodeImage(profiled)).data).equals(want), 'decodeImage');
    if (format === 'jpeg' && dataNative) {
      const native = await dataNative.decodeJpeg(profiled, 1);
      assert.ok(native, 'the native decoder refused a JPEG with a profile');
      assert.ok(Buffer.from(native.data).equals(want), 'native decodeJpeg');
    }
    // load_image at half size: the JPEG's 1/2 DCT-scaled decode (natively or libvips' shrink=2)
    const dir = tmpDir('icc');
    try {
      const file = (name: string, bytes: Buffer): string => {
        fs.writeFileSync(path.join(dir, name), bytes);
        return path.join(dir, name);
      };
      const ext = format === 'jpeg' ? 'jpg' : 'png';
      const half = async (f: string): Promise<Buffer> =>
        Buffer.from((await decodeResized(f, W / 2, H / 2, [W, H])).data);
      assert.ok(
        (await half(file(`profiled.${ext}`, profiled))).equals(await half(file(`plain.${ext}`, plain))),
        'decodeResized',
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
