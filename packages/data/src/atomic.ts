import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

/** Writes to a temporary file in the same folder and renames it over the target (atomic on POSIX). */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
