/**
 * Visual checks, drawn as YOLOv5 draws them: labels.jpg (instances per class, box shapes,
 * centre and size distributions) and train_batch<k>.jpg (a grid of augmented images with
 * boxes and class names). Everything is an SVG rasterised and composited by sharp.
 */
import sharp from 'sharp';
import type { OverlayOptions } from 'sharp';
import type { YoloDataset } from './dataset.js';
import type { Batch } from './collate.js';

/** Ultralytics' colour palette. */
const PALETTE = [
  'FF3838',
  'FF9D97',
  'FF701F',
  'FFB21D',
  'CFD231',
  '48F90A',
  '92CC17',
  '3DDB86',
  '1A9334',
  '00D4BB',
  '2C99A8',
  '00C2FF',
  '344593',
  '6473FF',
  '0018EC',
  '8438FF',
  '520085',
  'CB38FF',
  'FF95C8',
  'FF37C7',
];
export function classColor(c: number): string {
  return `#${PALETTE[((c % PALETTE.length) + PALETTE.length) % PALETTE.length]}`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A panel frame with axes, ticks and a title; returns svg and a mapper from data to pixels. */
function panel(
  x0: number,
  y0: number,
  w: number,
  h: number,
  title: string,
  xr: [number, number],
  yr: [number, number],
  xlabel: string,
  ylabel: string,
): { svg: string; px: (v: number) => number; py: (v: number) => number } {
  const px = (v: number): number => x0 + ((v - xr[0]) / (xr[1] - xr[0] || 1)) * w;
  const py = (v: number): number => y0 + h - ((v - yr[0]) / (yr[1] - yr[0] || 1)) * h;
  let svg = `<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#333" stroke-width="1.5"/>`;
  svg += `<text x="${x0 + w / 2}" y="${y0 - 10}" font-family="sans-serif" font-size="18" text-anchor="middle">${esc(title)}</text>`;
  svg += `<text x="${x0 + w / 2}" y="${y0 + h + 44}" font-family="sans-serif" font-size="16" text-anchor="middle">${esc(xlabel)}</text>`;
  svg += `<text x="${x0 - 48}" y="${y0 + h / 2}" font-family="sans-serif" font-size="16" text-anchor="middle" transform="rotate(-90 ${x0 - 48} ${y0 + h / 2})">${esc(ylabel)}</text>`;
  for (let k = 0; k <= 4; k++) {
    const yv = yr[0] + ((yr[1] - yr[0]) * k) / 4;
    svg += `<text x="${x0 - 6}" y="${py(yv) + 5}" font-family="sans-serif" font-size="12" text-anchor="end">${+yv.toPrecision(3)}</text>`;
    const xv = xr[0] + ((xr[1] - xr[0]) * k) / 4;
    if (xlabel)
      svg += `<text x="${px(xv)}" y="${y0 + h + 18}" font-family="sans-serif" font-size="12" text-anchor="middle">${+xv.toPrecision(3)}</text>`;
  }
  return { svg, px, py };
}

/** 2D histogram of (a, b) pairs in [0, 1]^2 as shaded cells. */
function hist2d(pairs: Array<[number, number]>, x0: number, y0: number, size: number, bins = 50): string {
  const counts = new Float64Array(bins * bins);
  for (const [a, b] of pairs) {
    const i = Math.min(bins - 1, Math.max(0, Math.floor(a * bins)));
    const j = Math.min(bins - 1, Math.max(0, Math.floor(b * bins)));
    counts[j * bins + i]! += 1;
  }
  const max = Math.max(1, ...counts);
  const cell = size / bins;
  let svg = '';
  for (let j = 0; j < bins; j++)
    for (let i = 0; i < bins; i++) {
      const c = counts[j * bins + i]!;
      if (!c) continue;
      const t = Math.sqrt(c / max);
      const col = `rgb(${Math.round(255 - 223 * t)},${Math.round(255 - 160 * t)},${Math.round(255 - 75 * t)})`;
      svg += `<rect x="${(x0 + i * cell).toFixed(1)}" y="${(y0 + size - (j + 1) * cell).toFixed(1)}" width="${cell.toFixed(2)}" height="${cell.toFixed(2)}" fill="${col}"/>`;
    }
  return svg;
}

/** labels.jpg: instances per class; boxes drawn at the centre; x/y and width/height densities. */
export async function plotLabels(dataset: Pick<YoloDataset, 'labels' | 'names'>, file: string): Promise<void> {
  const nc = dataset.names.length;
  const counts = new Array<number>(nc).fill(0);
  const rows: number[][] = [];
  for (const l of dataset.labels)
    for (let i = 0; i < l.length; i += 5) {
      const c = Math.trunc(l[i]!);
      if (c >= 0 && c < nc) counts[c]!++;
      rows.push([c, l[i + 1]!, l[i + 2]!, l[i + 3]!, l[i + 4]!]);
    }
  const W = 1600;
  const H = 1600;
  const P = 600;
  let svg = `<svg width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg"><rect width="${W}" height="${H}" fill="white"/>`;
  // instances per class
  const maxCount = Math.max(1, ...counts);
  const a = panel(120, 80, P, P, `${rows.length} instances, ${nc} classes`, [0, nc], [0, maxCount], '', 'instances');
  svg += a.svg;
  const bw = P / Math.max(1, nc);
  counts.forEach((c, k) => {
    svg += `<rect x="${(a.px(k) + bw * 0.1).toFixed(1)}" y="${a.py(c).toFixed(1)}" width="${(bw * 0.8).toFixed(1)}" height="${(a.py(0) - a.py(c)).toFixed(1)}" fill="${classColor(k)}"/>`;
    if (nc <= 30) {
      const tx = a.px(k + 0.5);
      svg += `<text x="${tx}" y="${80 + P + 14}" font-family="sans-serif" font-size="12" text-anchor="end" transform="rotate(-90 ${tx} ${80 + P + 14})">${esc(dataset.names[k] ?? String(k))}</text>`;
    }
  });
  // box shapes at the centre (first 1000 boxes)
  const b = panel(880, 80, P, P, 'boxes (centred)', [0, 1], [0, 1], '', '');
  svg += b.svg;
  for (const r of rows.slice(0, 1000)) {
    svg += `<rect x="${b.px(0.5 - r[3]! / 2).toFixed(1)}" y="${b.py(0.5 + r[4]! / 2).toFixed(1)}" width="${(r[3]! * P).toFixed(1)}" height="${(r[4]! * P).toFixed(1)}" fill="none" stroke="${classColor(r[0]!)}" stroke-opacity="0.5" stroke-width="1"/>`;
  }
  const c = panel(120, 880, P, P, 'box centres', [0, 1], [0, 1], 'x', 'y');
  svg +=
    hist2d(
      rows.map((r) => [r[1]!, 1 - r[2]!]),
      120,
      880,
      P,
    ) + c.svg;
  const d = panel(880, 880, P, P, 'box sizes', [0, 1], [0, 1], 'width', 'height');
  svg +=
    hist2d(
      rows.map((r) => [r[3]!, r[4]!]),
      880,
      880,
      P,
    ) + d.svg;
  svg += '</svg>';
  await sharp(Buffer.from(svg)).flatten({ background: '#ffffff' }).jpeg({ quality: 90 }).toFile(file);
}

/** train_batch<k>.jpg: up to maxImages images of a batch in a grid, with boxes and class names. */
export async function plotBatch(
  batch: Pick<Batch, 'images' | 'shape' | 'targets' | 'paths'>,
  names: readonly string[],
  file: string,
  opts: { maxImages?: number; maxSize?: number } = {},
): Promise<void> {
  const [bs, h, w] = batch.shape;
  const n = Math.min(bs, opts.maxImages ?? 16);
  const ns = Math.ceil(Math.sqrt(n));
  const scale = Math.min(1, (opts.maxSize ?? 1920) / (ns * Math.max(h, w)));
  const tw = Math.round(w * scale);
  const th = Math.round(h * scale);
  const W = ns * tw;
  const H = Math.ceil(n / ns) * th;
  const tiles: OverlayOptions[] = [];
  for (let i = 0; i < n; i++) {
    const raw = batch.images.subarray(i * h * w * 3, (i + 1) * h * w * 3);
    let s = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
    if (scale !== 1) s = s.resize(tw, th, { kernel: 'linear' });
    tiles.push({ input: await s.png().toBuffer(), left: (i % ns) * tw, top: Math.floor(i / ns) * th });
  }
  const fs = Math.max(10, Math.round(Math.min(tw, th) / 22));
  let svg = `<svg width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">`;
  for (let i = 0; i < n; i++) {
    const ox = (i % ns) * tw;
    const oy = Math.floor(i / ns) * th;
    svg += `<rect x="${ox}" y="${oy}" width="${tw}" height="${th}" fill="none" stroke="white" stroke-width="2"/>`;
    const name = batch.paths[i]?.split(/[\\/]/).pop()?.slice(0, 40) ?? '';
    svg += `<text x="${ox + 4}" y="${oy + fs + 2}" font-family="sans-serif" font-size="${fs}" fill="rgb(220,220,220)" stroke="black" stroke-width="0.4">${esc(name)}</text>`;
  }
  for (let r = 0; r < batch.targets.length; r += 6) {
    const i = batch.targets[r]!;
    if (i >= n) continue;
    const c = Math.trunc(batch.targets[r + 1]!);
    const ox = (i % ns) * tw;
    const oy = Math.floor(i / ns) * th;
    const x1 = ox + (batch.targets[r + 2]! - batch.targets[r + 4]! / 2) * tw;
    const y1 = oy + (batch.targets[r + 3]! - batch.targets[r + 5]! / 2) * th;
    const bw = batch.targets[r + 4]! * tw;
    const bh = batch.targets[r + 5]! * th;
    const col = classColor(c);
    const label = esc(names[c] ?? String(c));
    svg += `<rect x="${x1.toFixed(1)}" y="${y1.toFixed(1)}" width="${bw.toFixed(1)}" height="${bh.toFixed(1)}" fill="none" stroke="${col}" stroke-width="2"/>`;
    const lw = label.length * fs * 0.6 + 4;
    const ly = y1 - fs - 2 < oy ? y1 : y1 - fs - 2;
    svg += `<rect x="${x1.toFixed(1)}" y="${ly.toFixed(1)}" width="${lw.toFixed(1)}" height="${fs + 2}" fill="${col}"/>`;
    svg += `<text x="${(x1 + 2).toFixed(1)}" y="${(ly + fs - 1).toFixed(1)}" font-family="sans-serif" font-size="${fs}" fill="white">${label}</text>`;
  }
  svg += '</svg>';
  tiles.push({ input: Buffer.from(svg), left: 0, top: 0 });
  await sharp({ create: { width: W, height: H, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(tiles)
    .jpeg({ quality: 90 })
    .toFile(file);
}
