/**
 * Scan of a whole split (verify_image_label on every pair) with a versioned cache file
 * next to the labels. The cache is valid while its version and the hash of the file list
 * (paths and sizes of images and labels) match; it is written atomically, so in DDP local
 * rank 0 builds it inside rankZeroFirst and the other ranks read it.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { img2labelPath } from './image-files.js';
import { verifyImageLabel, type VerifyResult } from './verify.js';
import { writeFileAtomic } from './atomic.js';
import { cacheWritePath, fallbackCachePath } from './cache-dir.js';

export const LABEL_CACHE_VERSION = 'yolo-launch-labels-1';

export interface ScanTotals {
  found: number;
  missing: number;
  empty: number;
  corrupt: number;
}

export interface LabelScan {
  results: VerifyResult[];
  totals: ScanTotals;
  /** Per-file warnings (corrupt pairs, duplicates removed, JPEGs restored). */
  messages: string[];
  /** "Scanning <dir>... 126 images, 2 missing labels, 0 empty, 0 corrupt" */
  summary: string;
  cacheFile: string;
  /** true when read from a valid cache, false when scanned now. */
  fromCache: boolean;
}

export interface ScanOptions {
  nc?: number;
  prefix?: string;
  /** Write the cache after scanning (default true). Ranks other than local 0 pass false. */
  writeCache?: boolean;
  /** Read a valid existing cache (default true). */
  readCache?: boolean;
  /** Concurrent verifications (default 8; sharp's work runs on libuv's pool). */
  concurrency?: number;
  log?: (line: string) => void;
}

/** Hash of the file list and sizes (get_hash in YOLOv5), plus nc which affects verification. */
export function filesHash(files: readonly string[], nc?: number): string {
  const h = crypto.createHash('sha256');
  let size = 0;
  for (const f of files) {
    try {
      size += fs.statSync(f).size;
    } catch {
      // missing files contribute their path only
    }
  }
  h.update(String(size));
  h.update(files.join(''));
  h.update(`nc=${nc ?? ''}`);
  return h.digest('hex');
}

/** YOLOv5's cache location: labels/<split>.cache for a folder, <list>.cache for a .txt list. */
export function labelCachePath(imFiles: readonly string[], sources: readonly string[]): string {
  const src = sources[0];
  const base =
    src && fs.existsSync(src) && fs.statSync(src).isFile()
      ? src.replace(/\.[^./\\]*$/, '')
      : path.dirname(img2labelPath(imFiles[0]!));
  // our own suffix: YOLOv5's numpy .cache in the same folder stays untouched
  return `${base}.yl.cache.json`;
}

interface CacheFile {
  version: string;
  hash: string;
  results: Array<Omit<VerifyResult, 'labels' | 'segments'> & { labels: number[]; segments: number[][] }>;
  messages: string[];
  totals: ScanTotals;
}

export function summaryLine(prefix: string, where: string, t: ScanTotals): string {
  return `${prefix}Scanning ${where}... ${t.found} images, ${t.missing} missing labels, ${t.empty} empty, ${t.corrupt} corrupt`;
}

async function mapPool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (x: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, run));
  return out;
}

function readCache(file: string, hash: string): CacheFile | null {
  try {
    const c = JSON.parse(fs.readFileSync(file, 'utf8')) as CacheFile;
    if (c.version !== LABEL_CACHE_VERSION || c.hash !== hash) return null;
    return c;
  } catch {
    return null;
  }
}

/** Verifies every image/label pair of a split, using and refreshing the label cache. */
export async function scanLabels(
  imFiles: readonly string[],
  sources: readonly string[],
  opts: ScanOptions = {},
): Promise<LabelScan> {
  const prefix = opts.prefix ?? '';
  const log = opts.log ?? (() => {});
  const lbFiles = imFiles.map(img2labelPath);
  const preferred = labelCachePath(imFiles, sources);
  const hash = filesHash([...lbFiles, ...imFiles], opts.nc);
  const where = preferred.replace(/\.yl\.cache\.json$/, '');
  if (opts.readCache !== false) {
    // beside the labels, or in the cache folder when the labels folder is read-only
    const cacheFile = [preferred, fallbackCachePath('labels', preferred)].find((f) => readCache(f, hash)) ?? preferred;
    const c = readCache(cacheFile, hash);
    if (c && c.results.length === imFiles.length) {
      const results: VerifyResult[] = c.results.map((r) => ({
        ...r,
        labels: Float32Array.from(r.labels),
        segments: r.segments.map((s) => Float32Array.from(s)),
      }));
      const summary = summaryLine(prefix, `'${cacheFile}' (cached)`, c.totals);
      log(summary);
      for (const m of c.messages) log(m);
      return { results, totals: c.totals, messages: c.messages, summary, cacheFile, fromCache: true };
    }
  }
  const results = await mapPool(imFiles, opts.concurrency ?? 8, (im, i) =>
    verifyImageLabel(im, lbFiles[i]!, { ...(opts.nc !== undefined ? { nc: opts.nc } : {}), prefix }),
  );
  const totals: ScanTotals = { found: 0, missing: 0, empty: 0, corrupt: 0 };
  const messages: string[] = [];
  for (const r of results) {
    totals.found += r.nf;
    totals.missing += r.nm;
    totals.empty += r.ne;
    totals.corrupt += r.nc;
    if (r.message) messages.push(r.message);
  }
  const summary = summaryLine(prefix, where, totals);
  log(summary);
  for (const m of messages) log(m);
  if (totals.found === 0) log(`${prefix}WARNING ⚠️ No labels found in ${where}.`);
  let cacheFile = preferred;
  if (opts.writeCache !== false) {
    // the hash must describe the files as they are now (a restored JPEG changed size)
    const finalHash = filesHash([...lbFiles, ...imFiles], opts.nc);
    const c: CacheFile = {
      version: LABEL_CACHE_VERSION,
      hash: finalHash,
      results: results.map((r) => ({
        ...r,
        labels: Array.from(r.labels),
        segments: r.segments.map((s) => Array.from(s)),
      })),
      messages,
      totals,
    };
    try {
      cacheFile = cacheWritePath('labels', preferred);
      writeFileAtomic(cacheFile, JSON.stringify(c));
      log(`${prefix}New cache created: ${cacheFile}`);
    } catch (e) {
      log(`${prefix}WARNING ⚠️ Cache directory ${path.dirname(cacheFile)} is not writeable: ${(e as Error).message}`);
    }
  }
  return { results, totals, messages, summary, cacheFile, fromCache: false };
}
