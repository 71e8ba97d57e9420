// The yolo-launch checkpoint file (weights/last.pt, best.pt, epoch{n}.pt).
//
// Layout (all integers little-endian):
//   0   8 bytes  magic "YLCKPT\0" + format version byte (1)
//   8   4 bytes  uint32 H: length of the JSON header
//   12  H bytes  JSON header (UTF-8), see CheckpointHeader
//   ... zero padding to a multiple of 8
//   ... tensor data: each tensor's raw little-endian bytes at header offset (relative to data start)
//   end 32 bytes SHA-256 of every byte before it
//
// A file is valid only when the magic, the header and the trailing SHA-256 all check: a
// half-written or corrupted file is refused with a message saying so. Files are written
// atomically: a temporary file in the same folder, fsync, rename over the target, fsync of
// the folder. A kill at any moment leaves either the previous file or the new one.
//
// Checkpoints hold no rank and no world size: everything in them is global (the model, EMA,
// optimizer state and the epoch), so a run can resume with another world size.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const CHECKPOINT_MAGIC = Buffer.from([0x59, 0x4c, 0x43, 0x4b, 0x50, 0x54, 0x00, 0x01]); // "YLCKPT\0" v1

export type Section = 'model' | 'ema' | 'optimizer';
export type TensorDtype = 'float32' | 'int32';

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface TensorEntry {
  section: Section;
  name: string;
  dtype: TensorDtype;
  shape: number[];
  offset: number;
  byteLength: number;
}

export interface CheckpointMeta {
  /** Last completed epoch (0-based); -1 in a final, stripped file. */
  epoch: number;
  best_fitness: number;
  /** EMA update count (ModelEMA.updates); null when stripped. */
  updates: number | null;
  /** The optimizer's name and step count; null when stripped. */
  optimizer: { name: string; step: number } | null;
  /** The run's options (opt.yaml) and hyperparameters. */
  opt: Record<string, unknown>;
  hyp: Record<string, unknown>;
  /** The model definition (the parsed model YAML after nc/anchors overrides), to rebuild it from --weights. */
  model_yaml: Record<string, unknown>;
  names: string[];
  nc: number;
  /** Early-stopping state. */
  best_epoch: number;
  /** Per-class mAP (image weights) after the last validation. */
  maps: number[];
  date: string;
  /** Anything else worth keeping (e.g. the last results row). */
  extra?: Record<string, unknown>;
}

export interface CheckpointHeader {
  format: 'yolo-launch-checkpoint';
  version: 1;
  meta: CheckpointMeta;
  tensors: TensorEntry[];
}

export interface Checkpoint {
  meta: CheckpointMeta;
  model: NamedTensor[];
  ema: NamedTensor[] | null;
  optimizer: NamedTensor[] | null;
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Serialise a checkpoint to one Buffer (header, data, SHA-256 trailer). */
export function encodeCheckpoint(ckpt: Checkpoint): Buffer {
  const tensors: TensorEntry[] = [];
  const blobs: Buffer[] = [];
  let offset = 0;
  const add = (section: Section, list: NamedTensor[] | null): void => {
    if (!list) return;
    for (const t of list) {
      const dtype: TensorDtype = t.data instanceof Int32Array ? 'int32' : 'float32';
      const n = t.shape.reduce((a, b) => a * b, 1);
      if (n !== t.data.length) throw new CheckpointError(`tensor ${section}/${t.name}: shape [${t.shape}] holds ${n} values, data has ${t.data.length}`);
      const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      tensors.push({ section, name: t.name, dtype, shape: t.shape, offset, byteLength: bytes.length });
      blobs.push(bytes);
      const padded = align8(bytes.length);
      if (padded > bytes.length) blobs.push(Buffer.alloc(padded - bytes.length));
      offset += padded;
    }
  };
  add('model', ckpt.model);
  add('ema', ckpt.ema);
  add('optimizer', ckpt.optimizer);
  const header: CheckpointHeader = { format: 'yolo-launch-checkpoint', version: 1, meta: ckpt.meta, tensors };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length, 0);
  const headEnd = 8 + 4 + json.length;
  const pad = Buffer.alloc(align8(headEnd) - headEnd);
  const body = Buffer.concat([CHECKPOINT_MAGIC, len, json, pad, ...blobs]);
  const digest = createHash('sha256').update(body).digest();
  return Buffer.concat([body, digest]);
}

export function decodeCheckpoint(buf: Buffer, source = 'checkpoint'): Checkpoint {
  if (buf.length < 8 + 4 + 32 || !buf.subarray(0, 8).equals(CHECKPOINT_MAGIC)) {
    if (buf.subarray(0, 2).equals(Buffer.from([0x50, 0x4b])) || buf[0] === 0x80) {
      throw new CheckpointError(`${source} is a PyTorch file; yolo-launch reads its own checkpoints only (train from --cfg, or convert the state_dict)`);
    }
    throw new CheckpointError(`${source} is not a yolo-launch checkpoint (bad magic or truncated)`);
  }
  const body = buf.subarray(0, buf.length - 32);
  const want = buf.subarray(buf.length - 32);
  const got = createHash('sha256').update(body).digest();
  if (!got.equals(want)) throw new CheckpointError(`${source} is corrupt or truncated (SHA-256 mismatch)`);
  const hlen = buf.readUInt32LE(8);
  const header = JSON.parse(buf.subarray(12, 12 + hlen).toString('utf8')) as CheckpointHeader;
  if (header.format !== 'yolo-launch-checkpoint' || header.version !== 1) throw new CheckpointError(`${source}: unsupported checkpoint version`);
  const dataStart = align8(12 + hlen);
  const out: Checkpoint = { meta: header.meta, model: [], ema: null, optimizer: null };
  for (const e of header.tensors) {
    const start = dataStart + e.offset;
    // Copy into a fresh, aligned buffer: the file's Buffer may share a pool with odd offsets.
    const raw = new Uint8Array(e.byteLength);
    raw.set(body.subarray(start, start + e.byteLength));
    const data = e.dtype === 'int32' ? new Int32Array(raw.buffer) : new Float32Array(raw.buffer);
    const t: NamedTensor = { name: e.name, shape: e.shape, data };
    if (e.section === 'model') out.model.push(t);
    else if (e.section === 'ema') (out.ema ??= []).push(t);
    else (out.optimizer ??= []).push(t);
  }
  return out;
}

/** Write `data` to `file` atomically: temp file in the same folder, fsync, rename, fsync folder. */
export function writeFileAtomic(file: string, data: Buffer | string): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${Date.now()}`);
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself is still atomic.
  }
}

/** Remove temporary files left by a writer that was killed mid-write. */
export function removeStaleTemps(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const f of fs.readdirSync(dir)) {
    if (/^\..*\.tmp-\d+-\d+$/.test(f)) fs.rmSync(path.join(dir, f), { force: true });
  }
}

export function saveCheckpoint(file: string, ckpt: Checkpoint): void {
  removeStaleTemps(path.dirname(file));
  writeFileAtomic(file, encodeCheckpoint(ckpt));
}

export function loadCheckpoint(file: string): Checkpoint {
  if (!fs.existsSync(file)) throw new CheckpointError(`checkpoint ${file} does not exist`);
  return decodeCheckpoint(fs.readFileSync(file), file);
}

/**
 * YOLOv5's strip_optimizer for final files: the EMA becomes the model, and the optimizer,
 * EMA and update count are dropped; epoch = -1.
 */
export function stripOptimizer(ckpt: Checkpoint): Checkpoint {
  return {
    meta: { ...ckpt.meta, epoch: -1, updates: null, optimizer: null },
    model: ckpt.ema ?? ckpt.model,
    ema: null,
    optimizer: null,
  };
}

export function stripOptimizerFile(file: string): void {
  saveCheckpoint(file, stripOptimizer(loadCheckpoint(file)));
}
