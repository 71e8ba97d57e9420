// From the tally to the result: P, R, mAP, the per-class rows, the mean losses; the table to
// the log and the `val` record.

import * as yolo from '@yolo-launch/yolo';
import { speedShape, type ClassRow, type ValResult } from './val-result.js';
import { valHeader, valRow } from './val-table.js';
import type { ValidateOptions, ValidationInputs } from './val-inputs.js';
import type { Tally } from './val-tally.js';

/** P, R, mAP and the per-class rows from the tally; the table goes to the log. */
export function summarize(inputs: ValidationInputs, tally: Tally, opts: ValidateOptions): ValResult {
  const { nc, names, log } = inputs;
  const m = tally.stats.compute();
  const { mp, mr, map50, map, seen } = m;
  const instances = m.nt.reduce((s, v) => s + v, 0);
  const maps = Array.from(m.maps);
  const perClass: ClassRow[] = [];
  let curves: ValResult['curves'];
  if (m.perClass) {
    curves = m.perClass.curves;
    const s = yolo.apSummary(m.perClass);
    m.perClass.uniqueClasses.forEach((c, i) => {
      perClass.push({
        cls: c,
        name: names[c] ?? String(c),
        images: tally.imagesPerClass[c]!,
        instances: m.nt[c]!,
        p: m.perClass!.p[i]!,
        r: m.perClass!.r[i]!,
        map50: s.ap50[i]!,
        map: s.apMean[i]!,
      });
    });
  }
  log.info(valHeader());
  log.info(valRow('all', seen, instances, mp, mr, map50, map));
  if (instances === 0) log.warn(`no labels found in val set, can not compute metrics without labels`);
  if (opts.verbose && nc > 1)
    for (const c of perClass) log.info(valRow(c.name, c.images, c.instances, c.p, c.r, c.map50, c.map));
  const loss = tally.lossSum.map((v) => v / Math.max(1, tally.batches));
  const out: ValResult = {
    mp,
    mr,
    map50,
    map,
    loss,
    maps,
    seen,
    instances,
    perClass,
    speed: speedShape([0, 0, 0]),
    seconds: 0,
  };
  if (curves) out.curves = curves;
  if (opts.plots) out.confusion = confusionRows(tally.confusion);
  log.record('val', { mp, mr, map50, map, loss, seen, instances });
  return out;
}

/** The confusion matrix as rows (predicted class) of columns (true class) for plots and CSV; index nc = background. */
export function confusionRows(cm: yolo.ConfusionMatrix): number[][] {
  const n = cm.nc + 1;
  return Array.from({ length: n }, (_, i) => Array.from(cm.matrix.subarray(i * n, (i + 1) * n)));
}
