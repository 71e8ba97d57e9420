/**
 * The data package's environment switches: two folders, read on every use (not once at
 * import). A folder is no computation switch: it changes where a file lands, never a value, and
 * reading it on use lets a program (or a test, as cache-dir.test does) point a later call
 * elsewhere by setting the variable, where a value read at import would keep whatever the first
 * importer saw.
 *
 * | variable               | what                                                       | default                           |
 * |------------------------|------------------------------------------------------------|-----------------------------------|
 * | YOLO_LAUNCH_CACHE_DIR  | label and --cache disk caches of read-only dataset folders | ~/.cache/yolo-launch              |
 * | YOLO_LAUNCH_DATASETS   | where the default synthetic dataset is generated           | ~/.cache/yolo-launch/datasets     |
 */
import os from 'node:os';
import path from 'node:path';

export interface DataPaths {
  cacheRoot: string;
  datasetsDir: string;
}

export function dataPaths(env: Readonly<Record<string, string | undefined>> = process.env): DataPaths {
  const home = path.join(os.homedir(), '.cache', 'yolo-launch');
  return {
    cacheRoot: env.YOLO_LAUNCH_CACHE_DIR ?? home,
    datasetsDir: env.YOLO_LAUNCH_DATASETS ?? path.join(home, 'datasets'),
  };
}
