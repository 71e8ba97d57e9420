// results.csv exactly as YOLOv5 writes it: '%20s' headers and '%20.5g' values.

import * as fs from 'node:fs';

export const RESULT_KEYS = [
  'train/box_loss',
  'train/obj_loss',
  'train/cls_loss',
  'metrics/precision',
  'metrics/recall',
  'metrics/mAP_0.5',
  'metrics/mAP_0.5:0.95',
  'val/box_loss',
  'val/obj_loss',
  'val/cls_loss',
  'x/lr0',
  'x/lr1',
  'x/lr2',
] as const;

/** C printf's %.{p}g. */
export function formatG(x: number, precision = 5): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const p = precision === 0 ? 1 : precision;
  const exp = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(p)))));
  if (exp < -4 || exp >= p) {
    const [mant, e] = x.toExponential(p - 1).split('e') as [string, string];
    const m = mant.includes('.') ? mant.replace(/\.?0+$/, '') : mant;
    const en = Number(e);
    return `${m}e${en < 0 ? '-' : '+'}${String(Math.abs(en)).padStart(2, '0')}`;
  }
  const s = x.toFixed(Math.max(0, p - 1 - exp));
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** '%{width}s' right-aligned. */
export function padLeft(s: string, width: number): string {
  return s.length >= width ? s : ' '.repeat(width - s.length) + s;
}

export function resultsHeader(): string {
  return ['epoch', ...RESULT_KEYS].map((k) => padLeft(k, 20)).join(',') + '\n';
}

export function resultsRow(epoch: number, values: readonly number[]): string {
  if (values.length !== RESULT_KEYS.length)
    throw new Error(`results row needs ${RESULT_KEYS.length} values, got ${values.length}`);
  return [epoch, ...values].map((v) => padLeft(formatG(v), 20)).join(',') + '\n';
}

/** Append one epoch's row (with the header first when the file is new). */
export function appendResults(file: string, epoch: number, values: readonly number[]): void {
  const head = fs.existsSync(file) ? '' : resultsHeader();
  fs.appendFileSync(file, head + resultsRow(epoch, values));
}

/** Read results.csv back (for resume truncation and plots). */
export function readResults(file: string): { epoch: number; values: number[] }[] {
  if (!fs.existsSync(file)) return [];
  const lines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim());
  return lines.map((l) => {
    const cells = l.split(',').map((c) => Number(c.trim()));
    return { epoch: cells[0]!, values: cells.slice(1) };
  });
}

/** Keep only rows of epochs < `epoch` (a resumed run rewrites the epochs it repeats). */
export function truncateResults(file: string, epoch: number): void {
  if (!fs.existsSync(file)) return;
  const rows = readResults(file).filter((r) => r.epoch < epoch);
  fs.writeFileSync(file, resultsHeader() + rows.map((r) => resultsRow(r.epoch, r.values)).join(''));
}
