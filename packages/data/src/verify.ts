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

export async function verifyImageLabel(
  imFile: string,
  lbFile: string,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  const prefix = opts.prefix ?? '';
  let nm: 0 | 1 = 0;
  let nf: 0 | 1 = 0;
  let ne: 0 | 1 = 0;
  let msg = '';
  try {
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
    const fmt = FORMAT_ALIASES[meta.format];
    if (!fmt || !(IMG_FORMATS as readonly string[]).includes(fmt))
      throw new Error(`invalid image format ${meta.format.toUpperCase()}`);
    if (fmt === 'jpeg') {
      const fd = fs.openSync(imFile, 'r');
      const tail = Buffer.alloc(2);
      try {
        const size = fs.fstatSync(fd).size;
        fs.readSync(fd, tail, 0, 2, Math.max(0, size - 2));
      } finally {
        fs.closeSync(fd);
      }
      if (tail[0] !== 0xff || tail[1] !== 0xd9) {
        // corrupt JPEG: decode (fails when truncated) and re-save in place, orientation applied;
        // an ICC profile is ignored and dropped, as PIL's exif_transpose + save does in YOLOv5
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
        msg = `${prefix}WARNING ⚠️ ${imFile}: corrupt JPEG restored and saved`;
      }
    }
    let labels: Float32Array = new Float32Array(0);
    let n = 0;
    let segments: Float32Array[] = [];
    let status: VerifyStatus = 'ok';
    if (fs.existsSync(lbFile) && fs.statSync(lbFile).isFile()) {
      nf = 1;
      const parsed = parseLabelText(fs.readFileSync(lbFile, 'utf8'), opts.nc);
      if (parsed.n === 0) {
        ne = 1;
        status = 'empty';
      } else {
        labels = parsed.labels;
        n = parsed.n;
        segments = parsed.segments;
        if (parsed.duplicatesRemoved)
          msg = `${prefix}WARNING ⚠️ ${imFile}: ${parsed.duplicatesRemoved} duplicate labels removed`;
      }
    } else {
      nm = 1;
      status = 'missing';
    }
    return { imFile, lbFile, status, labels, nLabels: n, shape, segments, nm, nf, ne, nc: 0, message: msg };
  } catch (e) {
    return {
      imFile,
      lbFile,
      status: 'corrupt',
      labels: new Float32Array(0),
      nLabels: 0,
      shape: null,
      segments: [],
      nm,
      nf,
      ne,
      nc: 1,
      message: `${prefix}WARNING ⚠️ ${imFile}: ignoring corrupt image/label: ${(e as Error).message}`,
    };
  }
}
