// Module hooks for ./tfjs-gradients.ts: tfjs-core's dist/ ESM files use extensionless relative
// imports and live in a package without "type": "module".
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ResolveContext {
  parentURL?: string;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string; format?: string | null }>;
type NextLoad = (url: string, context: { format?: string | null }) => Promise<{ format: string; source?: unknown; shortCircuit?: boolean }>;

const inCoreDist = (url: string | undefined) =>
  url !== undefined && url.includes('/@tensorflow/tfjs-core/dist/') && !url.endsWith('tf-core.node.js');

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve) {
  if (inCoreDist(context.parentURL) && specifier.startsWith('.') && !specifier.endsWith('.js')) {
    const base = new URL(specifier, context.parentURL);
    for (const candidate of [`${base.href}.js`, `${base.href}/index.js`]) {
      if (existsSync(fileURLToPath(candidate))) return { url: candidate, shortCircuit: true, format: 'module' };
    }
  }
  return next(specifier, context);
}

export async function load(url: string, context: { format?: string | null }, next: NextLoad) {
  if (inCoreDist(url)) return next(url, { ...context, format: 'module' });
  return next(url, context);
}
