// The checkpoint files weights/last.pt, best.pt and epoch{n}.pt: real YOLOv5 v7.0
// checkpoints (checkpoint-pt.ts) that YOLOv5's detect.py / val.py / export.py / train.py load,
// with our exact-resume data in an extra key. Reading also takes YOLOv5's own .pt files and
// the previous YLCKPT format (checkpoint-ylckpt.ts).
//
// Files are written atomically: a temporary file in the same folder, fsync, rename over the
// target, fsync of the folder. A kill at any moment leaves either the previous file or the
// new one. Every zip record's CRC-32 is checked on load, so a truncated or corrupted file is
// refused with its name.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckpointError, type Checkpoint } from './checkpoint-types.js';
import { CHECKPOINT_MAGIC, decodeYlckpt } from './checkpoint-ylckpt.js';
import { decodePtCheckpoint, encodePtCheckpoint } from './checkpoint-pt.js';

export { CheckpointError } from './checkpoint-types.js';
export type { Checkpoint, CheckpointMeta, NamedTensor } from './checkpoint-types.js';

/** Serialise a checkpoint as a YOLOv5 .pt (`archiveName`: the folder inside the zip, torch uses the file stem). */
export function encodeCheckpoint(ckpt: Checkpoint, archiveName = 'archive'): Buffer {
  return encodePtCheckpoint(ckpt, archiveName);
}

/** Read a checkpoint: ours (.pt or the older YLCKPT) or YOLOv5's own .pt. `source` names it in errors. */
export function decodeCheckpoint(buf: Buffer, source = 'checkpoint'): Checkpoint {
  if (buf.subarray(0, 6).equals(CHECKPOINT_MAGIC.subarray(0, 6))) return decodeYlckpt(buf, source);
  return decodePtCheckpoint(buf, source);
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
  writeFileAtomic(file, encodeCheckpoint(ckpt, path.basename(file, path.extname(file)) || 'archive'));
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
