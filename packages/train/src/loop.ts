// The epoch loop of train.py: warmup and schedule, accumulation (noSync micro-steps),
// gradient clipping, the optimizer step, the EMA on rank 0, per-epoch validation, fitness,
// checkpoints, early stopping and image weights, with one control message per epoch from
// rank 0 to every rank.

import * as path from 'node:path';
import * as fs from 'node:fs';
import { tf } from '@yolo-launch/backend';
import * as yolo from '@yolo-launch/yolo';
import * as data from '@yolo-launch/data';
import type { DistributedDataParallel, DistributedSampler } from '@yolo-launch/ddp';
import type { ProcessGroup } from '@yolo-launch/comm';
import type { TrainOptions } from './options.js';
import type { DistEnv } from './dist.js';
import type { TrainLog } from './log.js';
import type { Hyp } from './config.js';
import type { ModelState } from './model-state.js';
import { ModelState as MS } from './model-state.js';
import type { YoloOptimizer } from './optimizer.js';
import { clipGradNorm } from './optimizer.js';
import type { BatchSource } from './batches.js';
import { Schedule } from './schedule.js';
import { ModelEMA } from './ema.js';
import { chooseRecompute } from './recompute.js';
import { saveCheckpoint, type Checkpoint, type NamedTensor } from './checkpoint.js';
import { appendResults, formatG, padLeft, truncateResults } from './results.js';
import { validate, type ValResult } from './val.js';
import type { TrainResult } from './run.js';

export interface TrainContext {
  o: TrainOptions;
  d: DistEnv;
  pg: ProcessGroup;
  log: TrainLog;
  /** Hyperparameters after train.py's scaling (weight decay, box/cls/obj). */
  hyp: Hyp;
  /** As given (hyp.yaml); what checkpoints keep. */
  hypOriginal: Hyp;
  nc: number;
  names: string[];
  model: yolo.YoloModel;
  state: ModelState;
  optimizer: YoloOptimizer;
  ddp: DistributedDataParallel;
  sampler: DistributedSampler;
  trainLoader: BatchSource;
  valLoader: BatchSource | null;
  trainDataset: data.YoloDataset;
  valDataset: data.YoloDataset | null;
  imgsz: number;
  gs: number;
  nb: number;
  batchPerRank: number;
  saveDir: string;
  weightsFile: string;
  resume: Checkpoint | null;
  modelYaml: yolo.ModelYaml;
  /** labels_to_class_weights of the training labels (sum 1). */
  classWeights: Float32Array;
  seed: number;
}

/** EarlyStopping (utils/torch_utils.py). */
export class EarlyStopping {
  bestFitness = 0.0;
  bestEpoch = 0;
  possibleStop = false;
  readonly patience: number;
  constructor(patience: number) {
    this.patience = patience || Infinity;
  }
  /** Returns true when training should stop after `epoch`. */
  step(epoch: number, fitness: number): boolean {
    if (fitness >= this.bestFitness) {
      this.bestEpoch = epoch;
      this.bestFitness = fitness;
    }
    const delta = epoch - this.bestEpoch;
    this.possibleStop = delta >= this.patience - 1;
    return delta >= this.patience;
  }
}

/** What rank 0 tells every rank at the start of each epoch. */
interface Control {
  stop: boolean;
  /** --image-weights: the dataset indices every rank samples its shard from this epoch. */
  indices: number[] | null;
}

/** random.choices(range(n), weights, k=n) with a seeded generator. */
export function weightedChoices(weights: ArrayLike<number>, k: number, rng: data.Rng): number[] {
  const n = weights.length;
  const cum = new Float64Array(n);
  let t = 0;
  for (let i = 0; i < n; i++) cum[i] = t += Number(weights[i]);
  const out: number[] = [];
  for (let j = 0; j < k; j++) {
    const x = rng.random() * t;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    out.push(lo);
  }
  return out;
}

/** FNV-1a of an index list (logged so that tests can check every rank sampled the same list). */
export function hashIndices(indices: readonly number[]): string {
  let h = 0x811c9dc5;
  for (const v of indices) {
    h ^= v & 0xffff;
    h = Math.imul(h, 0x01000193);
    h ^= v >>> 16;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** yolo's fitness ([P, R, mAP@.5, mAP@.5-.95] · [0, 0, 0.1, 0.9]) of a validation result. */
export function fitness(r: { p: number; r: number; map50: number; map: number }): number {
  return yolo.fitness([r.p, r.r, r.map50, r.map]);
}

function progressHeader(): string {
  return ['Epoch', 'mem', 'box_loss', 'obj_loss', 'cls_loss', 'Instances', 'Size'].map((s) => padLeft(s, 11)).join('');
}

function progressLine(epoch: number, epochs: number, mloss: number[], instances: number, size: number, i: number, nb: number, secs: number): string {
  const mem = `${formatG(process.memoryUsage().rss / 1e9, 3)}G`;
  const head = [`${epoch}/${epochs - 1}`, mem].map((s) => padLeft(s, 11)).join('');
  const nums = [...mloss, instances, size].map((v) => padLeft(formatG(v, 4), 11)).join('');
  const pct = Math.floor(((i + 1) / nb) * 100);
  return `${head}${nums}: ${String(pct).padStart(3)}% ${i + 1}/${nb} ${secs.toFixed(1)}s`;
}

/** Optimizer buffers as checkpoint tensors (PyTorch layout, named `<param>/<buffer>`). */
function optimizerTensors(ctx: TrainContext): NamedTensor[] {
  const st = ctx.optimizer.state();
  const entries = new Map(ctx.state.entries.map((e) => [e.name, e]));
  const out: NamedTensor[] = [];
  for (const [key, buf] of st.buffers) {
    const e = entries.get(key.slice(0, key.lastIndexOf('/')))!;
    out.push({ name: key, shape: [...e.shape], data: MS.toTorch(e, buf) });
  }
  return out;
}

function loadOptimizerTensors(ctx: TrainContext, ck: Checkpoint): void {
  const entries = new Map(ctx.state.entries.map((e) => [e.name, e]));
  const buffers = new Map<string, Float32Array>();
  for (const t of ck.optimizer ?? []) {
    const e = entries.get(t.name.slice(0, t.name.lastIndexOf('/')));
    if (!e) continue;
    buffers.set(t.name, MS.fromTorch(e, Float32Array.from(t.data)));
  }
  ctx.optimizer.loadState({ name: ck.meta.optimizer!.name as 'SGD', step: ck.meta.optimizer!.step, buffers });
}

export async function trainLoop(ctx: TrainContext): Promise<TrainResult> {
  const { o, d, pg, log, model, state, optimizer, ddp, sampler, nb } = ctx;
  const isMain = d.rank <= 0;
  const epochs = o.epochs;
  const resultsFile = path.join(ctx.saveDir, 'results.csv');

  // ---- resume ---------------------------------------------------------------------------
  let startEpoch = 0;
  let bestFitness = 0.0;
  let lastOptStep = -1;
  let maps = new Array<number>(ctx.nc).fill(0);
  const stopper = new EarlyStopping(o.patience);
  const ema = isMain ? new ModelEMA([...state.floatState()].map(([name, v]) => ({ name, shape: [v.length], data: v }))) : null;
  if (ctx.resume) {
    const ck = ctx.resume;
    startEpoch = ck.meta.epoch + 1;
    bestFitness = ck.meta.best_fitness;
    stopper.bestFitness = ck.meta.best_fitness;
    stopper.bestEpoch = ck.meta.best_epoch;
    maps = ck.meta.maps.length === ctx.nc ? [...ck.meta.maps] : maps;
    lastOptStep = Number(ck.meta.extra?.last_opt_step ?? -1);
    loadOptimizerTensors(ctx, ck);
    if (ema && ck.ema) {
      const emaState = state.floatStateFromCheckpoint(ck.ema);
      ema.load([...emaState].map(([name, v]) => ({ name, data: v })), ck.meta.updates ?? 0);
    }
    if (startEpoch >= epochs) throw new Error(`${o.resume} training to ${epochs} epochs is finished, nothing to resume`);
    if (isMain) {
      log.info(`Resuming training from ${String(o.resume)} from epoch ${startEpoch} to ${epochs} total epochs`);
      truncateResults(resultsFile, startEpoch);
    }
  } else if (isMain) {
    // A fresh start in a reused folder (restart before the first checkpoint): no stale rows.
    truncateResults(resultsFile, 0);
  }

  const sched = new Schedule(
    { lr0: ctx.hyp.lr0!, momentum: ctx.hyp.momentum!, warmup_epochs: ctx.hyp.warmup_epochs!, warmup_momentum: ctx.hyp.warmup_momentum!, warmup_bias_lr: ctx.hyp.warmup_bias_lr! },
    { epochs, lrf: ctx.hyp.lrf!, cosLr: o.cos_lr, nb, batchSize: o.batch_size, startEpoch },
  );
  const lossFn = yolo.ComputeLoss.forModel(model, ctx.hyp as unknown as yolo.LossHyp);
  const varList = state.params.map((p) => p.variable);
  // Memory: keep the whole backward tape when it fits, else recompute layers (recompute.ts).
  const { recompute, reason: recomputeReason } = chooseRecompute({
    backend: tf.getBackend(),
    batch: ctx.batchPerRank,
    maxSide: o.multi_scale ? Math.floor(ctx.imgsz * 1.5) + ctx.gs : ctx.imgsz,
    widthMultiple: ctx.modelYaml.width_multiple,
    depthMultiple: ctx.modelYaml.depth_multiple,
    params: state.params.reduce((n, p) => n + p.data.length, 0),
    env: process.env.YOLO_TRAIN_RECOMPUTE,
  });
  const world = Math.max(1, d.worldSize);

  if (isMain) {
    log.info(`Image sizes ${ctx.imgsz} train, ${ctx.imgsz} val`);
    log.info(`Using ${ctx.trainLoader.workers} dataloader workers`);
    log.info(`Backward: ${recompute ? 'recomputing each layer' : 'one tape'} (${recomputeReason})`);
    log.info(`Logging results to ${ctx.saveDir}`);
    log.info(`Starting training for ${epochs} epochs...`);
  }

  let stop = false;
  let epoch = startEpoch;
  let lastEpoch = startEpoch - 1;
  let epochsRun = 0;
  let lastVal: ValResult | null = null;
  const tStart = Date.now();
  const timings = { data: 0, compute: 0, allReduce: 0, optimizer: 0, validation: 0, epochs: 0, images: 0 };

  for (; epoch < epochs; epoch++) {
    // ---- the control message: stop? and the image-weight indices --------------------------
    let control: Control | null = null;
    if (isMain) {
      let indices: number[] | null = null;
      if (o.image_weights) {
        const cw = data.imageWeightsClassWeights(ctx.classWeights, maps);
        const iw = data.labelsToImageWeights(ctx.trainDataset.labels, ctx.nc, cw);
        indices = weightedChoices(iw, ctx.trainDataset.imFiles.length, data.Rng.from(ctx.seed, epoch, 0x1a9e));
      }
      control = { stop, indices };
    }
    control = await pg.broadcastObject(control, 0);
    if (control!.stop) {
      log.record('early stop', { epoch_stopped_before: epoch });
      break;
    }
    if (control!.indices) {
      sampler.setIndices(control!.indices);
      log.record('image weights', { epoch, n: control!.indices.length, indices_hash: hashIndices(control!.indices), indices_head: control!.indices.slice(0, 16) });
    }
    log.record('epoch start', { epoch, restart_count: d.restartCount, world_size: world });
    sampler.setEpoch(epoch);
    const myIndices = sampler.indices();

    const mloss = [0, 0, 0];
    const plots: Promise<unknown>[] = [];
    let lastInstances = 0;
    let lastSize = ctx.imgsz;
    const before = { ...timings };
    const tEpoch = performance.now();
    if (isMain) log.info('\n' + progressHeader());
    const t0 = Date.now();
    let i = 0;
    let tData = performance.now();
    const isTty = process.stdout.isTTY === true;
    for await (const batch of ctx.trainLoader.epoch(myIndices, epoch, ctx.batchPerRank)) {
      const tBatch = performance.now();
      timings.data += tBatch - tData;
      const ni = i + nb * epoch;
      sched.beforeIteration(epoch, ni);
      // train.py warms up `momentum` only in groups that have it (SGD); Adam's beta1 stays hyp.momentum.
      optimizer.setSchedule(sched.lr, optimizer.name === 'SGD' ? sched.momentum : ctx.hyp.momentum!);

      const willStep = ni - lastOptStep >= sched.accumulate;
      let itemsHost: Float32Array;
      const imgs = tf.tidy(() => {
        let x = tf.div(tf.cast(tf.tensor4d(batch.images, [batch.n, batch.height, batch.width, 3], 'int32'), 'float32'), 255) as tf.Tensor4D;
        if (o.multi_scale) {
          // random.randrange(imgsz*0.5, imgsz*1.5 + gs) // gs * gs, one draw per iteration for all ranks
          const rng = data.Rng.from(ctx.seed, epoch, i, 0x5ca1e);
          const lo = Math.floor(ctx.imgsz * 0.5);
          const hi = Math.floor(ctx.imgsz * 1.5) + ctx.gs;
          const sz = Math.floor((lo + Math.floor(rng.random() * (hi - lo))) / ctx.gs) * ctx.gs;
          const sf = sz / Math.max(batch.height, batch.width);
          if (sf !== 1) {
            const ns: [number, number] = [Math.ceil((batch.height * sf) / ctx.gs) * ctx.gs, Math.ceil((batch.width * sf) / ctx.gs) * ctx.gs];
            x = tf.image.resizeBilinear(x, ns, false, true);
          }
        }
        return x;
      });
      let grads: tf.NamedTensorMap;
      if (recompute) {
        // yolo's forwardBackward: layer outputs only, each layer's forward recomputed during
        // the backward (fits 640 training in the wasm heap; ~1/3 more compute).
        const r = yolo.lossAndGradients(model, lossFn, imgs, batch.targets, { recompute: true });
        itemsHost = Float32Array.from(r.items);
        grads = {};
        for (const g of r.grads) {
          // train.py: loss *= WORLD_SIZE under DDP (ddp averages; see its convention.ts)
          if (ddp.lossScale === 1) grads[g.variable.name] = g.grad;
          else {
            grads[g.variable.name] = tf.mul(g.grad, ddp.lossScale);
            g.grad.dispose();
          }
        }
      } else {
        const vg = tf.variableGrads(() => {
          const preds = model.forwardTrain(imgs);
          const out = lossFn.compute(preds, batch.targets);
          tf.keep(out.items);
          itemsHost = out.items.dataSync() as Float32Array;
          out.items.dispose();
          // train.py: loss *= WORLD_SIZE under DDP; ddp averages (see @yolo-launch/ddp convention.ts)
          return tf.mul(out.loss, ddp.lossScale) as tf.Scalar;
        }, varList);
        vg.value.dispose();
        grads = vg.grads;
      }
      imgs.dispose();
      const tComputed = performance.now();
      if (!willStep) {
        await ddp.noSync(() => ddp.reduceGradients(grads));
        tf.dispose(Object.values(grads));
        timings.allReduce += performance.now() - tComputed;
      } else {
        const reduced = (await ddp.reduceGradients(grads))!;
        tf.dispose(Object.values(grads));
        const tReduced = performance.now();
        timings.allReduce += tReduced - tComputed;
        const host = state.params.map((p) => {
          const g = reduced[p.variable.name];
          return g ? Float32Array.from(g.dataSync() as Float32Array) : new Float32Array(p.data.length);
        });
        tf.dispose(Object.values(reduced));
        clipGradNorm(host, 10.0);
        optimizer.step(host);
        state.pushParams();
        if (ema) ema.update(state.floatStateView());
        lastOptStep = ni;
        timings.optimizer += performance.now() - tReduced;
      }
      timings.compute += tComputed - tBatch;
      if (isMain && ni < 3 && !o.noplots) {
        // train_batch0..2.jpg, drawn while training continues (awaited at the end of the epoch)
        plots.push(
          data
            .plotBatch({ images: batch.images, shape: [batch.n, batch.height, batch.width, 3], targets: batch.targets, paths: batch.paths }, ctx.names, path.join(ctx.saveDir, `train_batch${ni}.jpg`))
            .catch((e: Error) => log.warn(`train_batch${ni}.jpg not written: ${e.message}`)),
        );
      }
      const items = itemsHost!;
      for (let k = 0; k < 3; k++) mloss[k] = (mloss[k]! * i + items[k]!) / (i + 1);
      lastInstances = batch.targets.length / 6;
      lastSize = batch.width;
      timings.images += batch.n * world;
      if (isMain && isTty) process.stdout.write('\r' + progressLine(epoch, epochs, mloss, batch.targets.length / 6, batch.width, i, nb, (Date.now() - t0) / 1000));
      i++;
      tData = performance.now();
    }
    if (isMain) {
      if (isTty) process.stdout.write('\n');
      const line = progressLine(epoch, epochs, mloss, lastInstances, lastSize, nb - 1, nb, (Date.now() - t0) / 1000);
      log.record(line, { epoch, box_loss: mloss[0], obj_loss: mloss[1], cls_loss: mloss[2] });
      if (!isTty) process.stdout.write(line + '\n');
    }
    const trainMs = performance.now() - tEpoch;
    await Promise.all(plots);
    const lrLogged = [...sched.lr];
    sched.endEpoch(epoch);
    timings.epochs++;

    // ---- rank 0: validation, fitness, results, checkpoints -----------------------------------
    if (isMain) {
      const finalEpoch = epoch + 1 === epochs || stopper.possibleStop;
      let results = { p: 0, r: 0, map50: 0, map: 0, valLoss: [0, 0, 0] as number[] };
      if ((!o.noval || finalEpoch) && ctx.valLoader && ema) {
        const tv = performance.now();
        lastVal = await withEma(ctx, ema, () => validate(ctx, lossFn, { plots: false, verbose: false }));
        timings.validation += performance.now() - tv;
        results = { p: lastVal.mp, r: lastVal.mr, map50: lastVal.map50, map: lastVal.map, valLoss: lastVal.loss };
        maps = lastVal.maps;
      }
      const fi = fitness(results);
      stop = stopper.step(epoch, fi);
      if (stop) log.info(`Stopping training early as no improvement observed in last ${o.patience} epochs. Best results observed at epoch ${stopper.bestEpoch}, best model saved as best.pt.`);
      if (fi > bestFitness) bestFitness = fi;
      appendResults(resultsFile, epoch, [...mloss, results.p, results.r, results.map50, results.map, ...results.valLoss, ...lrLogged]);
      log.record('epoch', { epoch, fitness: fi, best_fitness: bestFitness, ...results, lr: lrLogged });
      if (!o.nosave || finalEpoch) {
        const ck: Checkpoint = {
          meta: {
            epoch, best_fitness: bestFitness, updates: ema!.updates, optimizer: { name: optimizer.name, step: optimizer.steps },
            opt: { ...o } as unknown as Record<string, unknown>, hyp: ctx.hypOriginal, model_yaml: ctx.modelYaml as unknown as Record<string, unknown>,
            names: ctx.names, nc: ctx.nc, best_epoch: stopper.bestEpoch, maps, date: new Date().toISOString(),
            extra: { last_opt_step: lastOptStep, stride: model.stride, imgsz: ctx.imgsz },
          },
          model: state.checkpointTensors(),
          ema: state.checkpointTensors(new Map(ema!.entries.map((e) => [e.name, e.data]))),
          optimizer: optimizerTensors(ctx),
        };
        saveCheckpoint(path.join(ctx.weightsFile, 'last.pt'), ck);
        if (bestFitness === fi) saveCheckpoint(path.join(ctx.weightsFile, 'best.pt'), ck);
        if (o.save_period > 0 && epoch % o.save_period === 0) saveCheckpoint(path.join(ctx.weightsFile, `epoch${epoch}.pt`), ck);
      }
    }
    lastEpoch = epoch;
    epochsRun++;
    const mem = tf.memory();
    log.record('epoch end', {
      epoch,
      tensors: mem.numTensors,
      tensor_bytes: mem.numBytes,
      // Where the epoch's time went, in ms (this rank): the training iterations split into
      // waiting for data, forward+backward, gradient all-reduce (incl. accumulation), optimizer+EMA.
      timing: {
        train: trainMs,
        data: timings.data - before.data,
        compute: timings.compute - before.compute,
        all_reduce: timings.allReduce - before.allReduce,
        optimizer: timings.optimizer - before.optimizer,
        validation: timings.validation - before.validation,
        images: timings.images - before.images,
      },
    });
    // A test hook: exit after an epoch as if killed (exact-resume tests), never set by users.
    if (process.env.YOLO_TRAIN_EXIT_AFTER_EPOCH !== undefined && Number(process.env.YOLO_TRAIN_EXIT_AFTER_EPOCH) === epoch) {
      await pg.barrier();
      log.flush();
      process.exit(75);
    }
  }
  const stoppedEarly = lastEpoch + 1 < epochs;
  if (isMain) {
    const hours = (Date.now() - tStart) / 3.6e6;
    log.info(`\n${epochsRun} epochs completed in ${hours.toFixed(3)} hours.`);
    log.record('timings', { ...timings });
    fs.writeFileSync(path.join(ctx.saveDir, 'timings.json'), JSON.stringify({ ...timings, world_size: world, wall_s: (Date.now() - tStart) / 1000 }, null, 2));
  }
  return { saveDir: ctx.saveDir, epochsRun, lastEpoch, bestFitness, stoppedEarly };
}

/** Run `fn` with the EMA weights in the model, then put the training weights back. */
export async function withEma<T>(ctx: TrainContext, ema: ModelEMA, fn: () => Promise<T>): Promise<T> {
  const saved = ctx.state.floatState();
  ctx.state.assignFloatState(new Map(ema.entries.map((e) => [e.name, e.data])));
  try {
    return await fn();
  } finally {
    ctx.state.assignFloatState(saved);
  }
}
