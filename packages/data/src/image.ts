/** RGB images as plain bytes (HWC, 3 channels), decoded and resampled by sharp (libvips). */
import fs from 'node:fs';
import sharp from 'sharp';
import type { Sharp, SharpOptions } from 'sharp';
import { dataNative } from './native.js';

// The loader runs its own worker threads; one libvips thread per operation keeps
// `workers` meaning what it says (and is what YOLOv5's per-worker cv2 does).
sharp.concurrency(1);
sharp.cache(false);

export interface RgbImage {
  /** HWC RGB bytes, length height*width*3. */
  data: Uint8Array;
  width: number;
  height: number;
}

export const PAD_VALUE = 114;

/**
 * A width x height image filled with `fill`; written into `into` (e.g. a slot of the batch
 * buffer) when given and of the right length, else freshly allocated.
 */
export function newImage(width: number, height: number, fill = PAD_VALUE, into?: Uint8Array): RgbImage {
  const n = width * height * 3;
  if (into && into.length === n) {
    into.fill(fill);
    return { data: into, width, height };
  }
  const data = new Uint8Array(n);
  if (fill !== 0) data.fill(fill);
  return { data, width, height };
}

function rawInput(img: RgbImage): SharpOptions {
  return { raw: { width: img.width, height: img.height, channels: 3 } };
}

async function toRgb(s: Sharp): Promise<RgbImage> {
  const { data, info } = await s.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected 3 channels after decoding, got ${info.channels}`);
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
  };
}

/**
 * sharp's decode settings, for every decode of a dataset or detect image.
 * - ignoreIcc: an embedded ICC profile (JPEG APP2, PNG iCCP, ...) is ignored, the stored values
 *   are the pixels. That is what OpenCV's imread, hence YOLOv5's loader, does: a model trained
 *   with YOLOv5 sees those pixels. The native JPEG decode ignores profiles too (same bytes).
 * - sequentialRead: libvips reads the file top to bottom instead of into a random-access buffer
 *   first; same pixels (checked on coco128 at 640, 320 and 416), one copy less.
 */
export const SHARP_DECODE_OPTIONS: Readonly<SharpOptions> = {
  failOn: 'truncated',
  sequentialRead: true,
  ignoreIcc: true,
};

/** Decodes an image file (EXIF orientation applied) to RGB at full size. */
export async function decodeImage(input: string | Uint8Array): Promise<RgbImage> {
  const bytes = await readInput(input);
  return (await decodeJpegNative(bytes, 1)) ?? toRgb(sharp(bytes, SHARP_DECODE_OPTIONS).autoOrient());
}

/**
 * The native libjpeg-turbo decode (native.ts) of a JPEG, pixel for pixel what libvips gives
 * for `file.jpg[shrink=scale]` with SHARP_DECODE_OPTIONS; null when the addon is absent, the bytes are
 * not a JPEG, or sharp would treat the file differently (EXIF rotation, CMYK, damaged data).
 */
async function decodeJpegNative(bytes: string | Uint8Array, scale: 1 | 2 | 4 | 8): Promise<RgbImage | null> {
  if (!dataNative || typeof bytes === 'string' || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  return dataNative.decodeJpeg(bytes, scale);
}

/**
 * Files are read by Node (asynchronously) and handed to sharp as buffers: for a path, sharp
 * probes the file format on the calling thread (~1-2 ms of blocking I/O per image), for a
 * buffer it sniffs bytes in memory.
 */
async function readInput(input: string | Uint8Array): Promise<string | Uint8Array> {
  return typeof input === 'string' ? fs.promises.readFile(input) : input;
}

/**
 * load_image's decode + resize to (width, height); `size0`, the file's (width, height), lets a
 * JPEG decode at a DCT scale (much faster than a full decode for big reductions).
 */
export async function decodeResized(
  input: string | Uint8Array,
  width: number,
  height: number,
  size0?: [number, number],
): Promise<RgbImage> {
  const bytes = await readInput(input);
  // a JPEG: decoded (natively or by sharp) at 1/2, 1/4 or 1/8 when the target is that much
  // smaller (libjpeg's DCT-domain downscaling: most of the work is skipped), then resized.
  // Always these two steps, on both paths: libvips' one-pipeline decode + resize can differ from
  // them by a level in a few rows (e.g. 640x491 to 416x320), and both paths must give one result.
  if (typeof input === 'string' && size0 && /\.jpe?g$/i.test(input) && !input.includes('[')) {
    const f = Math.min(size0[0] / width, size0[1] / height);
    const shrink = f >= 8 ? 8 : f >= 4 ? 4 : f >= 2 ? 2 : 1;
    const decoded = (await decodeJpegNative(bytes, shrink)) ?? (await decodeJpegSharp(input, bytes, shrink));
    if (decoded) return resizeImage(decoded, width, height);
  }
  return toRgb(
    sharp(bytes, SHARP_DECODE_OPTIONS).autoOrient().resize(width, height, { fit: 'fill', kernel: 'linear' }),
  );
}

/** sharp's decode of a JPEG file at 1/shrink (libvips' `file.jpg[shrink=N]`); null when it is no JPEG (a PNG named .jpg). */
async function decodeJpegSharp(
  file: string,
  bytes: string | Uint8Array,
  shrink: 1 | 2 | 4 | 8,
): Promise<RgbImage | null> {
  try {
    return await toRgb(sharp(shrink > 1 ? `${file}[shrink=${shrink}]` : bytes, SHARP_DECODE_OPTIONS).autoOrient());
  } catch {
    return null; // decoded normally by the caller (which reports a damaged file)
  }
}

/**
 * Bilinear resize of raw RGB (cv2.INTER_LINEAR's role): libvips' `resize` with the linear
 * kernel, by the native addon when it matches libvips for these sizes (it skips sharp's fixed
 * cost per pipeline, as dear as a decode), else by sharp. Same bytes either way.
 */
export async function resizeImage(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (width === img.width && height === img.height) return img;
  return resizeNative(img, width, height) ?? resizeSharp(img, width, height);
}

function resizeNative(img: RgbImage, width: number, height: number): RgbImage | null {
  if (!dataNative) return null;
  const data = new Uint8Array(width * height * 3);
  return dataNative.resizeRgb(img.data, img.width, img.height, data, width, height) ? { data, width, height } : null;
}

/** sharp's resize of raw RGB: the reference the native resize is tested against. */
export async function resizeSharp(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  return toRgb(sharp(img.data, rawInput(img)).resize(width, height, { fit: 'fill', kernel: 'linear' }));
}

/** Size (width, height) after EXIF orientation, from the header only. */
export async function probeImage(
  input: string | Uint8Array,
): Promise<{ width: number; height: number; format: string; orientation: number }> {
  const m = await sharp(input).metadata();
  if (!m.width || !m.height || !m.format) throw new Error('cannot identify image file');
  return { width: m.width, height: m.height, format: m.format, orientation: m.orientation ?? 1 };
}

/** Encodes RGB to JPEG (used for plots and the synthetic dataset). */
export async function encodeJpeg(img: RgbImage, quality = 90): Promise<Buffer> {
  return sharp(img.data, rawInput(img)).jpeg({ quality }).toBuffer();
}

/** Copies src into dst at (x, y) for the rectangle src[sy:sy+h, sx:sx+w]. */
export function blit(
  dst: RgbImage,
  dx: number,
  dy: number,
  src: RgbImage,
  sx: number,
  sy: number,
  w: number,
  h: number,
): void {
  if (w <= 0 || h <= 0) return;
  const rowBytes = w * 3;
  if (w === src.width && w === dst.width) {
    // whole rows on both sides (a letterbox padded only above and below): one copy
    const so = sy * rowBytes;
    dst.data.set(src.data.subarray(so, so + h * rowBytes), dy * rowBytes);
    return;
  }
  for (let r = 0; r < h; r++) {
    const so = ((sy + r) * src.width + sx) * 3;
    const dof = ((dy + r) * dst.width + dx) * 3;
    dst.data.set(src.data.subarray(so, so + rowBytes), dof);
  }
}
