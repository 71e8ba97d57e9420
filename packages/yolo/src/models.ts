import { fileURLToPath } from 'node:url';

/** The model YAMLs shipped with the package (models/yolov5{n,s,m,l,x}.yaml). */
export const MODEL_NAMES = ['yolov5n', 'yolov5s', 'yolov5m', 'yolov5l', 'yolov5x'] as const;

/**
 * Path of a shipped model YAML, e.g. modelYamlPath('yolov5s') or modelYamlPath('yolov5s.yaml').
 * Returns null for names that are not shipped (callers then treat the argument as a path).
 */
export function modelYamlPath(name: string): string | null {
  const base = name.replace(/\.ya?ml$/, '');
  if (!(MODEL_NAMES as readonly string[]).includes(base)) return null;
  // dist/src/models.js -> package root
  return fileURLToPath(new URL(`../../models/${base}.yaml`, import.meta.url));
}
