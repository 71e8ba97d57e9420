// After the last epoch (rank 0): strip the optimizer from last.pt and best.pt (the EMA
// becomes the model), then validate best.pt with the per-class table, as train.py does.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yolo from '@yolo-launch/yolo';
import { loadCheckpoint, stripOptimizerFile } from './checkpoint.js';
import type { FinalMetrics, TrainContext, TrainResult } from './context.js';
import { validate, validationInputs } from './val.js';
import { writePlots } from './plots.js';

export async function finalValidation(ctx: TrainContext, result: TrainResult): Promise<FinalMetrics | undefined> {
  const { state, log, options } = ctx;
  const last = path.join(ctx.weightsDir, 'last.pt');
  const best = path.join(ctx.weightsDir, 'best.pt');
  for (const f of [last, best]) if (fs.existsSync(f)) stripOptimizerFile(f);
  let final: FinalMetrics | undefined;
  const inputs = validationInputs(ctx);
  if (fs.existsSync(best) && inputs) {
    log.info(`\nValidating ${best}...`);
    const checkpoint = loadCheckpoint(best);
    const saved = state.floatState();
    state.assignFloatState(state.floatStateFromCheckpoint(checkpoint.model));
    try {
      const lossFn = yolo.ComputeLoss.forModel(ctx.model, ctx.hyp);
      const r = await validate(inputs, lossFn, { plots: !options.noplots, verbose: true });
      final = { p: r.mp, r: r.mr, map50: r.map50, map: r.map, loss: r.loss };
      if (!options.noplots) await writePlots(ctx, r);
    } finally {
      state.assignFloatState(saved);
    }
  }
  log.info(`Results saved to ${ctx.saveDir}`);
  log.record('final', { ...result, final });
  return final;
}
