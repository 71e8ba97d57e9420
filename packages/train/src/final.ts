// After the last epoch: rank 0 strips the optimizer from last.pt and best.pt (the EMA becomes
// the model), then best.pt is validated with the per-class table, as train.py does: on every
// rank's share of the batches (rank 0's best.pt shared with them), or on rank 0 with --val-rank0.
// The final plots go to TensorBoard too (on_train_end).

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yolo from '@yolo-launch/yolo';
import { loadCheckpoint, stripOptimizerFile } from './checkpoint.js';
import type { FinalMetrics, TrainContext, TrainResult } from './context.js';
import { validate } from './val.js';
import { validationInputs } from './val-inputs.js';
import { validateWith, valShard } from './epoch-end.js';
import { writePlots } from './plots.js';
import { finalPlotFiles } from './tensorboard/logger.js';

/** Every rank calls this; the metrics come back on rank 0. */
export async function finalValidation(ctx: TrainContext, result: TrainResult): Promise<FinalMetrics | undefined> {
  const { state, log, options } = ctx;
  const isMain = ctx.distEnv.rank <= 0;
  const last = path.join(ctx.weightsDir, 'last.pt');
  const best = path.join(ctx.weightsDir, 'best.pt');
  if (isMain) for (const f of [last, best]) if (fs.existsSync(f)) stripOptimizerFile(f);
  const shard = valShard(ctx);
  let final: FinalMetrics | undefined;
  if (shard) {
    let haveBest = isMain && fs.existsSync(best);
    if (shard.world > 1) haveBest = await shard.processGroup!.broadcastObject(haveBest, 0);
    const inputs = validationInputs(ctx, shard);
    if (haveBest && inputs) {
      if (isMain) log.info(`\nValidating ${best}...`);
      const bestWeights = () => state.floatStateFromCheckpoint(loadCheckpoint(best).model);
      const lossFn = yolo.ComputeLoss.forModel(ctx.model, ctx.hyp);
      const r = await validateWith(ctx, shard, bestWeights, () =>
        validate(inputs, lossFn, { plots: !options.noplots, verbose: true }),
      );
      if (r) {
        final = { p: r.mp, r: r.mr, map50: r.map50, map: r.map, loss: r.loss };
        if (!options.noplots) await writePlots(ctx, r);
      }
    }
  }
  if (isMain) {
    await ctx.tensorboard?.images(finalPlotFiles(ctx.saveDir), Math.max(0, result.lastEpoch));
    ctx.tensorboard?.close();
    log.info(`Results saved to ${ctx.saveDir}`);
    log.record('final', { ...result, final });
  }
  return final;
}
