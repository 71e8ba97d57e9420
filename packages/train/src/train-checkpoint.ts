// The training checkpoint: built from the run's state after an epoch (model, EMA, optimizer
// buffers, and what --resume needs), written as last.pt, best.pt and epoch<N>.pt. The file
// format itself is checkpoint.ts's (saveCheckpoint / loadCheckpoint).

import * as path from 'node:path';
import type { TrainContext, TrainingState } from './context.js';
import type { TrainOptions } from './options.js';
import { ModelState } from './model-state.js';
import { saveCheckpoint, type Checkpoint, type NamedTensor } from './checkpoint.js';

/** Optimizer buffers as checkpoint tensors (PyTorch layout, named `<param>/<buffer>`). */
function optimizerTensors(ctx: TrainContext): NamedTensor[] {
  const optimizerState = ctx.optimizer.state();
  const entries = new Map(ctx.state.entries.map((e) => [e.name, e]));
  const out: NamedTensor[] = [];
  for (const [key, buffer] of optimizerState.buffers) {
    const entry = entries.get(key.slice(0, key.lastIndexOf('/')))!;
    out.push({ name: key, shape: [...entry.shape], data: ModelState.toTorch(entry, buffer) });
  }
  return out;
}

/** The optimizer buffers of a checkpoint back into the optimizer (--resume). */
export function loadOptimizerTensors(ctx: TrainContext, checkpoint: Checkpoint): void {
  const entries = new Map(ctx.state.entries.map((e) => [e.name, e]));
  const buffers = new Map<string, Float32Array>();
  for (const t of checkpoint.optimizer ?? []) {
    const entry = entries.get(t.name.slice(0, t.name.lastIndexOf('/')));
    if (!entry) continue;
    buffers.set(t.name, ModelState.fromTorch(entry, Float32Array.from(t.data)));
  }
  ctx.optimizer.loadState({
    name: checkpoint.meta.optimizer!.name as 'SGD',
    step: checkpoint.meta.optimizer!.step,
    buffers,
  });
}

/** The checkpoint after `epoch` (rank 0: it holds the EMA). */
export function buildCheckpoint(ctx: TrainContext, training: TrainingState, epoch: number): Checkpoint {
  const { options, optimizer, state, model } = ctx;
  const ema = training.ema!;
  return {
    meta: {
      epoch,
      best_fitness: training.bestFitness,
      updates: ema.updates,
      optimizer: { name: optimizer.name, step: optimizer.steps },
      opt: { ...options },
      hyp: ctx.hypOriginal,
      model_yaml: { ...ctx.modelYaml },
      names: ctx.names,
      nc: ctx.nc,
      best_epoch: training.stopper.bestEpoch,
      maps: training.maps,
      date: new Date().toISOString(),
      extra: {
        last_opt_step: training.lastOptStep,
        stride: model.stride,
        imgsz: ctx.imgsz,
      },
    },
    model: state.checkpointTensors(),
    ema: state.checkpointTensors(new Map(ema.entries.map((e) => [e.name, e.data]))),
    optimizer: optimizerTensors(ctx),
  };
}

/** Whether epoch<N>.pt is kept: every --save-period epochs (YOLOv5), and the last --save-ckpt-on-last-n-epoch epochs (YOLOv6). */
export function keepsEpochCheckpoint(
  options: Pick<TrainOptions, 'epochs' | 'save_period' | 'save_ckpt_on_last_n_epoch'>,
  epoch: number,
): boolean {
  const periodic = options.save_period > 0 && epoch % options.save_period === 0;
  const lastN = options.save_ckpt_on_last_n_epoch > 0 && epoch >= options.epochs - options.save_ckpt_on_last_n_epoch;
  return periodic || lastN;
}

/** last.pt always; best.pt when this epoch is the best; epoch<N>.pt when keepsEpochCheckpoint says so. */
export function writeCheckpoints(ctx: TrainContext, checkpoint: Checkpoint, epoch: number, isBest: boolean): void {
  saveCheckpoint(path.join(ctx.weightsDir, 'last.pt'), checkpoint);
  if (isBest) saveCheckpoint(path.join(ctx.weightsDir, 'best.pt'), checkpoint);
  if (keepsEpochCheckpoint(ctx.options, epoch))
    saveCheckpoint(path.join(ctx.weightsDir, `epoch${epoch}.pt`), checkpoint);
}
