/** Fixture loading and tolerance checks shared by the tests. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

/** packages/yolo (from dist/test/helpers.js). */
export const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
export const repoRoot = path.resolve(packageRoot, '../..');
export const fixturesDir = process.env.YOLO_FIXTURES_DIR ?? path.resolve(repoRoot, '../shared/fixtures/yolov5');

/**
 * The backend the tensor tests run on: wasm, unless YOLO_TEST_BACKEND names another
 * (tensorflow.test.ts reruns every test file with YOLO_TEST_BACKEND=tensorflow). Same
 * tolerances on every backend.
 */
export const testBackend = parseTestBackend(process.env.YOLO_TEST_BACKEND);

function parseTestBackend(raw: string | undefined): 'wasm' | 'tensorflow' | 'cpu' {
  if (raw === undefined || raw === '') return 'wasm';
  if (raw === 'wasm' || raw === 'tensorflow' || raw === 'cpu') return raw;
  throw new Error(`YOLO_TEST_BACKEND=${JSON.stringify(raw)}: use wasm, tensorflow or cpu`);
}

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
  if (bad)
    assert.fail(
      `${what}: ${bad}/${exp.length} values out of tolerance (abs ${a}, rel ${r}); worst at ${worst}: got ${got[worst]}, expected ${exp[worst]}`,
    );
}

export function tol(fx: Fixture, key: string): Tolerance {
  const t = fx.tolerance[key];
  if (typeof t !== 'object' || t === null) throw new Error(`${fx.file}: no tolerance '${key}'`);
  return t as Tolerance;
}

/** The README's summary form of a large tensor. */
export interface TensorSummary {
  shape: number[];
  sum: number;
  abs_sum: number;
  mean: number;
  min: number;
  max: number;
  sample_indices: number[];
  sample_values: number[];
}

export function isSummary(t: unknown): t is TensorSummary {
  return typeof t === 'object' && t !== null && 'sample_indices' in t;
}

/**
 * Compare against a full tensor or a summary. For a summary: the sampled values, min and max
 * with the element tolerance; abs_sum with it relative to abs_sum; the signed sum with the same
 * error allowed on the magnitude that produced it (abs + rel * abs_sum).
 */
export function assertMatches(
  got: ArrayLike<number>,
  exp: FixtureTensor | TensorSummary,
  t: Tolerance,
  what: string,
): void {
  if (!isSummary(exp)) return assertClose(got, Float32Array.from(exp.data), t, what);
  const n = exp.shape.reduce((a, b) => a * b, 1);
  assert.equal(got.length, n, `${what}: size`);
  assertClose(
    exp.sample_indices.map((i) => got[i]!),
    exp.sample_values,
    t,
    `${what} (sampled values)`,
  );
  let s = 0;
  let a = 0;
  let mn = Infinity;
  let mx = -Infinity;
  for (let i = 0; i < got.length; i++) {
    const v = got[i]!;
    s += v;
    a += Math.abs(v);
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  assertClose([mn, mx], [exp.min, exp.max], t, `${what} (min, max)`);
  assertClose([a], [exp.abs_sum], { abs: t.abs ?? 0, rel: Math.max(t.rel ?? 0, 1e-5) }, `${what} (abs_sum)`);
  assertClose([s], [exp.sum], { abs: (t.abs ?? 0) + Math.max(t.rel ?? 0, 1e-5) * exp.abs_sum }, `${what} (sum)`);
}
