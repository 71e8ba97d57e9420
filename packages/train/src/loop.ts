// The epoch loop of train.py: one control message per epoch from rank 0 to every rank
// (stop? and the image-weight indices), then per iteration the warmup and schedule and one
// training step (step.ts), then the validation (every rank's share) and rank 0's results and
// checkpoints (epoch-end.ts),
// and the on_train_epoch_end callbacks.

import * as path from 'node:path';
import * as fs from 'node:fs';
import { tf } from '@yolo-launch/backend';
import * as yolo from '@yolo-launch/yolo';
import * as data from '@yolo-launch/data';
import type { Batch } from './batches.js';
import type { TrainContext, TrainResult, Timings, TrainingState } from './context.js';
import { Schedule } from './schedule.js';
import { startingState } from './resume.js';
import { hashIndices, imageWeightedIndices } from './image-weights.js';
import { EpochProgress } from './progress.js';
import { chooseBackward, trainStep } from './step.js';
import { endEpochOnMain, epochValidation } from './epoch-end.js';
import { trainingPlotFiles } from './tensorboard/logger.js';
import { mosaicClosed, mosaicClosingLine } from './aug-schedule.js';
import { describeEvalSchedule, evalScheduleOf } from './eval-schedule.js';

/** What rank 0 tells every rank at the start of each epoch. */
interface Control {
  stop: boolean;
  /** --image-weights: the dataset indices every rank samples its shard from this epoch. */
  indices: number[] | null;
}

/** Rank 0's control message for `epoch`, heard by every rank; sets the sampler's indices. */
async function epochControl(
  ctx: TrainContext,
  training: TrainingState,
  epoch: number,
  stop: boolean,
): Promise<Control> {
  let control: Control | null = null;
  if (ctx.distEnv.rank <= 0)
    control = { stop, indices: ctx.options.image_weights ? imageWeightedIndices(ctx, training.maps, epoch) : null };
  const heard = (await ctx.processGroup.broadcastObject(control, 0))!;
  if (!heard.stop && heard.indices) {
    ctx.sampler.setIndices(heard.indices);
    ctx.log.record('image weights', {
      epoch,
      n: heard.indices.length,
      indices_hash: hashIndices(heard.indices),
      indices_head: heard.indices.slice(0, 16),
    });
  }
  return heard;
}

function logStart(ctx: TrainContext, recompute: { recompute: boolean; reason: string }): void {
  const { log, imgsz } = ctx;
  log.info(`Image sizes ${imgsz} train, ${imgsz} val`);
  log.info(`Using ${ctx.trainLoader.workers} dataloader workers`);
  log.info(`Backward: ${recompute.recompute ? 'recomputing each layer' : 'one tape'} (${recompute.reason})`);
  log.info(describeEvalSchedule(evalScheduleOf(ctx.options)));
  log.info(`Logging results to ${ctx.saveDir}`);
  log.info(`Starting training for ${ctx.options.epochs} epochs...`);
}

/** The epoch's iterations on this rank; returns the mean losses and the epoch's learning rates. */
async function trainEpoch(
  ctx: TrainContext,
  training: TrainingState,
  run: { schedule: Schedule; lossFn: yolo.TrainLoss; recompute: boolean },
  epoch: number,
  timings: Timings,
  augment: { closeMosaic: boolean; plotFirstBatches: boolean },
): Promise<{ meanLoss: number[]; lr: number[] }> {
  const { options, optimizer, batchesPerEpoch, log } = ctx;
  const { schedule } = run;
  const isMain = ctx.distEnv.rank <= 0;
  const world = Math.max(1, ctx.distEnv.worldSize);
  const progress = new EpochProgress(epoch, options.epochs, batchesPerEpoch, ctx.imgsz, isMain, log);
  const plots: Promise<unknown>[] = [];
  let i = 0;
  let dataFrom = performance.now();
  const epochAugment = { closeMosaic: augment.closeMosaic };
  for await (const batch of ctx.trainLoader.epoch(ctx.sampler.indices(), epoch, ctx.batchPerRank, epochAugment)) {
    const startedAt = performance.now();
    timings.data += startedAt - dataFrom;
    const ni = i + batchesPerEpoch * epoch;
    schedule.beforeIteration(epoch, ni);
    // train.py warms up `momentum` only in groups that have it (SGD); Adam's beta1 stays hyp.momentum.
    optimizer.setSchedule(schedule.lr, optimizer.name === 'SGD' ? schedule.momentum : ctx.hyp.momentum);
    const willStep = ni - training.lastOptStep >= schedule.accumulate;
    const items = await trainStep(
      ctx,
      training,
      run.lossFn,
      run.recompute,
      { batch, epoch, i, ni, willStep, startedAt },
      timings,
    );
    // train_batch0..2, and (as ultralytics) the first three batches once mosaic is closed
    const plotted = ni < 3 || (augment.plotFirstBatches && i < 3);
    if (isMain && plotted && !options.noplots) plots.push(plotTrainBatch(ctx, batch, ni));
    else ctx.trainLoader.recycle?.(batch); // the step copied the pixels into a tensor
    progress.update(i, items, batch);
    timings.images += batch.n * world;
    i++;
    dataFrom = performance.now();
  }
  progress.finish();
  await Promise.all(plots);
  const lr = [...schedule.lr];
  schedule.endEpoch(epoch);
  return { meanLoss: progress.meanLoss, lr };
}

/** train_batch0..2.jpg, drawn while training continues (awaited at the end of the epoch). */
function plotTrainBatch(ctx: TrainContext, batch: Batch, ni: number): Promise<unknown> {
  const image = {
    images: batch.images,
    shape: [batch.n, batch.height, batch.width, 3] as [number, number, number, number],
    targets: batch.targets,
    paths: batch.paths,
  };
  return data
    .plotBatch(image, ctx.names, path.join(ctx.saveDir, `train_batch${ni}.jpg`))
    .catch((e: Error) => ctx.log.warn(`train_batch${ni}.jpg not written: ${e.message}`));
}

/** The epoch's line in train.log: tensors alive and where this rank's time went. */
function recordEpochEnd(ctx: TrainContext, epoch: number, trainMs: number, timings: Timings, before: Timings): void {
  const memory = tf.memory();
  ctx.log.record('epoch end', {
    epoch,
    tensors: memory.numTensors,
    tensor_bytes: memory.numBytes,
    // Where the epoch's time went, in ms (this rank): the training iterations split into
    // waiting for data, forward+backward, gradient all-reduce (incl. accumulation; of which the
    // wait after the backward on optimizer steps), optimizer+EMA.
    timing: {
      train: trainMs,
      data: timings.data - before.data,
      compute: timings.compute - before.compute,
      teacher: timings.teacher - before.teacher,
      all_reduce: timings.allReduce - before.allReduce,
      all_reduce_wait: timings.allReduceWait - before.allReduceWait,
      optimizer_steps: timings.optimizerSteps - before.optimizerSteps,
      optimizer: timings.optimizer - before.optimizer,
      validation: timings.validation - before.validation,
      images: timings.images - before.images,
    },
  });
}

function writeTimings(ctx: TrainContext, timings: Timings, epochsRun: number, startedAt: number): void {
  const world = Math.max(1, ctx.distEnv.worldSize);
  const hours = (Date.now() - startedAt) / 3.6e6;
  ctx.log.info(`\n${epochsRun} epochs completed in ${hours.toFixed(3)} hours.`);
  ctx.log.record('timings', { ...timings });
  fs.writeFileSync(
    path.join(ctx.saveDir, 'timings.json'),
    JSON.stringify({ ...timings, world_size: world, wall_s: (Date.now() - startedAt) / 1000 }, null, 2),
  );
}

/** The run's time split (seconds per stage, epochs and images counted), all zero at the start. */
function zeroTimings(): Timings {
  return {
    data: 0,
    compute: 0,
    teacher: 0,
    allReduce: 0,
    allReduceWait: 0,
    optimizerSteps: 0,
    optimizer: 0,
    validation: 0,
    epochs: 0,
    images: 0,
  };
}

export async function trainLoop(ctx: TrainContext): Promise<TrainResult> {
  const { options, distEnv, log, hyp } = ctx;
  const isMain = distEnv.rank <= 0;
  const epochs = options.epochs;
  const training = startingState(ctx);
  const schedule = new Schedule(hyp, {
    epochs,
    lrf: hyp.lrf,
    cosLr: options.cos_lr,
    nb: ctx.batchesPerEpoch,
    batchSize: options.batch_size,
    startEpoch: training.startEpoch,
  });
  const lossFn = yolo.ComputeLoss.forModel(ctx.model, hyp);
  const backward = chooseBackward(ctx);
  if (isMain) logStart(ctx, backward);

  let stop = false;
  let lastEpoch = training.startEpoch - 1;
  let epochsRun = 0;
  const startedAt = Date.now();
  const timings = zeroTimings();
  const trainLoss = ctx.distill?.wrap(lossFn) ?? lossFn; // validation keeps the detection loss
  for (let epoch = training.startEpoch; epoch < epochs; epoch++) {
    const control = await epochControl(ctx, training, epoch, stop);
    if (control.stop) {
      log.record('early stop', { epoch_stopped_before: epoch });
      break;
    }
    const closeMosaic = mosaicClosed(options, epoch);
    const closing = mosaicClosingLine(options, epoch, training.startEpoch);
    if (closing) log.info(closing);
    log.record('epoch start', {
      epoch,
      restart_count: distEnv.restartCount,
      world_size: Math.max(1, distEnv.worldSize),
      mosaic_closed: closeMosaic,
    });
    ctx.sampler.setEpoch(epoch);
    const before = { ...timings };
    const epochStartedAt = performance.now();
    const { meanLoss, lr } = await trainEpoch(
      ctx,
      training,
      { schedule, lossFn: trainLoss, recompute: backward.recompute },
      epoch,
      timings,
      { closeMosaic, plotFirstBatches: closeMosaic && epoch > 0 && !mosaicClosed(options, epoch - 1) },
    );
    const trainMs = performance.now() - epochStartedAt;
    const stepMs = ['compute', 'allReduce', 'optimizer'].reduce(
      (ms, k) => ms + timings[k as keyof Timings] - before[k as keyof Timings],
      0,
    );
    ctx.distill?.logEpoch(log, epoch, stepMs, isMain);
    timings.epochs++;
    const val = await epochValidation(ctx, training, lossFn, epoch, timings);
    if (isMain) stop = endEpochOnMain(ctx, training, { epoch, meanLoss, lr }, val);
    // The labels and the first batches drawn before and during epoch 0, as TensorBoard images.
    if (epoch === 0) await ctx.tensorboard?.images(trainingPlotFiles(ctx.saveDir), epoch);
    lastEpoch = epoch;
    epochsRun++;
    recordEpochEnd(ctx, epoch, trainMs, timings, before);
    await ctx.callbacks.onTrainEpochEnd?.({ epoch, processGroup: ctx.processGroup, log });
  }
  if (isMain) writeTimings(ctx, timings, epochsRun, startedAt);
  return {
    saveDir: ctx.saveDir,
    epochsRun,
    lastEpoch,
    bestFitness: training.bestFitness,
    stoppedEarly: lastEpoch + 1 < epochs,
  };
}
