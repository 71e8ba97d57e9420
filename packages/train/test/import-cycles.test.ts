// No import cycles inside packages/train/src: every relative import (type-only imports
// included) of src/**/*.ts is an edge, and a depth-first search must find no back edge.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** packages/train/src (this file runs as dist/test/import-cycles.test.js). */
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The relative imports of a file as .ts paths (static `from '...'`, `import '...'` and dynamic `import('...')`). */
export function relativeImports(file: string, text: string): string[] {
  const specifiers = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specifiers.map((s) => path.resolve(path.dirname(file), s.replace(/\.js$/, '.ts')));
}

/** The first cycle found, as a list of files (first = last), or null. */
export function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const cycle = visit(next);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    if (state.has(node)) continue;
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

test('findCycle finds a cycle and accepts a DAG', () => {
  assert.deepEqual(
    findCycle(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', ['a']],
      ]),
    ),
    ['a', 'b', 'c', 'a'],
  );
  assert.equal(
    findCycle(
      new Map([
        ['a', ['b', 'c']],
        ['b', ['c']],
        ['c', []],
      ]),
    ),
    null,
  );
});

test('relativeImports reads static, side-effect, re-export and dynamic imports', () => {
  const text =
    "import type { A } from './a.js';\nimport './b.js';\nexport { C } from '../c.js';\nconst d = await import('./d.js');\nimport x from 'node:fs';";
  assert.deepEqual(relativeImports('/p/src/f.ts', text), ['/p/src/a.ts', '/p/src/b.ts', '/p/c.ts', '/p/src/d.ts']);
});

test('packages/train/src has no import cycle', () => {
  const files = sourceFiles(SRC);
  assert.ok(files.length > 10, `expected the sources under ${SRC}`);
  const graph = new Map(files.map((f) => [f, relativeImports(f, fs.readFileSync(f, 'utf8'))]));
  for (const [file, imports] of graph)
    for (const i of imports)
      assert.ok(graph.has(i), `${path.relative(SRC, file)} imports ${path.relative(SRC, i)}, which does not exist`);
  const cycle = findCycle(graph);
  assert.equal(cycle, null, `import cycle: ${cycle?.map((f) => path.relative(SRC, f)).join(' -> ')}`);
});
