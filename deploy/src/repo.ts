// Where things are, resolved from this file so that the compiled code (dist/src/*.js) and the
// tests (dist/test/*.js) find the recipes whatever the current directory is.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The deploy/ folder (from dist/src/repo.js: two levels up). */
export const deployDir = fileURLToPath(new URL('../../', import.meta.url));

/** The monorepo root: the Docker build context. */
export const repoRoot = path.resolve(deployDir, '..');

export function deployPath(...parts: string[]): string {
  return path.join(deployDir, ...parts);
}

export function repoPath(...parts: string[]): string {
  return path.join(repoRoot, ...parts);
}
