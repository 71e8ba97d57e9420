/**
 * load_image: an image resized so that its long side is imgsz (ratio r = imgsz/max(h0, w0),
 * size ceil(w0*r) x ceil(h0*r)), from RAM cache, disk cache (.rgb.npy beside the image) or
 * by decoding the file with sharp (decode and resize in one libvips pipeline).
 */
import fs from 'node:fs';
import { decodeResized, decodeImage, resizeImage, type RgbImage } from './image.js';
import { encodeNpyU8, decodeNpyU8 } from './npy.js';
import { writeFileAtomic } from './atomic.js';
import type { YoloDataset } from './dataset.js';
import { NodeCacheReader } from './node-cache.js';
import { cacheReadPath, cacheWritePath } from './cache-dir.js';
import type { LoadedImage } from './loaded-image.js';

export type { LoadedImage } from './loaded-image.js';

/** A RAM-cached image in memory that worker threads share (SharedArrayBuffer). */
export interface SharedImage {
  buffer: SharedArrayBuffer;
  width: number;
  height: number;
  h0: number;
  w0: number;
}

/**
 * Version of the --cache disk pixels, part of the file name: raise it whenever decoding gives
 * other bytes, so that files of an older version are never read (and a new one is written).
 * 1: the unversioned <stem>.rgb.npy, decoded with embedded ICC profiles applied; 2: profiles
 * ignored, as cv2.imread does (session 5), which changes the pixels of photos with a profile.
 * The version cannot go into the .npy header: np.load refuses keys other than descr,
 * fortran_order and shape.
 */
export const DISK_CACHE_VERSION = 2;

function stem(imFile: string): string {
  const dot = imFile.lastIndexOf('.');
  return dot > imFile.lastIndexOf('/') ? imFile.slice(0, dot) : imFile;
}

/** The cache file name suffix of a version: version 1 had none. */
function versionSuffix(version: number): string {
  return version === 1 ? '.rgb.npy' : `.rgb.v${version}.npy`;
}

/**
 * Disk cache file for an image: same folder and stem, suffix .rgb.v<DISK_CACHE_VERSION>.npy
 * (RGB, full size, EXIF applied; YOLOv5's <stem>.npy holds BGR, hence another name).
 */
export function diskCachePath(imFile: string): string {
  return stem(imFile) + versionSuffix(DISK_CACHE_VERSION);
}

/** Where files of older versions of an image's disk cache would be (beside it; never read). */
export function staleDiskCachePaths(imFile: string): string[] {
  return Array.from({ length: DISK_CACHE_VERSION - 1 }, (_, k) => stem(imFile) + versionSuffix(k + 1));
}

/** Where an image's disk cache is (beside it, or in the cache folder: cache-dir.ts), or null. */
export function diskCacheReadPath(imFile: string): string | null {
  return cacheReadPath('images', diskCachePath(imFile));
}

export function resizedSize(w0: number, h0: number, imgsz: number): [number, number] {
  const r = imgsz / Math.max(h0, w0);
  return r === 1 ? [w0, h0] : [Math.ceil(w0 * r), Math.ceil(h0 * r)];
}

export class ImageStore {
  private readonly ram = new Map<number, LoadedImage>();
  private nodeCache: NodeCacheReader | null = null;

  constructor(
    readonly dataset: YoloDataset,
    readonly imgsz: number,
    readonly useDiskCache = false,
  ) {}

  /** Adds RAM-cached images shared by another thread. */
  adoptShared(entries: ReadonlyArray<[number, SharedImage]>): void {
    for (const [i, s] of entries)
      this.ram.set(i, {
        image: { data: new Uint8Array(s.buffer), width: s.width, height: s.height },
        h0: s.h0,
        w0: s.w0,
      });
  }

  /** Reads RAM-cached images from the node's cache file through `fd` (the caller closes it). */
  useNodeCache(file: string, fd: number): NodeCacheReader {
    this.nodeCache = new NodeCacheReader(file, fd);
    return this.nodeCache;
  }

  get ramCount(): number {
    return this.ram.size;
  }

  async load(index: number): Promise<LoadedImage> {
    const hit = this.ram.get(index);
    if (hit) return hit;
    const shared = this.nodeCache?.load(index);
    if (shared) return { ...shared, transient: true };
    const file = this.dataset.imFiles[index];
    if (file === undefined)
      throw new Error(`image index ${index} out of range (dataset has ${this.dataset.imFiles.length})`);
    const [w0, h0] = this.dataset.shapes[index]!;
    const [w, h] = resizedSize(w0, h0, this.imgsz);
    if (this.useDiskCache) {
      const npy = diskCacheReadPath(file);
      if (npy) {
        const { data, shape } = decodeNpyU8(fs.readFileSync(npy));
        const full: RgbImage = { data, width: shape[1]!, height: shape[0]! };
        return { image: await resizeImage(full, w, h), h0, w0 };
      }
    }
    let image: RgbImage;
    try {
      image = w === w0 && h === h0 ? await decodeImage(file) : await decodeResized(file, w, h, [w0, h0]);
    } catch (e) {
      throw new Error(
        `${file}: cannot decode (${(e as Error).message.split('\n')[0]}); the file changed or is damaged after verification: fix or remove it and delete the label cache`,
        { cause: e },
      );
    }
    if (image.width !== w || image.height !== h) {
      throw new Error(
        `${file}: decoded ${image.width}x${image.height}, expected ${w}x${h} (the label cache is stale: delete it)`,
      );
    }
    return { image, h0, w0 };
  }

  /** Loads images into shared memory for --cache ram and keeps them; returns what to share with workers. */
  async cacheRam(indices: Iterable<number>, concurrency = 4): Promise<Array<[number, SharedImage]>> {
    const todo = [...new Set(indices)].filter((i) => !this.ram.has(i));
    const out: Array<[number, SharedImage]> = [];
    let next = 0;
    const run = async (): Promise<void> => {
      while (next < todo.length) {
        const i = todo[next++]!;
        const li = await this.load(i);
        const buffer = new SharedArrayBuffer(li.image.data.length);
        new Uint8Array(buffer).set(li.image.data);
        const s: SharedImage = { buffer, width: li.image.width, height: li.image.height, h0: li.h0, w0: li.w0 };
        this.adoptShared([[i, s]]);
        out.push([i, s]);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, run));
    return out;
  }

  /** All RAM-cached entries (to hand to new workers). */
  sharedEntries(): Array<[number, SharedImage]> {
    const out: Array<[number, SharedImage]> = [];
    for (const [i, li] of this.ram) {
      const buf = li.image.data.buffer;
      if (buf instanceof SharedArrayBuffer)
        out.push([i, { buffer: buf, width: li.image.width, height: li.image.height, h0: li.h0, w0: li.w0 }]);
    }
    return out;
  }
}

/** Whether an older version's cache file of the image is there (beside it or in the cache folder). */
function hasStaleDiskCache(imFile: string): boolean {
  return staleDiskCachePaths(imFile).some((f) => cacheReadPath('images', f) !== null);
}

/**
 * --cache disk: writes each image's decoded pixels to diskCachePath(image) beside it, skipping
 * files already there. Call it on local rank 0 inside rankZeroFirst (once per node); the
 * writes are atomic, so a reader never sees half a file. Files of an older DISK_CACHE_VERSION
 * are left alone (an older yolo-launch may still read them) and counted in `stale`.
 */
export async function cacheImagesToDisk(
  dataset: YoloDataset,
  opts: { concurrency?: number; log?: (s: string) => void } = {},
): Promise<{ written: number; existing: number; stale: number; bytes: number }> {
  let written = 0;
  let existing = 0;
  let stale = 0;
  let bytes = 0;
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < dataset.imFiles.length) {
      const file = dataset.imFiles[next++]!;
      if (hasStaleDiskCache(file)) stale++;
      const found = diskCacheReadPath(file);
      if (found) {
        existing++;
        bytes += fs.statSync(found).size;
        continue;
      }
      // beside the image, or in the cache folder when the image folder is read-only
      const npy = cacheWritePath('images', diskCachePath(file));
      const img = await decodeImage(file);
      const buf = encodeNpyU8(img.data, [img.height, img.width, 3]);
      try {
        writeFileAtomic(npy, buf);
      } catch (e) {
        throw new Error(
          `--cache disk: cannot write ${npy} (${(e as Error).message}); use --cache ram, or set YOLO_LAUNCH_CACHE_DIR to a writable folder`,
          { cause: e },
        );
      }
      written++;
      bytes += buf.length;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, run));
  opts.log?.(
    `Caching images to disk: ${written} written, ${existing} already cached, ${(bytes / 1e9).toFixed(2)} GB` +
      (stale
        ? ` (${stale} images also have a cache file of an older version, not used: delete their *.rgb.npy files, which hold other pixels)`
        : ''),
  );
  return { written, existing, stale, bytes };
}
