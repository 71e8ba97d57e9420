// Plots written after training (rank 0), drawn as SVG and rasterised by sharp:
// results.png (YOLOv5's 2x5 grid of results.csv columns), PR_curve.png, P_curve.png,
// R_curve.png, F1_curve.png,
// confusion_matrix.png; plus the numbers behind them as CSV (confusion_matrix.csv, curves.csv).

import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import type { ValResult } from './val-result.js';
import { RESULT_KEYS, readResults } from './results.js';

/** Where the plots go and the class names they show. */
export interface PlotTarget {
  saveDir: string;
  names: string[];
}

const COLORS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface Series {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  color: string;
  width?: number;
  label?: string;
}

/** One axes box with ticks and lines; returns SVG. */
function axes(
  x0: number,
  y0: number,
  w: number,
  h: number,
  title: string,
  series: Series[],
  opts: { xr?: [number, number]; yr?: [number, number]; xlabel?: string; ylabel?: string } = {},
): string {
  const all = series.flatMap((s) => Array.from(s.y)).filter(Number.isFinite);
  const xs = series.flatMap((s) => Array.from(s.x));
  const xr = opts.xr ?? [Math.min(...xs), Math.max(...xs)];
  let yr = opts.yr ?? [Math.min(...all), Math.max(...all)];
  if (!(yr[1] > yr[0])) yr = [yr[0] - 0.5, yr[0] + 0.5];
  const px = (v: number): number => x0 + ((v - xr[0]) / (xr[1] - xr[0] || 1)) * w;
  const py = (v: number): number => y0 + h - ((v - yr[0]) / (yr[1] - yr[0] || 1)) * h;
  let svg = `<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#333"/>`;
  svg += `<text x="${x0 + w / 2}" y="${y0 - 8}" font-family="sans-serif" font-size="15" text-anchor="middle">${esc(title)}</text>`;
  for (let k = 0; k <= 4; k++) {
    const yv = yr[0] + ((yr[1] - yr[0]) * k) / 4;
    const xv = xr[0] + ((xr[1] - xr[0]) * k) / 4;
    svg += `<text x="${x0 - 5}" y="${py(yv) + 4}" font-family="sans-serif" font-size="11" text-anchor="end">${+yv.toPrecision(3)}</text>`;
    svg += `<text x="${px(xv)}" y="${y0 + h + 15}" font-family="sans-serif" font-size="11" text-anchor="middle">${+xv.toPrecision(3)}</text>`;
  }
  if (opts.xlabel)
    svg += `<text x="${x0 + w / 2}" y="${y0 + h + 34}" font-family="sans-serif" font-size="13" text-anchor="middle">${esc(opts.xlabel)}</text>`;
  if (opts.ylabel)
    svg += `<text x="${x0 - 40}" y="${y0 + h / 2}" font-family="sans-serif" font-size="13" text-anchor="middle" transform="rotate(-90 ${x0 - 40} ${y0 + h / 2})">${esc(opts.ylabel)}</text>`;
  series.forEach((s, si) => {
    const pts: string[] = [];
    for (let i = 0; i < s.x.length; i++)
      if (Number.isFinite(s.y[i]!)) pts.push(`${px(s.x[i]!).toFixed(1)},${py(s.y[i]!).toFixed(1)}`);
    if (pts.length)
      svg += `<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.5}"/>`;
    if (pts.length === 1)
      svg += `<circle cx="${pts[0]!.split(',')[0]}" cy="${pts[0]!.split(',')[1]}" r="3" fill="${s.color}"/>`;
    if (s.label)
      svg += `<text x="${x0 + w - 6}" y="${y0 + 16 + 15 * si}" font-family="sans-serif" font-size="12" text-anchor="end" fill="${s.color}">${esc(s.label)}</text>`;
  });
  return svg;
}

async function writeSvgPng(svg: string, width: number, height: number, file: string): Promise<void> {
  const doc = `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg"><rect width="${width}" height="${height}" fill="white"/>${svg}</svg>`;
  await sharp(Buffer.from(doc)).png().toFile(file);
}

/** results.png: the 10 panels of YOLOv5's plot_results (losses, metrics), per epoch. */
export async function plotResults(saveDir: string): Promise<void> {
  const rows = readResults(path.join(saveDir, 'results.csv'));
  if (!rows.length) return;
  const order = [0, 1, 2, 3, 4, 7, 8, 9, 5, 6]; // train losses, P, R / val losses, mAPs (as plot_results)
  const x = rows.map((r) => r.epoch);
  let svg = '';
  order.forEach((col, k) => {
    const gx = 70 + (k % 5) * 330;
    const gy = 50 + Math.floor(k / 5) * 330;
    svg += axes(
      gx,
      gy,
      250,
      240,
      RESULT_KEYS[col]!,
      [{ x, y: rows.map((r) => r.values[col]!), color: COLORS[0]!, width: 2 }],
      { xlabel: 'epoch' },
    );
  });
  await writeSvgPng(svg, 1700, 720, path.join(saveDir, 'results.png'));
}

/** The per-class curves as YOLOv5 plots them: PR (precision over recall), and P, R, F1 over confidence. */
const CURVES = {
  PR: { file: 'PR_curve.png', ylabel: 'Precision' },
  P: { file: 'P_curve.png', ylabel: 'Precision' },
  R: { file: 'R_curve.png', ylabel: 'Recall' },
  F1: { file: 'F1_curve.png', ylabel: 'F1' },
} as const;

async function plotCurve(target: PlotTarget, r: ValResult, which: keyof typeof CURVES): Promise<void> {
  const c = r.curves!;
  const series: Series[] = [];
  const overConfidence = { P: c.p, R: c.r, F1: c.f1 };
  r.perClass.forEach((row, i) => {
    const color = COLORS[i % COLORS.length]!;
    if (which === 'PR')
      series.push({ x: c.r[i]!, y: c.p[i]!, color, width: 1, label: `${row.name} ${row.map50.toFixed(3)}` });
    else series.push({ x: c.px, y: overConfidence[which][i]!, color, width: 1, label: row.name });
  });
  const title =
    which === 'PR'
      ? `Precision-Recall (all classes ${r.map50.toFixed(3)} mAP@0.5)`
      : `${CURVES[which].ylabel}-Confidence`;
  await writeSvgPng(
    axes(80, 50, 700, 560, title, series.slice(0, 20), {
      xr: [0, 1],
      yr: [0, 1],
      xlabel: which === 'PR' ? 'Recall' : 'Confidence',
      ylabel: CURVES[which].ylabel,
    }),
    820,
    680,
    path.join(target.saveDir, CURVES[which].file),
  );
}

async function plotConfusion(target: PlotTarget, m: number[][]): Promise<void> {
  const names = [...target.names, 'background'];
  const n = names.length;
  const cell = Math.max(8, Math.min(60, Math.floor(700 / n)));
  const x0 = 160;
  const y0 = 60;
  // column-normalised, as YOLOv5 plots it
  const colSum = names.map((_, j) => m.reduce((s, row) => s + row[j]!, 0));
  const width = Math.max(x0 + n * cell + 40, 560);
  let svg = `<text x="${width / 2}" y="30" font-family="sans-serif" font-size="16" text-anchor="middle">Confusion matrix (columns: True, rows: Predicted)</text>`;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const v = colSum[j] ? m[i]![j]! / colSum[j]! : 0;
      const shade = Math.round(255 - 200 * v);
      svg += `<rect x="${x0 + j * cell}" y="${y0 + i * cell}" width="${cell}" height="${cell}" fill="rgb(${shade},${shade},255)" stroke="#ddd"/>`;
      if (cell >= 30 && v > 0)
        svg += `<text x="${x0 + j * cell + cell / 2}" y="${y0 + i * cell + cell / 2 + 4}" font-family="sans-serif" font-size="11" text-anchor="middle">${v.toFixed(2)}</text>`;
    }
  if (cell >= 14)
    names.forEach((nm, k) => {
      svg += `<text x="${x0 - 6}" y="${y0 + k * cell + cell / 2 + 4}" font-family="sans-serif" font-size="11" text-anchor="end">${esc(nm)}</text>`;
      svg += `<text x="${x0 + k * cell + cell / 2}" y="${y0 + n * cell + 14}" font-family="sans-serif" font-size="11" text-anchor="middle">${esc(nm.slice(0, 10))}</text>`;
    });
  await writeSvgPng(svg, width, y0 + n * cell + 40, path.join(target.saveDir, 'confusion_matrix.png'));
}

/** Everything of the final validation: PNGs and the CSVs behind them. */
export async function writePlots(target: PlotTarget, r: ValResult): Promise<void> {
  if (r.confusion) {
    const names = [...target.names, 'background'];
    const lines = [
      'predicted\\true,' + names.join(','),
      ...r.confusion.map((row, i) => `${names[i]},${row.join(',')}`),
    ];
    fs.writeFileSync(path.join(target.saveDir, 'confusion_matrix.csv'), lines.join('\n') + '\n');
    await plotConfusion(target, r.confusion);
  }
  if (r.curves) {
    const { px, p, r: rc, f1 } = r.curves;
    const head = [
      'confidence',
      ...p.map((_, i) => `P_${i}`),
      ...rc.map((_, i) => `R_${i}`),
      ...f1.map((_, i) => `F1_${i}`),
    ];
    const rows = [head.join(',')];
    for (let q = 0; q < px.length; q += 10)
      rows.push(
        [px[q], ...p.map((x) => x[q]), ...rc.map((x) => x[q]), ...f1.map((x) => x[q])]
          .map((v) => Number(v).toFixed(5))
          .join(','),
      );
    fs.writeFileSync(path.join(target.saveDir, 'curves.csv'), rows.join('\n') + '\n');
    for (const which of ['PR', 'P', 'R', 'F1'] as const) await plotCurve(target, r, which);
  }
  await plotResults(target.saveDir);
}
