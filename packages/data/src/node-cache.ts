/**
 * --cache ram with several ranks on a node: ONE copy of the resized images per node (YOLOv5
 * keeps one per rank: 8 GPUs meant 8x the RAM). Local rank 0 decodes every image once into
 * a file on tmpfs (/dev/shm: its pages are RAM, shared by every process that reads them);
 * the other local ranks wait for the file and read images from it. A SharedArrayBuffer
 * cannot cross processes and Node has no mmap, so a load is one pread (a memcpy from the
 * page cache, ~0.1 ms for 640x480) into a per-thread ring of buffers, not a decode.
 *
 * File: "YLIMGC1\n", u32 LE header length, JSON header { pid, imgsz, entries: [index,
 * offset, width, height, h0, w0][] }, then the RGB pixels at their offsets. Written to a
 * temporary name and renamed, so a reader never sees half a file. The builder deletes it at
 * close and sweeps files whose builder process is gone (a crashed run).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import type { YoloDataset } from './dataset.js';
import type { LoadedImage } from './loaded-image.js';
import { readWorkerEnv } from '@yolo-launch/core';

const MAGIC = 'YLIMGC1\n';
const PREFIX = 'yolo-launch-imgcache-';

export interface NodeCacheEntry {
  offset: number;
  width: number;
  height: number;
  h0: number;
  w0: number;
}

interface Header {
  pid: number;
  imgsz: number;
  entries: Array<[index: number, offset: number, width: number, height: number, h0: number, w0: number]>;
}

/** Where the node's cache for this dataset order and imgsz lives (same name on every local rank). */
export function nodeCachePath(
  dataset: YoloDataset,
  imgsz: number,
  dir: string,
  runId = readWorkerEnv().runId ?? 'local',
): string {
  const h = crypto
    .createHash('sha256')
    .update(`${imgsz}\n${dataset.imFiles.join('\n')}\n${JSON.stringify(dataset.shapes)}`)
    .digest('hex');
  return path.join(dir, `${PREFIX}${runId.replace(/[^A-Za-z0-9_.-]/g, '_')}-${h.slice(0, 16)}.bin`);
}

/** Default folder: /dev/shm where it exists (Linux), else none (each rank caches for itself). */
export function defaultNodeCacheDir(): string | null {
  return process.platform === 'linux' && fs.existsSync('/dev/shm') ? '/dev/shm' : null;
}

/** Bytes free for the cache: available RAM, and the tmpfs's own limit (Docker's default /dev/shm is 64 MB). */
export function availableBytes(dir: string | null): { bytes: number; ram: number; total: number } {
  const ram = os.freemem();
  let bytes = ram;
  if (dir) {
    const st = fs.statfsSync(dir);
    bytes = Math.min(bytes, st.bavail * st.bsize);
  }
  return { bytes, ram, total: os.totalmem() };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes caches (and half-written ones) whose builder process no longer runs. */
export function sweepStaleNodeCaches(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    if (!name.startsWith(PREFIX)) continue;
    const file = path.join(dir, name);
    const tmp = /\.(\d+)\.tmp$/.exec(name);
    const pid = tmp ? Number(tmp[1]) : readHeaderPid(file);
    if (pid !== null && !pidAlive(pid)) fs.rmSync(file, { force: true });
  }
}

function readHeaderPid(file: string): number | null {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      return readHeader(fd, file).pid;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return null;
  }
}

function readHeader(fd: number, file: string): Header {
  const head = Buffer.alloc(12);
  fs.readSync(fd, head, 0, 12, 0);
  if (head.toString('latin1', 0, 8) !== MAGIC) throw new Error(`${file} is not a yolo-launch image cache`);
  const len = head.readUInt32LE(8);
  const json = Buffer.alloc(len);
  fs.readSync(fd, json, 0, len, 12);
  return JSON.parse(json.toString('utf8')) as Header;
}

/**
 * Writes the node cache (local rank 0): `load(i)` gives each resized image; sizes are known
 * up front from the dataset's shapes, so the header is written first.
 */
export async function buildNodeCache(
  file: string,
  dataset: YoloDataset,
  imgsz: number,
  sizes: Array<[number, number]>,
  load: (i: number) => Promise<LoadedImage>,
  concurrency = 4,
): Promise<number> {
  const entries: Header['entries'] = [];
  // the header's length depends on the offsets' digits: lay out twice with a generous guess
  for (let guess = 1 << 16; ; guess *= 4) {
    entries.length = 0;
    let offset = guess;
    sizes.forEach(([w, h], i) => {
      entries.push([i, offset, w, h, dataset.shapes[i]![1], dataset.shapes[i]![0]]);
      offset = Math.ceil((offset + w * h * 3) / 64) * 64;
    });
    const headerBytes = Buffer.byteLength(JSON.stringify({ pid: process.pid, imgsz, entries } satisfies Header));
    if (12 + headerBytes <= guess) break;
  }
  const json = Buffer.from(JSON.stringify({ pid: process.pid, imgsz, entries } satisfies Header));
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  let total = 0;
  try {
    const head = Buffer.alloc(12);
    head.write(MAGIC, 0, 'latin1');
    head.writeUInt32LE(json.length, 8);
    fs.writeSync(fd, head, 0, 12, 0);
    fs.writeSync(fd, json, 0, json.length, 12);
    let next = 0;
    const run = async (): Promise<void> => {
      while (next < entries.length) {
        const [i, offset, w, h] = entries[next++]!;
        const { image } = await load(i);
        if (image.width !== w || image.height !== h)
          throw new Error(`${dataset.imFiles[i]}: decoded ${image.width}x${image.height}, expected ${w}x${h}`);
        fs.writeSync(fd, image.data, 0, image.data.length, offset);
        total += image.data.length;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, run));
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  return total;
}

/** Waits (other local ranks) until local rank 0 has renamed the cache into place. */
export async function waitForNodeCache(
  file: string,
  opts: { startTimeoutMs?: number; pollMs?: number } = {},
): Promise<boolean> {
  const startTimeout = opts.startTimeoutMs ?? 120_000;
  const poll = opts.pollMs ?? 200;
  const dir = path.dirname(file);
  const base = path.basename(file);
  const t0 = Date.now();
  for (;;) {
    if (fs.existsSync(file)) return true;
    // rank 0 building (a temporary file exists): wait as long as it takes; nothing yet: not forever
    const building = fs.readdirSync(dir).some((n) => n.startsWith(`${base}.`) && n.endsWith('.tmp'));
    if (!building && Date.now() - t0 > startTimeout) return false;
    await new Promise((resolve) => setTimeout(resolve, poll));
  }
}

/**
 * Reads images from a node cache file. Each load lands in the next buffer of a ring (reused,
 * so no fresh pages to fault in): an image stays valid for `ring - 1` further loads on this
 * thread, far more than a sample holds at once (a mosaic with mixup: 8; two samples in flight).
 */
export class NodeCacheReader {
  readonly entries = new Map<number, NodeCacheEntry>();
  // allocated on first use: a loader with worker threads never reads on its main thread
  private readonly slots: Uint8Array[] = [];
  private readonly maxBytes: number;
  private nextSlot = 0;

  /** `fd`: an open descriptor of `file` (process-wide: the loader's worker threads share it). */
  constructor(
    readonly file: string,
    readonly fd: number,
    private readonly ring = 24,
  ) {
    let maxBytes = 0;
    for (const [index, offset, width, height, h0, w0] of readHeader(fd, file).entries) {
      this.entries.set(index, { offset, width, height, h0, w0 });
      maxBytes = Math.max(maxBytes, width * height * 3);
    }
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.width * e.height * 3;
    return n;
  }

  load(index: number): LoadedImage | null {
    const e = this.entries.get(index);
    if (!e) return null;
    const n = e.width * e.height * 3;
    if (this.slots.length < this.ring) this.slots.push(new Uint8Array(this.maxBytes));
    const slot = this.slots[this.nextSlot]!;
    this.nextSlot = (this.nextSlot + 1) % this.ring;
    const got = fs.readSync(this.fd, slot, 0, n, e.offset);
    if (got !== n)
      throw new Error(`${this.file}: short read (${got} of ${n} bytes): the node image cache was truncated`);
    return { image: { data: slot.subarray(0, n), width: e.width, height: e.height }, h0: e.h0, w0: e.w0 };
  }
}
