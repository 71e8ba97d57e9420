/** Fixture loading and tolerance checks shared by the tests. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

/** packages/yolo (from dist/test/helpers.js). */
export const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
export const repoRoot = path.resolve(packageRoot, '../..');
export const fixturesDir = process.env.YOLO_FIXTURES_DIR ?? path.resolve(repoRoot, '../shared/fixtures/yolov5');

export interface FixtureTensor {
  shape: number[];
  dtype: 'float32' | 'float64' | 'int64' | 'bool';
  data: number[];
}
export interface Tolerance {
  abs?: number;
  rel?: number;
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

/** Every *.json in a fixture folder (sorted), parsed. */
export function loadFixtures(folder: string): Fixture[] {
  const dir = path.join(fixturesDir, folder);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ ...(JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Omit<Fixture, 'file'>), file: f }));
}

export function f32(t: FixtureTensor): Float32Array {
  return Float32Array.from(t.data);
}

/** |got - exp| <= abs + rel*|exp| for every element; reports the worst offender. */
export function assertClose(got: ArrayLike<number>, exp: ArrayLike<number>, tol: Tolerance, what: string): void {
  assert.equal(got.length, exp.length, `${what}: length ${got.length} != ${exp.length}`);
  const a = tol.abs ?? 0;
  const r = tol.rel ?? 0;
  let worst = -1;
  let worstExcess = 0;
  let bad = 0;
  for (let i = 0; i < exp.length; i++) {
    const g = got[i]!;
    const e = exp[i]!;
    const lim = a + r * Math.abs(e);
    const d = Math.abs(g - e);
    if (!(d <= lim)) {
      bad++;
      if (!(d - lim <= worstExcess) || worst < 0) {
        worst = i;
        worstExcess = d - lim;
      }
    }
  }
  if (bad) assert.fail(`${what}: ${bad}/${exp.length} values out of tolerance (abs ${a}, rel ${r}); worst at ${worst}: got ${got[worst]}, expected ${exp[worst]}`);
}

export function tol(fx: Fixture, key: string): Tolerance {
  const t = fx.tolerance[key];
  if (typeof t !== 'object' || t === null) throw new Error(`${fx.file}: no tolerance '${key}'`);
  return t as Tolerance;
}
