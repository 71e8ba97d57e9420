// Everything built before the first epoch, in train.py's order: save_dir (save-dir.ts), the
// dataset (dataset-splits.ts), the model (model-build.ts), the image size and batch, the
// optimizer with nbs weight-decay scaling, DDP, the loaders (train-loaders.ts) and the sampler,
// the label checks (train-labels.ts), AutoAnchor (autoanchor-check.ts), the loss gains
// (loss-gains.ts).

import * as path from 'node:path';
import * as data from '@yolo-launch/data';
import type { tf } from '@yolo-launch/backend';
import { DistributedDataParallel, DistributedSampler } from '@yolo-launch/ddp';
import type { Hyp } from './config.js';
import type { PreparedRun, TrainContext } from './context.js';
import { initialAccumulate, NBS } from './schedule.js';
import { YoloOptimizer } from './optimizer.js';
import { settleBatchSize } from './batch-size.js';
import { TrainTensorBoard } from './tensorboard/logger.js';
import { checkImgSize } from '@yolo-launch/core';
import { openSaveDir } from './save-dir.js';
import { loadSplits } from './dataset-splits.js';
import { buildModel } from './model-build.js';
import { createLoaders } from './train-loaders.js';
import { checkLabelClasses, plotLabels } from './train-labels.js';
import { autoAnchorOnRankZero } from './autoanchor-check.js';
import type { ModelState } from './model-state.js';
import type { TrainOptions } from './options.js';
import type { YoloModel } from '@yolo-launch/yolo';
import { scaledLossGains } from './loss-gains.js';
import { Distiller } from './distill/distiller.js';
import { ddpParameters } from './ddp-params.js';

/** nbs accumulation: weight decay scaled by batch·accumulate/64, and the optimizer with it. */
function createOptimizer(
  run: PreparedRun,
  options: TrainOptions,
  state: ModelState,
): { decayedHyp: Hyp; optimizer: YoloOptimizer } {
  const accumulate0 = initialAccumulate(options.batch_size, NBS);
  const decayedHyp: Hyp = { ...run.hyp, weight_decay: (run.hyp.weight_decay * options.batch_size * accumulate0) / NBS };
  const optimizer = new YoloOptimizer(options.optimizer, state.params, {
    lr: decayedHyp.lr0,
    momentum: decayedHyp.momentum,
    decay: decayedHyp.weight_decay,
  });
  if (run.distEnv.rank <= 0) run.log.info(optimizer.describe());
  return { decayedHyp, optimizer };
}

/** DDP: identical replicas (rank 0's weights) and the gradient reducer. */
async function wrapInDdp(
  run: PreparedRun,
  options: TrainOptions,
  model: YoloModel,
  state: ModelState,
  extraVariables: readonly tf.Variable[],
): Promise<DistributedDataParallel> {
  const ddp = await DistributedDataParallel.create(
    run.processGroup,
    ddpParameters(
      state.params.map((q) => q.variable),
      extraVariables,
    ),
    {
      buffers: model.buffers().map((b) => b.variable),
      ...(options.grad_compression !== 'none' ? { gradCompression: options.grad_compression } : {}),
    },
  );
  state.pullParams();
  return ddp;
}

/** Everything before the first epoch, in train.py's order; the caller disposes ddp, the loaders and the model. */
export async function setupTraining(run: PreparedRun): Promise<TrainContext> {
  const { distEnv, processGroup, log } = run;
  const isMain = distEnv.rank <= 0;
  const world = distEnv.worldSize;
  // Seeds: YOLOv5 seeds every rank differently (seed + 1 + RANK) for augmentation; our
  // augmentation draws are keyed by (seed, epoch, image) instead, and the model init uses
  // `seed` on every rank (DDP broadcasts rank 0's weights anyway).
  const seed = run.options.seed;
  const saveDir = await openSaveDir(run);
  const tensorboard = isMain
    ? TrainTensorBoard.open({
        saveDir,
        evolve: run.options.evolve !== undefined,
        disabled: run.options.notensorboard,
        log,
      })
    : null;
  const splits = await loadSplits(run);
  const { names, nc } = splits.train;
  const { model, state } = buildModel(run, nc);
  const distill = run.teacherCheckpoint ? Distiller.create(run.teacherCheckpoint, model, run.options) : null;
  if (distill && isMain) log.info(distill.describe());

  const gridStride = Math.max(Math.max(...model.stride), 32);
  const imgsz = checkImgSize(run.options.imgsz, gridStride, gridStride * 2);
  if (imgsz !== run.options.imgsz && isMain)
    log.warn(`--img-size ${run.options.imgsz} must be multiple of max stride ${gridStride}, updating to ${imgsz}`);
  // --batch-size -1: AutoBatch on every rank; from here on `options.batch_size` is the total.
  const { options, batchPerRank } = await settleBatchSize(run, { model, state, nc, imgsz, gridStride, saveDir });

  const { decayedHyp, optimizer } = createOptimizer(run, options, state);
  // --distill-feat's adapters train too: reduced with the model's gradients, in the order they are ready (ddp-params.ts)
  const ddp = await wrapInDdp(run, options, model, state, distill?.variables ?? []);

  const { trainLoader, valLoader } = await createLoaders(run, splits, decayedHyp, { imgsz, gridStride, batchPerRank });
  if (isMain && !run.resumeCheckpoint && !options.noplots) await plotLabels(run, trainLoader, saveDir);
  // YOLOv5: --rect is incompatible with shuffling (batches are grouped by aspect ratio).
  const sampler = new DistributedSampler({
    datasetSize: splits.train.imFiles.length,
    numReplicas: world,
    rank: Math.max(0, distEnv.rank),
    shuffle: !options.rect,
    seed,
  });
  const batchesPerEpoch = sampler.numBatches(batchPerRank);
  checkLabelClasses(splits.train, nc, splits.dataYaml);

  if (!run.resumeCheckpoint && !options.noautoanchor)
    await autoAnchorOnRankZero(run, model, splits.train, { thr: decayedHyp.anchor_t, imgsz, seed });
  const hyp = scaledLossGains(decayedHyp, model.nl, nc, imgsz, options.label_smoothing);
  const classWeights = Float32Array.from(data.labelsToClassWeights(splits.train.labels, nc), (v) => v * nc);
  return {
    options,
    distEnv,
    processGroup,
    log,
    hyp,
    hypOriginal: run.hyp,
    nc,
    names,
    model,
    state,
    optimizer,
    ddp,
    sampler,
    trainLoader,
    valLoader,
    trainDataset: trainLoader.dataset,
    valDataset: valLoader?.dataset ?? null,
    imgsz,
    gridStride,
    batchesPerEpoch,
    batchPerRank,
    saveDir,
    weightsDir: path.join(saveDir, 'weights'),
    resumeCheckpoint: run.resumeCheckpoint,
    modelYaml: run.modelYaml,
    classWeights,
    seed,
    callbacks: run.callbacks,
    env: run.env,
    tensorboard,
    distill,
  };
}
