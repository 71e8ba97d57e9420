// File resolution (YOLOv5's check_file / check_yaml) and run folders (increment_path).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './options.js';

/** packages/train (from dist/src/paths.js). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The hyp files shipped with this package. */
export const HYP_DIR = path.join(PACKAGE_ROOT, 'data', 'hyps');

/**
 * check_file: an existing path is used as is; otherwise the bare file name is looked up in
 * the folders of files shipped with the project (first match wins). Refused with a clear
 * message listing where it looked.
 */
export function checkFile(
  file: string,
  what: string,
  shippedDirs: readonly string[],
  suffixes: readonly string[] = [],
): string {
  if (!file) throw new UsageError(`${what}: no file given`);
  if (suffixes.length && !suffixes.some((s) => file.toLowerCase().endsWith(s))) {
    throw new UsageError(`${what} ${file}: expected a ${suffixes.join(' or ')} file`);
  }
  const direct = path.resolve(file);
  if (fs.existsSync(direct) && fs.statSync(direct).isFile()) return direct;
  const base = path.basename(file);
  for (const dir of shippedDirs) {
    const shippedFile = path.join(dir, base);
    if (fs.existsSync(shippedFile) && fs.statSync(shippedFile).isFile()) return shippedFile;
  }
  const shipped = shippedDirs.flatMap((dir) =>
    fs.existsSync(dir)
      ? fs.readdirSync(dir).filter((f) => !suffixes.length || suffixes.some((s) => f.endsWith(s)))
      : [],
  );
  throw new UsageError(
    `${what} '${file}' not found: no such file (from ${process.cwd()})` +
      (shipped.length ? ` and no shipped file of that name (shipped: ${[...new Set(shipped)].sort().join(', ')})` : ''),
  );
}

export function checkYaml(file: string, what: string, shippedDirs: readonly string[]): string {
  return checkFile(file, what, shippedDirs, ['.yaml', '.yml']);
}

/**
 * increment_path: runs/train/exp, exp2, exp3 ... (sep ''), or `p` itself with exist_ok.
 * Does not create anything (the caller creates the folder once every check has passed).
 */
export function incrementPath(p: string, existOk = false, sep = ''): string {
  if (!fs.existsSync(p) || existOk) return p;
  const ext = fs.statSync(p).isFile() ? path.extname(p) : '';
  const stem = ext ? p.slice(0, -ext.length) : p;
  for (let n = 2; n < 10000; n++) {
    const candidate = `${stem}${sep}${n}${ext}`;
    if (!fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`increment_path: no free name for ${p}`);
}

/** get_latest_run: the most recently modified last*.pt under a folder, or ''. */
export function latestRun(searchDir: string): string {
  let best = '';
  let bestTime = -Infinity;
  const walk = (dir: string, depth: number): void => {
    if (depth > 6 || !fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const entryPath = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(entryPath, depth + 1);
      else if (/^last.*\.pt$/.test(entry.name)) {
        const modified = fs.statSync(entryPath).mtimeMs;
        if (modified > bestTime) {
          bestTime = modified;
          best = entryPath;
        }
      }
    }
  };
  walk(searchDir, 0);
  return best;
}
