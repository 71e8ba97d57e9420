/**
 * Dataset YAML as ultralytics reads it (check_dataset):
 *   path:  dataset root; relative to the YAML file's folder (absent: the YAML's folder)
 *   train/val/test: a folder, a .txt list of images, or a list of either, relative to path
 *   names: a list or a {index: name} dict; nc (optional) must equal len(names)
 */
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';

export type SplitName = 'train' | 'val' | 'test';

export interface DatasetConfig {
  /** Absolute path of the YAML file (or '' when built from an object). */
  yamlFile: string;
  /** Absolute dataset root. */
  path: string;
  /** Each split resolved to absolute folder/.txt paths; undefined when absent. */
  train: string[];
  val: string[];
  test?: string[];
  /** Class names indexed by class id. */
  names: string[];
  nc: number;
  /** Keys of the YAML we do not interpret (download:, etc.), kept for the user. */
  extra: Record<string, unknown>;
}

export class DatasetConfigError extends Error {
  override name = 'DatasetConfigError';
}

function resolveEntry(root: string, entry: string): string {
  const x = path.resolve(root, entry);
  // ultralytics: a '../x' that does not exist is retried as 'x' under path
  if (!fs.existsSync(x) && entry.startsWith('../')) return path.resolve(root, entry.slice(3));
  return x;
}

function resolveSplit(root: string, value: unknown, key: string, where: string): string[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') return [resolveEntry(root, value)];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    return value.map((v: string) => path.resolve(root, v));
  }
  throw new DatasetConfigError(
    `${where}: '${key}' must be a folder, a .txt file or a list of them, got ${JSON.stringify(value)}`,
  );
}

function parseNames(raw: unknown, where: string): string[] {
  if (Array.isArray(raw)) return raw.map((n) => String(n));
  if (raw && typeof raw === 'object') {
    const entries = Object.entries(raw as Record<string, unknown>);
    const names: string[] = [];
    for (const [k, v] of entries) {
      if (!/^\d+$/.test(k))
        throw new DatasetConfigError(`${where}: names keys must be integers, i.e. '2: car', got '${k}'`);
      names[Number(k)] = String(v);
    }
    for (let i = 0; i < names.length; i++) {
      if (names[i] === undefined)
        throw new DatasetConfigError(
          `${where}: names has no entry for class ${i}; class ids must be 0..nc-1 without gaps`,
        );
    }
    return names;
  }
  throw new DatasetConfigError(`${where}: 'names' must be a list or a {index: name} mapping`);
}

/** Builds a DatasetConfig from an already parsed YAML object; `baseDir` resolves a relative `path:`. */
export function datasetConfigFromObject(obj: unknown, baseDir: string, yamlFile = ''): DatasetConfig {
  const where = yamlFile || 'dataset config';
  if (!obj || typeof obj !== 'object' || Array.isArray(obj))
    throw new DatasetConfigError(`${where}: expected a YAML mapping`);
  const data = { ...(obj as Record<string, unknown>) };
  for (const k of ['train', 'val', 'names'] as const) {
    if (data[k] === undefined || data[k] === null) {
      throw new DatasetConfigError(
        `${where}: '${k}:' key missing. 'train', 'val' and 'names' are required in all data YAMLs.`,
      );
    }
  }
  const names = parseNames(data.names, where);
  if (data.nc !== undefined && data.nc !== null && Number(data.nc) !== names.length) {
    throw new DatasetConfigError(
      `${where}: nc=${String(data.nc)} but ${names.length} names are listed; make 'nc' equal the number of names (or drop 'nc').`,
    );
  }
  const rawPath = typeof data.path === 'string' && data.path !== '' ? data.path : '.';
  const root = path.resolve(baseDir, rawPath);
  const train = resolveSplit(root, data.train, 'train', where) ?? [];
  const val = resolveSplit(root, data.val, 'val', where) ?? [];
  const test = resolveSplit(root, data.test, 'test', where);
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) {
    if (!['path', 'train', 'val', 'test', 'names', 'nc'].includes(k)) extra[k] = v;
  }
  return { yamlFile, path: root, train, val, ...(test ? { test } : {}), names, nc: names.length, extra };
}

/** Reads and checks a dataset YAML file. */
export function loadDatasetYaml(file: string): DatasetConfig {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) throw new DatasetConfigError(`dataset YAML ${abs} does not exist`);
  let obj: unknown;
  try {
    obj = yaml.load(fs.readFileSync(abs, 'utf8'));
  } catch (e) {
    throw new DatasetConfigError(`${abs}: invalid YAML: ${(e as Error).message}`);
  }
  return datasetConfigFromObject(obj, path.dirname(abs), abs);
}
