// --evolve: YOLOv5's hyperparameter evolution (train.py main(), utils/general.py
// print_mutation). Each generation is one training run; its final validation results and
// hyperparameters are appended to evolve.csv, and hyp_evolved.yaml holds the best row.
// Under DDP every generation is one DDP job (see README "--evolve").

import * as fs from 'node:fs';
import * as path from 'node:path';
import yaml from 'js-yaml';
import type { Rng } from '@yolo-launch/data';
import { RESULT_KEYS, formatG, padLeft } from './results.js';
import type { Hyp } from './config.js';

/** Mutation metadata: (gain, lower limit, upper limit), YOLOv5 v7 values. */
export const EVOLVE_META: Record<string, [number, number, number]> = {
  lr0: [1, 1e-5, 1e-1],
  lrf: [1, 0.01, 1.0],
  momentum: [0.3, 0.6, 0.98],
  weight_decay: [1, 0.0, 0.001],
  warmup_epochs: [1, 0.0, 5.0],
  warmup_momentum: [1, 0.0, 0.95],
  warmup_bias_lr: [1, 0.0, 0.2],
  box: [1, 0.02, 0.2],
  cls: [1, 0.2, 4.0],
  cls_pw: [1, 0.5, 2.0],
  obj: [1, 0.2, 4.0],
  obj_pw: [1, 0.5, 2.0],
  iou_t: [0, 0.1, 0.7],
  anchor_t: [1, 2.0, 8.0],
  anchors: [2, 2.0, 10.0],
  fl_gamma: [0, 0.0, 2.0],
  hsv_h: [1, 0.0, 0.1],
  hsv_s: [1, 0.0, 0.9],
  hsv_v: [1, 0.0, 0.9],
  degrees: [1, 0.0, 45.0],
  translate: [1, 0.0, 0.9],
  scale: [1, 0.0, 0.9],
  shear: [1, 0.0, 10.0],
  perspective: [0, 0.0, 0.001],
  flipud: [1, 0.0, 1.0],
  fliplr: [0, 0.0, 1.0],
  mosaic: [1, 0.0, 1.0],
  mixup: [1, 0.0, 1.0],
  copy_paste: [1, 0.0, 1.0],
};

/** The validation columns of results.csv (precision .. val/cls_loss), as evolve.csv starts. */
export const EVOLVE_RESULT_KEYS = RESULT_KEYS.slice(3, 10);

function roundTo(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

function fit(row: readonly number[]): number {
  return 0.1 * row[2]! + 0.9 * row[3]!;
}

/** evolve.csv rows as numbers (results then hyperparameters), with the header's keys. */
export function readEvolveCsv(file: string): { keys: string[]; rows: number[][] } {
  if (!fs.existsSync(file)) return { keys: [], rows: [] };
  const lines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  const keys = lines[0]!.split(',').map((k) => k.trim());
  return { keys, rows: lines.slice(1).map((l) => l.split(',').map((c) => Number(c.trim()))) };
}

/**
 * One generation's hyperparameters: a parent chosen from the best 5 rows of evolve.csv
 * (random.choices weighted by fitness - min + 1e-6), mutated by
 * v = (g * (rand < 0.8) * randn * rand * 0.2 + 1).clip(0.3, 3.0), then limited and rounded
 * to 5 decimals. Without evolve.csv the base hyperparameters are only limited and rounded.
 */
export function mutateHyp(base: Hyp, evolveCsv: string, rng: Rng): Hyp {
  const hyp: Hyp = { ...base };
  const keys = Object.keys(hyp);
  const { keys: csvKeys, rows } = readEvolveCsv(evolveCsv);
  if (rows.length) {
    const n = Math.min(5, rows.length);
    const top = [...rows].sort((a, b) => fit(b) - fit(a)).slice(0, n);
    const f = top.map(fit);
    const min = Math.min(...f);
    const w = f.map((v) => v - min + 1e-6);
    let x = rng.random() * w.reduce((s, v) => s + v, 0);
    let pick = 0;
    for (; pick < n - 1; pick++) {
      x -= w[pick]!;
      if (x < 0) break;
    }
    const parent = top[pick]!;
    const mp = 0.8;
    const s = 0.2;
    const g = keys.map((k) => EVOLVE_META[k]?.[0] ?? 0);
    let v = keys.map(() => 1);
    for (let guard = 0; v.every((t) => t === 1) && guard < 1000 && g.some((t) => t !== 0); guard++) {
      const r = rng.random();
      v = g.map((gi) => Math.min(Math.max(gi * (rng.random() < mp ? 1 : 0) * rng.normal() * r * s + 1, 0.3), 3.0));
    }
    keys.forEach((k, i) => {
      const col = csvKeys.indexOf(k);
      if (col >= 0) hyp[k] = parent[col]! * v[i]!;
    });
  }
  for (const [k, [, lo, hi]] of Object.entries(EVOLVE_META)) {
    if (!(k in hyp)) continue;
    hyp[k] = roundTo(Math.min(Math.max(hyp[k]!, lo), hi), 5);
  }
  return hyp;
}

/** print_mutation: append a row to evolve.csv and rewrite hyp_evolved.yaml with the best row. */
export function recordGeneration(
  saveDir: string,
  results: readonly number[],
  hyp: Hyp,
): { best: number; generations: number } {
  const csv = path.join(saveDir, 'evolve.csv');
  const keys = [...EVOLVE_RESULT_KEYS, ...Object.keys(hyp)];
  const vals = [...results, ...Object.values(hyp)];
  const head = fs.existsSync(csv) ? '' : keys.map((k) => padLeft(k, 20)).join(',') + '\n';
  fs.appendFileSync(csv, head + vals.map((v) => padLeft(formatG(v), 20)).join(',') + '\n');
  const { keys: ck, rows } = readEvolveCsv(csv);
  let best = 0;
  rows.forEach((r, i) => {
    if (fit(r) > fit(rows[best]!)) best = i;
  });
  const bestHyp: Record<string, number> = {};
  ck.slice(7).forEach((k, j) => (bestHyp[k] = rows[best]![7 + j]!));
  const text =
    '# YOLOv5 Hyperparameter Evolution Results\n' +
    `# Best generation: ${best}\n` +
    `# Last generation: ${rows.length - 1}\n` +
    '# ' +
    ck
      .slice(0, 7)
      .map((k) => padLeft(k, 20))
      .join(', ') +
    '\n' +
    '# ' +
    rows[best]!.slice(0, 7)
      .map((v) => padLeft(formatG(v), 20))
      .join(', ') +
    '\n\n' +
    yaml.dump(bestHyp, { sortKeys: false });
  fs.writeFileSync(path.join(saveDir, 'hyp_evolved.yaml'), text);
  return { best, generations: rows.length };
}
