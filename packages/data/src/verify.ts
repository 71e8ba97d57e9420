/**
 * verify_image_label: checks one image and its label file, as YOLOv5 does before training.
 * The result's flags (missing, found, empty, corrupt) add up to the scan summary.
 */
import fs from 'node:fs';
import sharp from 'sharp';
import type { Metadata } from 'sharp';
import { parseLabelText } from './labels.js';
import { IMG_FORMATS } from './image-files.js';
import { writeFileAtomic } from './atomic.js';
import { SHARP_DECODE_OPTIONS } from './image.js';

export type VerifyStatus = 'ok' | 'missing' | 'empty' | 'corrupt';

export interface VerifyResult {
  imFile: string;
  lbFile: string;
  status: VerifyStatus;
  /** n x 5 rows [class, x, y, w, h]; empty for missing/empty labels and corrupt pairs. */
  labels: Float32Array;
  nLabels: number;
  /** (width, height) after EXIF orientation; null when corrupt. */
  shape: [number, number] | null;
  segments: Float32Array[];
  nm: 0 | 1;
  nf: 0 | 1;
  ne: 0 | 1;
  nc: 0 | 1;
  /** Warning text ('' when none), e.g. duplicate rows removed or JPEG restored. */
  message: string;
}

/** sharp's format names mapped to ultralytics' suffix names. */
const FORMAT_ALIASES: Record<string, string> = {
  jpeg: 'jpeg',
  jpg: 'jpg',
  png: 'png',
  webp: 'webp',
  tiff: 'tiff',
  tif: 'tif',
};

export interface VerifyOptions {
  /** Number of classes; rows with class >= nc make the pair corrupt. */
  nc?: number;
  prefix?: string;
}

/** The per-image flags of the scan summary; set as the checks get there, so a failure keeps them. */
interface ScanFlags {
  nm: 0 | 1;
  nf: 0 | 1;
  ne: 0 | 1;
}

export async function verifyImageLabel(
  imFile: string,
  lbFile: string,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  const prefix = opts.prefix ?? '';
  const flags: ScanFlags = { nm: 0, nf: 0, ne: 0 };
  try {
    const { shape, format } = await checkImage(imFile);
    let msg = format === 'jpeg' ? await restoreCorruptJpeg(imFile, prefix) : '';
    const read = readLabelFile(lbFile, opts.nc, flags);
    if (read.duplicatesRemoved)
      msg = `${prefix}WARNING ⚠️ ${imFile}: ${read.duplicatesRemoved} duplicate labels removed`;
    const { status, labels, n, segments } = read;
    return { imFile, lbFile, status, labels, nLabels: n, shape, segments, ...flags, nc: 0, message: msg };
  } catch (e) {
    return {
      imFile,
      lbFile,
      status: 'corrupt',
      labels: new Float32Array(0),
      nLabels: 0,
      shape: null,
      segments: [],
      ...flags,
      nc: 1,
      message: `${prefix}WARNING ⚠️ ${imFile}: ignoring corrupt image/label: ${(e as Error).message}`,
    };
  }
}

/** The image's (width, height) as displayed and its format; throws when it is not a usable image. */
async function checkImage(imFile: string): Promise<{ shape: [number, number]; format: string }> {
  let meta: Metadata;
  try {
    meta = await sharp(imFile).metadata();
  } catch {
    throw new Error(`cannot identify image file '${imFile}'`);
  }
  if (!meta.width || !meta.height || !meta.format) throw new Error(`cannot identify image file '${imFile}'`);
  // EXIF orientations 5-8 turn the image by 90 degrees: (w, h) as displayed. YOLOv5's
  // exif_size swaps only for 6 and 8; the decoder (cv2 there, libvips here) applies all
  // of them, so we swap for 5 and 7 as well to keep sizes and pixels consistent.
  const swap = (meta.orientation ?? 1) >= 5 && (meta.orientation ?? 1) <= 8;
  const shape: [number, number] = swap ? [meta.height, meta.width] : [meta.width, meta.height];
  if (!(shape[0] > 9 && shape[1] > 9)) throw new Error(`image size (${shape[0]}, ${shape[1]}) <10 pixels`);
  const format = FORMAT_ALIASES[meta.format];
  if (!format || !(IMG_FORMATS as readonly string[]).includes(format))
    throw new Error(`invalid image format ${meta.format.toUpperCase()}`);
  return { shape, format };
}

/** Whether the file's last two bytes are a JPEG's end-of-image marker FFD9. */
function endsWithJpegEoi(imFile: string): boolean {
  const fd = fs.openSync(imFile, 'r');
  const tail = Buffer.alloc(2);
  try {
    const size = fs.fstatSync(fd).size;
    fs.readSync(fd, tail, 0, 2, Math.max(0, size - 2));
  } finally {
    fs.closeSync(fd);
  }
  return tail[0] === 0xff && tail[1] === 0xd9;
}

/**
 * A JPEG without FFD9 at its end: decoded (fails when truncated) and re-saved in place,
 * orientation applied; returns the warning, or '' when the file was fine. An ICC profile is
 * ignored and dropped, as PIL's exif_transpose + save does in YOLOv5.
 */
async function restoreCorruptJpeg(imFile: string, prefix: string): Promise<string> {
  if (endsWithJpegEoi(imFile)) return '';
  let fixed: Buffer;
  try {
    fixed = await sharp(imFile, SHARP_DECODE_OPTIONS)
      .autoOrient()
      .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
      .toBuffer();
  } catch (e) {
    throw new Error(`image file is truncated (${(e as Error).message.split('\n')[0]})`, { cause: e });
  }
  writeFileAtomic(imFile, fixed);
  return `${prefix}WARNING ⚠️ ${imFile}: corrupt JPEG restored and saved`;
}

interface LabelFileRead {
  status: VerifyStatus;
  labels: Float32Array;
  n: number;
  segments: Float32Array[];
  duplicatesRemoved: number;
}

/** Reads the label file (missing, empty or rows); sets nm/nf/ne in `flags` (before a parse error). */
function readLabelFile(lbFile: string, nc: number | undefined, flags: ScanFlags): LabelFileRead {
  const none = { labels: new Float32Array(0), n: 0, segments: [], duplicatesRemoved: 0 };
  if (!(fs.existsSync(lbFile) && fs.statSync(lbFile).isFile())) {
    flags.nm = 1;
    return { status: 'missing', ...none };
  }
  flags.nf = 1;
  const parsed = parseLabelText(fs.readFileSync(lbFile, 'utf8'), nc);
  if (parsed.n === 0) {
    flags.ne = 1;
    return { status: 'empty', ...none };
  }
  const { labels, n, segments, duplicatesRemoved } = parsed;
  return { status: 'ok', labels, n, segments, duplicatesRemoved };
}
