// The previous checkpoint format, "YLCKPT" (files written before checkpoints became YOLOv5
// .pt files); still read, so that old last.pt / best.pt keep working. The writer stays for
// tests of that compatibility.
//
// Layout (all integers little-endian):
//   0   8 bytes  magic "YLCKPT\0" + format version byte (1)
//   8   4 bytes  uint32 H: length of the JSON header
//   12  H bytes  JSON header (UTF-8), see CheckpointHeader
//   ... zero padding to a multiple of 8
//   ... tensor data: each tensor's raw little-endian bytes at header offset (relative to data start)
//   end 32 bytes SHA-256 of every byte before it
// A file is valid only when the magic, the header and the trailing SHA-256 all check.

import { createHash } from 'node:crypto';
import { CheckpointError, type Checkpoint, type CheckpointMeta, type NamedTensor } from './checkpoint-types.js';

export const CHECKPOINT_MAGIC = Buffer.from([0x59, 0x4c, 0x43, 0x4b, 0x50, 0x54, 0x00, 0x01]); // "YLCKPT\0" v1

export type Section = 'model' | 'ema' | 'optimizer';
export type TensorDtype = 'float32' | 'int32';

export interface TensorEntry {
  section: Section;
  name: string;
  dtype: TensorDtype;
  shape: number[];
  offset: number;
  byteLength: number;
}

export interface CheckpointHeader {
  format: 'yolo-launch-checkpoint';
  version: 1;
  meta: CheckpointMeta;
  tensors: TensorEntry[];
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Serialise a checkpoint to one Buffer (header, data, SHA-256 trailer). */
export function encodeYlckpt(ckpt: Checkpoint): Buffer {
  const tensors: TensorEntry[] = [];
  const blobs: Buffer[] = [];
  let offset = 0;
  const add = (section: Section, list: NamedTensor[] | null): void => {
    if (!list) return;
    for (const t of list) {
      const dtype: TensorDtype = t.data instanceof Int32Array ? 'int32' : 'float32';
      const n = t.shape.reduce((a, b) => a * b, 1);
      if (n !== t.data.length)
        throw new CheckpointError(
          `tensor ${section}/${t.name}: shape [${t.shape}] holds ${n} values, data has ${t.data.length}`,
        );
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

export function decodeYlckpt(buf: Buffer, source = 'checkpoint'): Checkpoint {
  if (buf.length < 8 + 4 + 32 || !buf.subarray(0, 8).equals(CHECKPOINT_MAGIC)) {
    throw new CheckpointError(`${source} is not a yolo-launch checkpoint (bad magic or truncated)`);
  }
  const body = buf.subarray(0, buf.length - 32);
  const want = buf.subarray(buf.length - 32);
  const got = createHash('sha256').update(body).digest();
  if (!got.equals(want)) throw new CheckpointError(`${source} is corrupt or truncated (SHA-256 mismatch)`);
  const hlen = buf.readUInt32LE(8);
  const header = JSON.parse(buf.subarray(12, 12 + hlen).toString('utf8')) as CheckpointHeader;
  if (header.format !== 'yolo-launch-checkpoint' || header.version !== 1)
    throw new CheckpointError(`${source}: unsupported checkpoint version`);
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
