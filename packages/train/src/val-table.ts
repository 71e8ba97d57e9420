// val.py's printed table: the header (Class, Images, Instances, P, R, mAP50, mAP50-95) and one row.

import { formatG, padLeft } from './results.js';

export function valRow(
  name: string,
  images: number,
  instances: number,
  p: number,
  r: number,
  m50: number,
  m: number,
): string {
  return (
    padLeft(name, 22) +
    [images, instances].map((v) => padLeft(String(Math.round(v)), 11)).join('') +
    [p, r, m50, m].map((v) => padLeft(formatG(v, 3), 11)).join('')
  );
}

export function valHeader(): string {
  return (
    padLeft('Class', 22) + ['Images', 'Instances', 'P', 'R', 'mAP50', 'mAP50-95'].map((s) => padLeft(s, 11)).join('')
  );
}
