/**
 * --cache ram set-up for one loader: YOLOv5's memory check and "Caching images (0.4GB ram)"
 * line, then either the node-wide cache file (several local ranks: local rank 0 builds it,
 * the others wait and read it; one copy per node) or this rank's own SharedArrayBuffers
 * (one rank on the node, or no tmpfs).
 */
import fs from 'node:fs';
import type { ImageStore } from './image-store.js';
import { resizedSize } from './image-store.js';
import {
  availableBytes,
  buildNodeCache,
  defaultNodeCacheDir,
  nodeCachePath,
  sweepStaleNodeCaches,
  waitForNodeCache,
} from './node-cache.js';
import { readWorkerEnv } from '@yolo-launch/core';

export interface NodeCacheOptions {
  /** Default $LOCAL_RANK (0). */
  localRank?: number;
  /** Ranks on this node (default $LOCAL_WORLD_SIZE, 1): with more than one, the cache is per node. */
  localWorldSize?: number;
  /** tmpfs folder for the node cache (default /dev/shm on Linux; null: each rank caches for itself). */
  dir?: string | null;
}

export interface RamCache {
  /** The node cache file and an open descriptor of it, or null when this rank caches for itself. */
  node: { file: string; fd: number; built: boolean } | null;
  bytes: number;
  /** Releases the descriptor; the builder also deletes the file. */
  close(): void;
}

const GB = 1 << 30;
const SAFETY_MARGIN = 0.1; // YOLOv5's check_cache_ram

function gb(bytes: number): string {
  return (bytes / GB).toFixed(1);
}

/** Returns null (and logs YOLOv5's warning) when the images do not fit in free memory. */
export async function setUpRamCache(
  store: ImageStore,
  indices: Iterable<number>,
  opts: NodeCacheOptions & { log?: (line: string) => void },
): Promise<RamCache | null> {
  const log = opts.log ?? (() => {});
  const ds = store.dataset;
  const worker = readWorkerEnv();
  const localWorldSize = opts.localWorldSize ?? worker.localWorldSize;
  const localRank = opts.localRank ?? worker.localRank;
  const dir = opts.dir === undefined ? defaultNodeCacheDir() : opts.dir;
  const perNode = localWorldSize > 1 && dir !== null;
  const sizes = ds.shapes.map(([w0, h0]) => resizedSize(w0, h0, store.imgsz));
  const wanted = perNode ? [...ds.imFiles.keys()] : [...new Set(indices)];
  const required = wanted.reduce((s, i) => s + sizes[i]![0] * sizes[i]![1] * 3, 0);
  const free = availableBytes(perNode ? dir : null);
  if (required * (1 + SAFETY_MARGIN) >= free.bytes) {
    log(
      `${gb(required)}GB RAM required, ${gb(free.ram)}/${gb(free.total)}GB available${perNode ? ` (${gb(free.bytes)}GB free in ${dir})` : ''}, not caching images ⚠️`,
    );
    return null;
  }
  const t0 = Date.now();
  if (!perNode) {
    const entries = await store.cacheRam(wanted);
    const bytes = entries.reduce((s, [, e]) => s + e.buffer.byteLength, 0);
    log(`Caching images (${gb(bytes)}GB ram): ${entries.length} images in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    return { node: null, bytes, close: () => {} };
  }
  const file = nodeCachePath(ds, store.imgsz, dir);
  const built = localRank === 0;
  if (built) {
    sweepStaleNodeCaches(dir);
    if (!fs.existsSync(file)) await buildNodeCache(file, ds, store.imgsz, sizes, (i) => store.load(i));
    log(
      `Caching images (${gb(required)}GB ram, one copy for ${localWorldSize} local ranks in ${file}): ${wanted.length} images in ${((Date.now() - t0) / 1000).toFixed(1)}s`,
    );
  } else if (!(await waitForNodeCache(file))) {
    log(`WARNING ⚠️ local rank 0 wrote no image cache ${file}; this rank caches its own copy`);
    return setUpRamCache(store, indices, { ...opts, dir: null });
  } else {
    log(`Caching images (${gb(required)}GB ram): reading local rank 0's copy ${file}`);
  }
  const fd = fs.openSync(file, 'r');
  store.useNodeCache(file, fd);
  return {
    node: { file, fd, built },
    bytes: required,
    close: () => {
      fs.closeSync(fd);
      if (built) fs.rmSync(file, { force: true }); // readers keep their open descriptors valid
    },
  };
}
