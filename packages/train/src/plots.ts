// Plots written at the end of training. Placeholder-free: only what is implemented here is
// written (see README "Results layout" for the list); none of them are needed to resume.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TrainContext } from './loop.js';
import type { ValResult } from './val.js';

/** confusion_matrix.csv (the numbers behind YOLOv5's confusion_matrix.png) and PR/F1 curve data. */
export async function writePlots(ctx: TrainContext, r: ValResult): Promise<void> {
  if (r.confusion) {
    const names = [...ctx.names, 'background'];
    const lines = ['predicted\\true,' + names.join(','), ...r.confusion.map((row, i) => `${names[i]},${row.join(',')}`)];
    fs.writeFileSync(path.join(ctx.saveDir, 'confusion_matrix.csv'), lines.join('\n') + '\n');
  }
  if (r.curves) {
    const { px, p, r: rc, f1 } = r.curves;
    const head = ['confidence', ...p.map((_, i) => `P_${i}`), ...rc.map((_, i) => `R_${i}`), ...f1.map((_, i) => `F1_${i}`)];
    const rows = [head.join(',')];
    for (let q = 0; q < px.length; q += 10) rows.push([px[q], ...p.map((x) => x[q]), ...rc.map((x) => x[q]), ...f1.map((x) => x[q])].map((v) => Number(v).toFixed(5)).join(','));
    fs.writeFileSync(path.join(ctx.saveDir, 'curves.csv'), rows.join('\n') + '\n');
  }
}
