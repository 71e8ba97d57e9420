// One training run in an open process group: setup, the epoch loop, the final validation of
// best.pt, and the cleanup of what setup built.

import type { PreparedRun, TrainResult } from './context.js';
import { setupTraining } from './setup.js';
import { trainLoop } from './loop.js';
import { finalValidation } from './final.js';

export async function runOnce(run: PreparedRun): Promise<TrainResult> {
  const ctx = await setupTraining(run);
  try {
    const result = await trainLoop(ctx);
    const final = await finalValidation(ctx, result);
    if (final) result.final = final;
    await ctx.processGroup.barrier();
    return result;
  } finally {
    ctx.tensorboard?.close();
    ctx.ddp.dispose();
    await ctx.trainLoader.close();
    await ctx.valLoader?.close();
    ctx.model.dispose();
    ctx.distill?.dispose();
  }
}
