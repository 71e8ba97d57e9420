/**
 * Export outputs appear whole or not at all: a file is written to a temporary name, fsynced
 * and renamed over the target (train's writeFileAtomic); a folder (the TF.js web model) is
 * written complete under a temporary name and then renamed into place, the previous folder
 * moved aside first and removed after.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '@yolo-launch/train';

export { writeFileAtomic };

export function writeDirAtomic(dir: string, files: ReadonlyMap<string, Uint8Array | string>): void {
  const parent = path.dirname(dir);
  const stamp = `${process.pid}-${Date.now()}`;
  const tmp = path.join(parent, `.${path.basename(dir)}.tmp-${stamp}`);
  fs.mkdirSync(tmp, { recursive: true });
  try {
    for (const [name, data] of files) writeSynced(path.join(tmp, name), data);
    const old = path.join(parent, `.${path.basename(dir)}.old-${stamp}`);
    const hadOld = fs.existsSync(dir);
    if (hadOld) fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    if (hadOld) fs.rmSync(old, { recursive: true, force: true });
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

function writeSynced(file: string, data: Uint8Array | string): void {
  const fd = fs.openSync(file, 'w', 0o644);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
