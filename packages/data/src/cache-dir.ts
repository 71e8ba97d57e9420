/**
 * Where a cache file goes: beside the dataset, as YOLOv5 puts labels/<split>.cache and the
 * --cache disk .npy files, unless that folder is not writable (a read-only dataset mount, a
 * shared folder); then under $YOLO_LAUNCH_CACHE_DIR (default ~/.cache/yolo-launch), in a
 * sub-folder named after the dataset folder's absolute path, so every rank and every run on
 * the machine finds the same file.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { dataPaths } from './paths.js';

export type CacheKind = 'labels' | 'images';

/** $YOLO_LAUNCH_CACHE_DIR or ~/.cache/yolo-launch (paths.ts). */
export function cacheRoot(): string {
  return dataPaths().cacheRoot;
}

const writable = new Map<string, boolean>();

/**
 * Whether we may create files in dir (checked once per folder and process). A folder without
 * any write permission bit counts as read-only even for root, who could write there anyway:
 * that is how a shared dataset is marked "do not touch".
 */
export function isWritableDir(dir: string): boolean {
  let ok = writable.get(dir);
  if (ok === undefined) {
    try {
      fs.accessSync(dir, fs.constants.W_OK);
      ok = (fs.statSync(dir).mode & 0o222) !== 0;
    } catch {
      ok = false;
    }
    writable.set(dir, ok);
  }
  return ok;
}

/** The fallback location of `preferred` under the cache root. */
export function fallbackCachePath(kind: CacheKind, preferred: string): string {
  const dir = path.resolve(path.dirname(preferred));
  const key = crypto.createHash('sha256').update(dir).digest('hex').slice(0, 16);
  return path.join(cacheRoot(), kind, `${path.basename(dir)}-${key}`, path.basename(preferred));
}

/** Where to write: `preferred` when its folder is writable, else the fallback (folder created). */
export function cacheWritePath(kind: CacheKind, preferred: string): string {
  if (isWritableDir(path.dirname(preferred))) return preferred;
  const fallback = fallbackCachePath(kind, preferred);
  fs.mkdirSync(path.dirname(fallback), { recursive: true });
  return fallback;
}

/** Where to read: `preferred` if it exists, else the fallback if that exists, else null. */
export function cacheReadPath(kind: CacheKind, preferred: string): string | null {
  if (fs.existsSync(preferred)) return preferred;
  const fallback = fallbackCachePath(kind, preferred);
  return fs.existsSync(fallback) ? fallback : null;
}
