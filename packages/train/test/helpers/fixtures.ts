import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** /work/main (from dist/test/helpers/fixtures.js). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export function fixturesDir(): string {
  return process.env.YOLO_FIXTURES_DIR ?? path.resolve(REPO_ROOT, '../shared/fixtures/yolov5');
}

export interface Fixture {
  kind: string;
  case: string;
  description: string;
  inputs: Record<string, unknown>;
  expected: Record<string, unknown>;
  tolerance: Record<string, unknown>;
  file: string;
}

/** Every *.json of a fixture folder. */
export function loadFixtures(folder: string): Fixture[] {
  const dir = path.join(fixturesDir(), folder);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ ...(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Omit<Fixture, 'file'>), file: f }));
}

export function close(got: number, want: number, tol: { abs?: number; rel?: number }, what: string): void {
  const a = tol.abs ?? 0;
  const r = tol.rel ?? 0;
  if (!(Math.abs(got - want) <= a + r * Math.abs(want))) {
    throw new Error(`${what}: got ${got}, expected ${want} (abs ${a}, rel ${r})`);
  }
}
