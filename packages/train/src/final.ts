// After the last epoch (rank 0): strip the optimizer from last.pt and best.pt (the EMA
// becomes the model), then validate best.pt with the per-class table, as train.py does.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yolo from '@yolo-launch/yolo';
import { loadCheckpoint, stripOptimizerFile } from './checkpoint.js';
import type { TrainContext } from './loop.js';
import type { TrainResult } from './run.js';
import { validate } from './val.js';
import { writePlots } from './plots.js';

export async function finalValidation(ctx: TrainContext, result: TrainResult): Promise<TrainResult['final']> {
  const last = path.join(ctx.weightsFile, 'last.pt');
  const best = path.join(ctx.weightsFile, 'best.pt');
  for (const f of [last, best]) if (fs.existsSync(f)) stripOptimizerFile(f);
  let final: TrainResult['final'];
  if (fs.existsSync(best) && ctx.valLoader) {
    ctx.log.info(`\nValidating ${best}...`);
    const ck = loadCheckpoint(best);
    const saved = ctx.state.floatState();
    ctx.state.assignFloatState(ctx.state.floatStateFromCheckpoint(ck.model));
    try {
      const lossFn = yolo.ComputeLoss.forModel(ctx.model, ctx.hyp as unknown as yolo.LossHyp);
      const r = await validate(ctx, lossFn, { plots: !ctx.o.noplots, verbose: true });
      final = { p: r.mp, r: r.mr, map50: r.map50, map: r.map, loss: r.loss };
      if (!ctx.o.noplots) await writePlots(ctx, r);
    } finally {
      ctx.state.assignFloatState(saved);
    }
  }
  ctx.log.info(`Results saved to ${ctx.saveDir}`);
  ctx.log.record('final', { ...result, final });
  return final;
}
