import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** packages/data (from dist/test/helpers.js). */
export const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
export const repoRoot = path.resolve(packageRoot, '../..');
export const sharedDir = path.resolve(repoRoot, '../shared');
export const fixturesDir = process.env.YOLO_FIXTURES_DIR ?? path.resolve(sharedDir, 'fixtures/yolov5');
export const coco128Yaml = path.resolve(sharedDir, 'datasets/coco128.yaml');

export interface Fixture {
  kind: string;
  case: string;
  description: string;
  inputs: Record<string, unknown>;
  expected: Record<string, unknown>;
  tolerance: Record<string, unknown>;
  file: string;
}

export interface FixtureTensor {
  shape: number[];
  dtype: string;
  data: number[];
}

/** Every *.json in a fixture folder. */
export function loadFixtures(folder: string): Fixture[] {
  const dir = path.join(fixturesDir, folder);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ ...(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Omit<Fixture, 'file'>), file: f }));
}

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `yl-data-${tag}-`));
}

export function close(got: number, want: number, abs: number, rel = 0): boolean {
  return Math.abs(got - want) <= abs + rel * Math.abs(want);
}

/** Every JPEG under ../shared/datasets/<set>/images for the given sets (those present), sorted. */
export function sharedJpegs(sets: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.jpe?g$/i.test(e.name)) out.push(p);
    }
  };
  for (const set of sets) {
    const dir = path.join(sharedDir, 'datasets', set, 'images');
    if (fs.existsSync(dir)) walk(dir);
  }
  return out.sort();
}

/** A test's skip reason when `sharedJpegs(sets)` found nothing, else false. */
export function noSharedJpegs(files: readonly string[], sets: readonly string[]): string | false {
  return files.length ? false : `no ${sets.join('/')} images under ${sharedDir}/datasets`;
}
