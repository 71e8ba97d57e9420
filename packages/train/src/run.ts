// `train`: YOLOv5's train.py flow, with DDP done right.
//
//   1. options (and --resume / auto-resume), checks, file resolution, model YAML check:
//      all before anything is written, every refusal a UsageError (exit 2);
//   2. backend, process group, save_dir (rank 0 decides, everyone hears), opt.yaml, hyp.yaml;
//   3. dataset checked once per node first, model, weights, freeze, optimizer, EMA, DDP;
//   4. the epoch loop (loop.ts), then the final validation of best.pt.

import * as fs from 'node:fs';
import * as path from 'node:path';
import yaml from 'js-yaml';
import { initBackend, tf } from '@yolo-launch/backend';
import * as yolo from '@yolo-launch/yolo';
import * as data from '@yolo-launch/data';
import { DistributedDataParallel, DistributedSampler, rankZeroFirst, syncBatchNormMoments } from '@yolo-launch/ddp';
import type { ProcessGroup } from '@yolo-launch/comm';
import { UsageError, defaultOptions, helpText, parseTrainArgs, validateStatic, type TrainOptions } from './options.js';
import { resolveInputs, type Hyp, type ResolvedInputs } from './config.js';
import { incrementPath, latestRun, checkFile } from './paths.js';
import { distEnv, openProcessGroup, type DistEnv } from './dist.js';
import { TrainLog } from './log.js';
import { loadCheckpoint, writeFileAtomic, type Checkpoint } from './checkpoint.js';
import { ModelState } from './model-state.js';
import { initialAccumulate, NBS } from './schedule.js';
import { YoloOptimizer } from './optimizer.js';
import { createBatchSource } from './batches.js';
import { trainLoop, type TrainContext } from './loop.js';
import { finalValidation } from './final.js';
import { registerTileGradient } from './tile-grad.js';
import { mutateHyp, readEvolveCsv, recordGeneration } from './evolve.js';
import { downloadDataset, missingPaths } from './download.js';

export interface TrainResult {
  saveDir: string;
  /** Epochs completed in this process (from the start or resume epoch). */
  epochsRun: number;
  lastEpoch: number;
  bestFitness: number;
  stoppedEarly: boolean;
  /** Final validation (P, R, mAP50, mAP50-95) on rank 0, when run. */
  final?: { p: number; r: number; map50: number; map: number; loss: number[] };
}

const RUN_MARKER = '.yolo-launch-run.json';

/** CLI wrapper: exit code 0 / 1 / 2 and one clear line for bad input. */
export async function runTrainCli(argv: readonly string[]): Promise<number> {
  try {
    await train(argv);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`train: error: ${err.message}\n`);
      return 2;
    }
    const e = err as Error;
    process.stderr.write(`train: ${e.name ?? 'Error'}: ${e.message}\n${process.env.YOLO_DEBUG ? (e.stack ?? '') + '\n' : ''}`);
    return 1;
  }
}

interface ResumePlan {
  /** Checkpoint to resume from, or null for a fresh start. */
  ckptFile: string | null;
  saveDir: string | null;
  options: TrainOptions;
}

/** The run folder of this launcher job (YOLO_LAUNCH_RUN_ID), for restarts. */
function findRunDir(project: string, runId: string): string | null {
  if (!fs.existsSync(project)) return null;
  for (const d of fs.readdirSync(project)) {
    const marker = path.join(project, d, RUN_MARKER);
    try {
      if ((JSON.parse(fs.readFileSync(marker, 'utf8')) as { run_id?: string }).run_id === runId) return path.join(project, d);
    } catch {
      // not ours
    }
  }
  return null;
}

function optionsFromOptYaml(file: string): TrainOptions {
  if (!fs.existsSync(file)) throw new UsageError(`--resume: ${file} not found; the run folder must hold the opt.yaml written at its start`);
  const d = yaml.load(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  const o = { ...defaultOptions(), ...d } as unknown as TrainOptions & { hyp: unknown };
  // opt.yaml keeps the hyperparameters as a mapping (as YOLOv5 does); the file path of the run is hyp.yaml.
  if (typeof o.hyp !== 'string') o.hyp = path.join(path.dirname(file), 'hyp.yaml');
  return o as TrainOptions;
}

/** --resume [path], or auto-resume after a launcher restart (RESTART_COUNT > 0). */
function planResume(o: TrainOptions, given: Set<keyof TrainOptions>, d: DistEnv): ResumePlan {
  if (o.resume !== false) {
    let last: string;
    if (typeof o.resume === 'string') last = checkFile(o.resume, '--resume', []);
    else {
      last = latestRun(path.resolve(o.project)) || latestRun(path.resolve('runs'));
      if (!last) throw new UsageError(`--resume: nothing to resume, no last.pt under ${path.resolve(o.project)}; start a new run without --resume, or give --resume path/to/last.pt`);
    }
    const saveDir = path.dirname(path.dirname(last));
    const opts = optionsFromOptYaml(path.join(saveDir, 'opt.yaml'));
    opts.resume = last;
    opts.weights = '';
    opts.cfg = '';
    // The backend is a property of this machine, not of the run.
    if (given.has('backend')) opts.backend = o.backend;
    return { ckptFile: last, saveDir, options: opts };
  }
  if (d.restartCount > 0 && d.runId) {
    const dir = findRunDir(path.resolve(o.project), d.runId);
    if (dir) {
      const last = path.join(dir, 'weights', 'last.pt');
      if (fs.existsSync(last)) {
        const opts = optionsFromOptYaml(path.join(dir, 'opt.yaml'));
        opts.resume = last;
        opts.weights = '';
        opts.cfg = '';
        opts.backend = o.backend;
        return { ckptFile: last, saveDir: dir, options: opts };
      }
      return { ckptFile: null, saveDir: dir, options: o };
    }
  }
  return { ckptFile: null, saveDir: null, options: o };
}

/** nc and names from the dataset YAML (or the embedded dataset's classes) without touching images. */
function datasetClasses(inputs: ResolvedInputs, singleCls: boolean): { nc: number; names: string[] } {
  let names: string[];
  if (inputs.data === 'default') names = [...data.SYNTHETIC_CLASSES];
  else {
    let cfg: data.DatasetConfig;
    try {
      cfg = data.loadDatasetYaml(inputs.data);
    } catch (e) {
      throw new UsageError(`--data ${inputs.data}: ${(e as Error).message}`);
    }
    names = cfg.names;
    const missing = missingPaths(cfg);
    if (missing.length && !(typeof cfg.extra.download === 'string' && cfg.extra.download.trim())) {
      throw new UsageError(`--data ${inputs.data}: Dataset not found, missing paths: ${missing.join(', ')} (and no 'download:' entry)`);
    }
  }
  return singleCls ? { nc: 1, names: ['item'] } : { nc: names.length, names };
}

/** check_img_size: imgsz rounded up to a multiple of the stride, at least `floor`. */
export function checkImgSize(imgsz: number, s: number, floor = 0): number {
  return Math.max(Math.ceil(imgsz / s) * s, floor);
}

export async function train(argv: readonly string[]): Promise<TrainResult | null> {
  // ---- 1. options and checks: nothing is written before all of them pass -------------------
  const parsed = parseTrainArgs(argv);
  if (parsed.help) {
    process.stdout.write(helpText() + '\n');
    return null;
  }
  const d = distEnv();
  const plan = planResume(parsed.options, parsed.given, d);
  const o = plan.options;
  validateStatic(o, d.worldSize);
  let resumeCkpt: Checkpoint | null = null;
  if (plan.ckptFile) {
    try {
      resumeCkpt = loadCheckpoint(plan.ckptFile);
    } catch (e) {
      throw new UsageError(`--resume ${plan.ckptFile}: ${(e as Error).message}`);
    }
    if (resumeCkpt.meta.epoch < 0) throw new UsageError(`--resume ${plan.ckptFile}: training already finished (a final, stripped checkpoint); start a new run with --weights ${plan.ckptFile}`);
    if (!resumeCkpt.optimizer) throw new UsageError(`--resume ${plan.ckptFile}: the checkpoint holds no optimizer state`);
  }
  const inputs = resolveInputs(o);
  const hyp: Hyp = resumeCkpt ? (resumeCkpt.meta.hyp as Hyp) : inputs.hyp;
  const { nc, names } = datasetClasses(inputs, o.single_cls);
  let weightsCkpt: Checkpoint | null = null;
  if (inputs.weights) {
    try {
      weightsCkpt = loadCheckpoint(inputs.weights);
    } catch (e) {
      throw new UsageError(`--weights ${inputs.weights}: ${(e as Error).message}`);
    }
  }
  // The model definition: --cfg, else the one stored with the weights / resumed checkpoint.
  const modelYaml: yolo.ModelYaml = (() => {
    try {
      if (resumeCkpt) return yolo.readModelYaml(resumeCkpt.meta.model_yaml as unknown as yolo.ModelYaml);
      if (inputs.cfg) return yolo.readModelYaml(inputs.cfg);
      if (weightsCkpt) return yolo.readModelYaml(weightsCkpt.meta.model_yaml as unknown as yolo.ModelYaml);
    } catch (e) {
      throw new UsageError(`--cfg: ${(e as Error).message}`);
    }
    throw new UsageError('either --cfg or --weights must be specified');
  })();
  try {
    yolo.planModel(modelYaml, { nc, ...(hyp.anchors ? { anchors: Math.round(hyp.anchors) } : {}) });
  } catch (e) {
    throw new UsageError(`--cfg ${inputs.cfg || '(from checkpoint)'}: ${(e as Error).message}`);
  }
  if (o.image_weights && o.rect) throw new UsageError('--image-weights and --rect cannot be combined (rect batches are ordered by aspect ratio)');

  // ---- 2. backend, process group, save_dir ----------------------------------------------
  const log = new TrainLog(d.rank);
  await initBackend({ backend: o.backend as 'auto' | 'tensorflow' | 'wasm' | 'cpu', device: o.device });
  registerTileGradient();
  const backend = tf.getBackend();
  const pg = await openProcessGroup(d);
  try {
    const prepared: Prepared = { o, d, pg, log, inputs, hyp, nc, names, modelYaml, resumeCkpt, weightsCkpt, plan, backend };
    return o.evolve !== undefined ? await runEvolve(prepared, o.evolve) : await runWithGroup(prepared);
  } finally {
    log.flush();
    await pg.destroy();
  }
}

interface Prepared {
  o: TrainOptions;
  d: DistEnv;
  pg: ProcessGroup;
  log: TrainLog;
  inputs: ResolvedInputs;
  hyp: Hyp;
  nc: number;
  names: string[];
  modelYaml: yolo.ModelYaml;
  resumeCkpt: Checkpoint | null;
  weightsCkpt: Checkpoint | null;
  plan: ResumePlan;
  backend: string;
}

/**
 * --evolve n: n generations, each one training run (a DDP job under the launcher), into
 * runs/evolve/exp<N>; rank 0 mutates and broadcasts the hyperparameters and records results.
 */
async function runEvolve(p: Prepared, generations: number): Promise<TrainResult> {
  const { o, d, pg, log } = p;
  const isMain = d.rank <= 0;
  const project = o.project === 'runs/train' ? 'runs/evolve' : o.project;
  const opts: TrainOptions = { ...o, noval: true, nosave: true, project };
  let dir = '';
  if (isMain) {
    dir = incrementPath(path.resolve(project, o.name), o.exist_ok);
    fs.mkdirSync(dir, { recursive: true });
  }
  dir = await pg.broadcastObject(dir, 0);
  const csv = path.join(dir, 'evolve.csv');
  let last: TrainResult | null = null;
  for (let g = 0; g < generations; g++) {
    let hyp: Hyp | null = null;
    if (isMain) hyp = mutateHyp(p.hyp, csv, data.Rng.from(o.seed, readEvolveCsv(csv).rows.length, 0xe701e));
    hyp = await pg.broadcastObject(hyp, 0);
    last = await runWithGroup({ ...p, o: opts, hyp: hyp!, resumeCkpt: null, plan: { ckptFile: null, saveDir: dir, options: opts } });
    if (isMain) {
      const f = last.final ?? { p: 0, r: 0, map50: 0, map: 0, loss: [0, 0, 0] };
      const r = recordGeneration(dir, [f.p, f.r, f.map50, f.map, ...f.loss], hyp!);
      log.info(`evolve: generation ${g + 1}/${generations} fitness ${(0.1 * f.map50 + 0.9 * f.map).toFixed(5)}; best generation ${r.best}`);
    }
  }
  if (isMain) log.info(`Hyperparameter evolution finished ${generations} generations\nResults saved to ${dir}\nUsage example: $ train --hyp ${path.join(dir, 'hyp_evolved.yaml')}`);
  return last!;
}

function yamlDump(obj: unknown): string {
  return yaml.dump(obj, { sortKeys: false, lineWidth: 200 });
}

async function runWithGroup(p: Prepared): Promise<TrainResult> {
  const { o, d, pg, log } = p;
  const isMain = d.rank <= 0;
  const world = d.worldSize;

  // save_dir: rank 0 picks (and creates) it; every rank uses the same.
  let saveDir = '';
  if (isMain) {
    saveDir = p.plan.saveDir ?? incrementPath(path.resolve(o.project, o.name), o.exist_ok);
    fs.mkdirSync(path.join(saveDir, 'weights'), { recursive: true });
    if (d.runId) writeFileAtomic(path.join(saveDir, RUN_MARKER), JSON.stringify({ run_id: d.runId }));
  }
  saveDir = await pg.broadcastObject(saveDir, 0);
  log.openFile(saveDir);
  const hyp = { ...p.hyp };
  if (isMain) {
    log.info(`train: ${Object.entries({ ...o, hyp: undefined }).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v}]` : String(v)}`).join(', ')}`);
    log.info(`hyperparameters: ${Object.entries(hyp).map(([k, v]) => `${k}=${v}`).join(', ')}`);
    log.record('backend', { backend: p.backend, world_size: world });
    if (!p.resumeCkpt) {
      fs.writeFileSync(path.join(saveDir, 'hyp.yaml'), yamlDump(hyp));
      fs.writeFileSync(path.join(saveDir, 'opt.yaml'), yamlDump({ ...o, hyp, save_dir: saveDir }));
    }
  }

  // Seeds: YOLOv5 seeds every rank differently (seed + 1 + RANK) for augmentation; our
  // augmentation draws are keyed by (seed, epoch, image) instead, and the model init uses
  // `seed` on every rank (DDP broadcasts rank 0's weights anyway).
  const seed = o.seed;

  // ---- 3. dataset (once per node first), model, weights, freeze ---------------------------
  const dataYaml = await rankZeroFirst(pg, async () => (p.inputs.data === 'default' ? data.ensureDefaultDataset() : p.inputs.data), {
    localRank: Math.max(0, d.localRank),
  });
  const dataConfig = data.loadDatasetYaml(dataYaml);
  if (missingPaths(dataConfig).length) {
    // check_dataset's download, once per node (local rank 0 first; the others find it done).
    await rankZeroFirst(pg, async () => (missingPaths(dataConfig).length ? downloadDataset(dataConfig, (l) => log.info(l)) : undefined), { localRank: Math.max(0, d.localRank) });
  }
  const trainSplit = await rankZeroFirst(
    pg,
    () => data.loadSplit(dataConfig, 'train', { prefix: 'train: ', requireLabels: true, singleCls: o.single_cls, log: (l) => log.info(l) }),
    { localRank: Math.max(0, d.localRank) },
  );
  const valSplit = isMain ? await data.loadSplit(dataConfig, 'val', { prefix: 'val: ', singleCls: o.single_cls, log: (l) => log.info(l) }) : null;
  const names = trainSplit.dataset.names;
  const nc = trainSplit.dataset.nc;

  const model = yolo.createModel(p.modelYaml, { nc, seed, ...(hyp.anchors ? { anchors: Math.round(hyp.anchors) } : {}) });
  if (isMain) {
    log.info(`${''.padStart(3)}${'from'.padStart(18)}${'n'.padStart(3)}${'params'.padStart(10)}  ${'module'.padEnd(40)}${'arguments'.padEnd(30)}`);
    for (const l of model.layers()) log.info(`${String(l.i).padStart(3)}${JSON.stringify(l.from).padStart(18)}${String(l.n).padStart(3)}${String(l.params).padStart(10)}  ${l.module.padEnd(40)}${l.args.padEnd(30)}`);
    log.info(`Model summary: ${model.stateEntries().length} entries, ${model.numParameters()} parameters`);
  }
  const source = p.resumeCkpt ?? p.weightsCkpt;
  let state = new ModelState(model);
  if (source) {
    // YOLOv5: csd = intersect_dicts(ckpt model, model, exclude=['anchor'] when cfg/hyp anchors given and not resuming)
    const exclude = (o.cfg || hyp.anchors) && !p.resumeCkpt ? ['anchor'] : [];
    const n = state.loadTensors(source.model, { strict: Boolean(p.resumeCkpt), exclude });
    if (isMain) log.info(`Transferred ${n}/${model.stateEntries().length} items from ${p.resumeCkpt ? p.plan.ckptFile : p.inputs.weights}`);
  }
  // --freeze: a single N freezes layers 0..N-1 (the default [0] freezes nothing).
  const freezeLayers = o.freeze.length > 1 ? o.freeze : Array.from({ length: o.freeze[0] ?? 0 }, (_, i) => i);
  if (freezeLayers.length) {
    const frozen = model.freezePrefixes(freezeLayers.map((i) => `model.${i}.`));
    if (isMain) for (const f of frozen) log.info(`freezing ${f}`);
    state = new ModelState(model);
  }
  if (o.sync_bn && world > 1) {
    model.setMomentsFn(syncBatchNormMoments(pg) as unknown as Parameters<typeof model.setMomentsFn>[0]);
    if (isMain) log.info('Using SyncBatchNorm()');
  }

  // Image size
  const gs = Math.max(Math.max(...model.stride), 32);
  const imgsz = checkImgSize(o.imgsz, gs, gs * 2);
  if (imgsz !== o.imgsz && isMain) log.warn(`--img-size ${o.imgsz} must be multiple of max stride ${gs}, updating to ${imgsz}`);

  // ---- optimizer: nbs accumulation and weight-decay scaling -------------------------------
  const accumulate0 = initialAccumulate(o.batch_size, NBS);
  hyp.weight_decay = (hyp.weight_decay! * o.batch_size * accumulate0) / NBS;
  const optimizer = new YoloOptimizer(o.optimizer, state.params, { lr: hyp.lr0!, momentum: hyp.momentum!, decay: hyp.weight_decay });
  if (isMain) log.info(optimizer.describe());

  // ---- DDP: identical replicas (rank 0's weights) and the gradient reducer ----------------
  const ddp = await DistributedDataParallel.create(
    pg,
    state.params.map((q) => q.variable),
    { buffers: model.buffers().map((b) => b.variable) },
  );
  state.pullParams();

  // ---- batches ----------------------------------------------------------------------------
  const batchPerRank = o.batch_size / world;
  const common = { seed, stride: gs, hyp, localWorldSize: d.localWorldSize, threadBudget: d.threads, quad: false, log: (l: string) => log.info(l) };
  const trainLoader = await createBatchSource(trainSplit.dataset, {
    ...common, imgsz, augment: true, cache: true, cacheMode: o.cache, workers: o.workers, rank: Math.max(0, d.rank), batchSize: batchPerRank, rect: o.rect, quad: o.quad,
  });
  // val.py: rect batches with 0.5 stride padding, twice the per-rank batch, no augmentation.
  const valLoader = valSplit
    ? await createBatchSource(valSplit.dataset, { ...common, imgsz, augment: false, cache: true, cacheMode: o.cache, workers: o.workers, rank: 0, batchSize: batchPerRank * 2, rect: true })
    : null;
  if (isMain && !p.resumeCkpt && !o.noplots) {
    try {
      await data.plotLabels(trainLoader.dataset, path.join(saveDir, 'labels.jpg'));
      log.info(`Plotting labels to ${path.join(saveDir, 'labels.jpg')}... `);
    } catch (e) {
      log.warn(`labels.jpg not written: ${(e as Error).message}`);
    }
  }
  // YOLOv5: --rect is incompatible with shuffling (batches are grouped by aspect ratio).
  const sampler = new DistributedSampler({ datasetSize: trainSplit.dataset.imFiles.length, numReplicas: world, rank: Math.max(0, d.rank), shuffle: !o.rect, seed });
  const nb = sampler.numBatches(batchPerRank);
  // Every label class must exist in the model.
  let mlc = -1;
  for (const l of trainSplit.dataset.labels) for (let i = 0; i < l.length; i += 5) mlc = Math.max(mlc, l[i]!);
  if (mlc >= nc) throw new UsageError(`Label class ${mlc} exceeds nc=${nc} in ${dataYaml}. Possible class labels are 0-${nc - 1}`);

  // Anchors: AutoAnchor on rank 0, then every rank takes rank 0's anchors.
  if (!p.resumeCkpt && !o.noautoanchor) {
    let anchors: number[] | null = null;
    if (isMain) anchors = autoAnchor(model, trainSplit.dataset, hyp.anchor_t!, imgsz, seed, log);
    anchors = await pg.broadcastObject(anchors, 0);
    if (anchors) model.setAnchorsPixels(anchors);
  }

  // Loss gains scaled to layers, classes and image size (train.py).
  const nl = model.nl;
  hyp.box = (hyp.box! * 3) / nl;
  hyp.cls = ((hyp.cls! * nc) / 80) * 3 / nl;
  hyp.obj = ((hyp.obj! * (imgsz / 640) ** 2) * 3) / nl;
  hyp.label_smoothing = o.label_smoothing;
  const classWeights = Float32Array.from(data.labelsToClassWeights(trainSplit.dataset.labels, nc), (v) => v * nc);

  const ctx: TrainContext = {
    o, d, pg, log, hyp, hypOriginal: p.hyp, nc, names, model, state, optimizer, ddp, sampler, trainLoader, valLoader,
    trainDataset: trainLoader.dataset, valDataset: valLoader?.dataset ?? null, imgsz, gs, nb, batchPerRank, saveDir,
    resume: p.resumeCkpt, modelYaml: p.modelYaml, classWeights, seed, weightsFile: path.join(saveDir, 'weights'),
  };
  try {
    const result = await trainLoop(ctx);
    if (isMain) result.final = await finalValidation(ctx, result);
    await pg.barrier();
    return result;
  } finally {
    ddp.dispose();
    await trainLoader.close();
    await valLoader?.close();
    model.dispose();
  }
}

/** check_anchors on rank 0: recompute anchors with k-means + evolution when recall is poor. */
function autoAnchor(model: yolo.YoloModel, dataset: data.YoloDataset, thr: number, imgsz: number, seed: number, log: TrainLog): number[] | null {
  const shapes = Float32Array.from(dataset.shapes.flat());
  const r = yolo.checkAnchors({ shapes, labels: dataset.labels }, model.anchorsPixels, { thr, imgsz, seed });
  const s = `AutoAnchor: ${r.aat.toFixed(2)} anchors/target, ${r.bpr.toFixed(3)} Best Possible Recall (BPR). `;
  if (!r.recompute) {
    log.info(s + 'Current anchors are a good fit to dataset ✅');
    return null;
  }
  log.info(s + 'Anchors are a poor fit to dataset ⚠️, attempting to improve...');
  if (!r.replaced) {
    log.info('AutoAnchor: Done ⚠️ (original anchors better than new anchors, proceeding with original anchors)');
    return null;
  }
  log.info('AutoAnchor: Done ✅ (optional: update model *.yaml to use these anchors in the future)');
  return Array.from(r.anchors);
}
