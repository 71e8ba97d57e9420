// check_dataset's download step: when a dataset YAML's train/val paths are missing and it
// has a `download:` entry, fetch it (once per node, before training) the way YOLOv5 does for
// coco128: an http(s) URL of a .zip (or .tar.gz) is downloaded next to the dataset root and
// unpacked; `bash <script>` runs the script. Without network or tools: a clear error.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DatasetConfig } from '@yolo-launch/data';

/** The train/val/test paths of a dataset that do not exist. */
export function missingPaths(cfg: DatasetConfig): string[] {
  return [...cfg.train, ...cfg.val, ...(cfg.test ?? [])].filter((p) => !fs.existsSync(p));
}

export async function downloadDataset(cfg: DatasetConfig, log: (line: string) => void): Promise<void> {
  const dl = cfg.extra.download;
  const missing = missingPaths(cfg);
  if (typeof dl !== 'string' || !dl.trim()) throw new Error(`Dataset not found, missing paths: ${missing.join(', ')}`);
  log(`Dataset not found ⚠️, missing paths ${missing.join(', ')}`);
  const t0 = Date.now();
  const root = path.dirname(cfg.path);
  if (/^https?:\/\//.test(dl.trim())) {
    const url = dl.trim();
    const file = path.join(root, path.basename(new URL(url).pathname) || 'dataset.zip');
    fs.mkdirSync(root, { recursive: true });
    log(`Downloading ${url} to ${file}...`);
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new Error(
        `Dataset download failed (${url}): ${(e as Error).message}; download it by hand so that ${missing[0]} exists, or fix 'path:' in ${cfg.yamlFile}`,
        { cause: e },
      );
    }
    if (!res.ok) throw new Error(`Dataset download failed (${url}): HTTP ${res.status}`);
    fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const unpack = file.endsWith('.zip')
      ? spawnSync('unzip', ['-q', '-o', file, '-d', root])
      : /\.tar(\.gz)?$|\.tgz$/.test(file)
        ? spawnSync('tar', ['-xf', file, '-C', root])
        : null;
    if (unpack && (unpack.error || unpack.status !== 0))
      throw new Error(`Unpacking ${file} failed: ${unpack.error?.message ?? unpack.stderr.toString()}`);
    if (unpack) fs.rmSync(file, { force: true });
  } else if (dl.startsWith('bash ')) {
    log(`Running ${dl} ...`);
    const r = spawnSync('bash', ['-c', dl.slice(5)], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`Dataset download script failed (exit ${r.status}): ${dl}`);
  } else {
    throw new Error(
      `Dataset 'download:' of ${cfg.yamlFile} is a Python script, which yolo-launch cannot run; prepare the dataset by hand so that ${missing[0]} exists`,
    );
  }
  const still = missingPaths(cfg);
  if (still.length) throw new Error(`Dataset download finished but paths are still missing: ${still.join(', ')}`);
  log(`Dataset download success ✅ (${((Date.now() - t0) / 1000).toFixed(1)}s), saved to ${root}`);
}
