// Everything built before the first epoch, in train.py's order: save_dir (rank 0 picks it,
// every rank hears it) with opt.yaml and hyp.yaml; the dataset (checked once per node first);
// the model with its weights, --freeze and --sync-bn; the image size; the optimizer with
// nbs weight-decay scaling; DDP; the loaders and the sampler; AutoAnchor; the loss gains.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yolo from '@yolo-launch/yolo';
import * as data from '@yolo-launch/data';
import { DistributedDataParallel, DistributedSampler, rankZeroFirst, syncBatchNormMoments } from '@yolo-launch/ddp';
import { UsageError } from './options.js';
import type { Hyp } from './config.js';
import type { PreparedRun, TrainContext } from './context.js';
import type { TrainLog } from './log.js';
import { incrementPath } from './paths.js';
import { writeFileAtomic, type NamedTensor } from './checkpoint.js';
import { ModelState } from './model-state.js';
import { initialAccumulate, NBS } from './schedule.js';
import { YoloOptimizer } from './optimizer.js';
import { createBatchSource, type BatchSource } from './batches.js';
import { downloadDataset, missingPaths } from './download.js';
import { RUN_MARKER } from './resume.js';
import { writeHypYaml, writeOptYaml } from './run-files.js';
import { settleBatchSize } from './batch-size.js';
import { TrainTensorBoard } from './tensorboard/logger.js';
import { checkImgSize } from '@yolo-launch/core';
import { Distiller } from './distill/distiller.js';

/** save_dir: rank 0 picks (and creates) it and writes opt.yaml and hyp.yaml; every rank uses the same. */
async function openSaveDir(run: PreparedRun): Promise<string> {
  const { options, distEnv, log, hyp } = run;
  const isMain = distEnv.rank <= 0;
  let saveDir = '';
  if (isMain) {
    saveDir = run.plan.saveDir ?? incrementPath(path.resolve(options.project, options.name), options.exist_ok);
    fs.mkdirSync(path.join(saveDir, 'weights'), { recursive: true });
    if (distEnv.runId) writeFileAtomic(path.join(saveDir, RUN_MARKER), JSON.stringify({ run_id: distEnv.runId }));
  }
  saveDir = await run.processGroup.broadcastObject(saveDir, 0);
  log.openFile(saveDir);
  if (isMain) {
    const shown = Object.entries({ ...options, hyp: undefined }).filter(([, v]) => v !== undefined);
    log.info(`train: ${shown.map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v}]` : String(v)}`).join(', ')}`);
    log.info(
      `hyperparameters: ${Object.entries(hyp)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
    log.record('backend', { backend: run.backend, world_size: distEnv.worldSize });
    if (!run.resumeCheckpoint) {
      writeHypYaml(saveDir, hyp);
      writeOptYaml(saveDir, options, hyp);
    }
  }
  return saveDir;
}

/** The dataset YAML (the embedded one generated, a download run, once per node) and its splits. */
async function loadSplits(
  run: PreparedRun,
): Promise<{ dataYaml: string; train: data.YoloDataset; val: data.YoloDataset | null }> {
  const { processGroup, log, options } = run;
  const perNode = { localRank: Math.max(0, run.distEnv.localRank) };
  const dataYaml = await rankZeroFirst(
    processGroup,
    async () => (run.inputs.data === 'default' ? data.ensureDefaultDataset() : run.inputs.data),
    perNode,
  );
  const dataConfig = data.loadDatasetYaml(dataYaml);
  if (missingPaths(dataConfig).length) {
    // check_dataset's download, once per node (local rank 0 first; the others find it done).
    await rankZeroFirst(
      processGroup,
      async () => (missingPaths(dataConfig).length ? downloadDataset(dataConfig, (l) => log.info(l)) : undefined),
      perNode,
    );
  }
  const logLine = (l: string): void => log.info(l);
  const trainSplit = await rankZeroFirst(
    processGroup,
    () =>
      data.loadSplit(dataConfig, 'train', {
        prefix: 'train: ',
        requireLabels: true,
        singleCls: options.single_cls,
        log: logLine,
      }),
    perNode,
  );
  // every rank validates its share unless --val-rank0 (label caches written once per node first)
  const loadVal = () =>
    data.loadSplit(dataConfig, 'val', { prefix: 'val: ', singleCls: options.single_cls, log: logLine });
  const valSplit = options.val_rank0
    ? run.distEnv.rank <= 0
      ? await loadVal()
      : null
    : await rankZeroFirst(processGroup, loadVal, perNode);
  // --cache disk: the .npy files are written once per node (local rank 0; the others find them)
  if (options.cache === 'disk')
    await rankZeroFirst(processGroup, () => data.cacheImagesToDisk(trainSplit.dataset, { log: logLine }), perNode);
  return { dataYaml, train: trainSplit.dataset, val: valSplit?.dataset ?? null };
}

function logModelSummary(model: yolo.YoloModel, log: TrainLog): void {
  log.info(
    `${''.padStart(3)}${'from'.padStart(18)}${'n'.padStart(3)}${'params'.padStart(10)}  ${'module'.padEnd(40)}${'arguments'.padEnd(30)}`,
  );
  for (const l of model.layers())
    log.info(
      `${String(l.i).padStart(3)}${JSON.stringify(l.from).padStart(18)}${String(l.n).padStart(3)}${String(l.params).padStart(10)}  ${l.module.padEnd(40)}${l.args.padEnd(30)}`,
    );
  log.info(`Model summary: ${model.stateEntries().length} entries, ${model.numParameters()} parameters`);
}

/** `name: [file shape] vs [model shape]` of the first entry that does not fit, for errors. */
function firstMismatch(tensors: readonly NamedTensor[], model: yolo.YoloModel): string {
  const shapes = new Map(model.stateEntries().map((e) => [e.name, e.shape]));
  const differing = tensors.find((t) => shapes.has(t.name) && String(t.shape) !== String(shapes.get(t.name)));
  if (!differing) return `no entry has one of the model's names, e.g. ${tensors[0]?.name ?? '(empty)'}`;
  return `e.g. ${differing.name}: [${differing.shape}] in the file, [${shapes.get(differing.name)!}] in the model`;
}

/** The model (seeded identically on every rank), its transferred weights, --freeze, --sync-bn. */
function buildModel(run: PreparedRun, nc: number): { model: yolo.YoloModel; state: ModelState } {
  const { options, hyp, log } = run;
  const isMain = run.distEnv.rank <= 0;
  const model = yolo.createModel(run.modelYaml, {
    nc,
    seed: options.seed,
    ...(hyp.anchors ? { anchors: Math.round(hyp.anchors) } : {}),
  });
  if (isMain) logModelSummary(model, log);
  const source = run.resumeCheckpoint ?? run.weightsCheckpoint;
  let state = new ModelState(model);
  if (source) {
    // YOLOv5: csd = intersect_dicts(ckpt model, model, exclude=['anchor'] when cfg/hyp anchors given and not resuming)
    const exclude = (options.cfg || hyp.anchors) && !run.resumeCheckpoint ? ['anchor'] : [];
    const n = state.loadTensors(source.model, { strict: Boolean(run.resumeCheckpoint), exclude });
    // train.py would go on from scratch; a file none of whose entries fits is a wrong file.
    if (n === 0)
      throw new UsageError(
        `--weights ${options.weights}: none of its ${source.model.length} entries fits the model (${firstMismatch(source.model, model)}); give the --cfg these weights were trained with, or drop --cfg to rebuild the model from the file`,
      );
    if (isMain)
      log.info(
        `Transferred ${n}/${model.stateEntries().length} items from ${run.resumeCheckpoint ? run.plan.checkpointFile : options.weights}`,
      ); // as given, like train.py
  }
  // --freeze: a single N freezes layers 0..N-1 (the default [0] freezes nothing).
  const freezeLayers =
    options.freeze.length > 1 ? options.freeze : Array.from({ length: options.freeze[0] ?? 0 }, (_, i) => i);
  if (freezeLayers.length) {
    const frozen = model.freezePrefixes(freezeLayers.map((i) => `model.${i}.`));
    if (isMain) for (const f of frozen) log.info(`freezing ${f}`);
    state = new ModelState(model);
  }
  if (options.sync_bn && run.distEnv.worldSize > 1) {
    model.setMomentsFn(syncBatchNormMoments(run.processGroup) as unknown as Parameters<typeof model.setMomentsFn>[0]);
    if (isMain) log.info('Using SyncBatchNorm()');
  }
  return { model, state };
}

/** The training loader (augmented) and, on the ranks that validate, val.py's (rect, 0.5 stride padding, twice the batch). */
async function createLoaders(
  run: PreparedRun,
  splits: { train: data.YoloDataset; val: data.YoloDataset | null },
  hyp: Hyp,
  geometry: { imgsz: number; gridStride: number; batchPerRank: number },
) {
  const { options, distEnv, log } = run;
  const { imgsz, batchPerRank } = geometry;
  const common = {
    seed: options.seed,
    stride: geometry.gridStride,
    hyp,
    localWorldSize: distEnv.localWorldSize,
    threadBudget: distEnv.threads,
    quad: false,
    log: (l: string) => log.info(l),
  };
  const cached = { imgsz, cache: true, cacheMode: options.cache, workers: options.workers };
  const trainLoader = await createBatchSource(splits.train, {
    ...common,
    ...cached,
    augment: true,
    rank: Math.max(0, distEnv.rank),
    batchSize: batchPerRank,
    rect: options.rect,
    quad: options.quad,
  });
  const valLoader = splits.val
    ? await createBatchSource(splits.val, {
        ...common,
        ...cached,
        augment: false,
        rank: 0,
        batchSize: batchPerRank * 2,
        rect: true,
      })
    : null;
  return { trainLoader, valLoader };
}

async function plotLabels(
  run: PreparedRun,
  trainLoader: BatchSource & { dataset: data.YoloDataset },
  saveDir: string,
): Promise<void> {
  try {
    await data.plotLabels(trainLoader.dataset, path.join(saveDir, 'labels.jpg'));
    run.log.info(`Plotting labels to ${path.join(saveDir, 'labels.jpg')}... `);
  } catch (e) {
    run.log.warn(`labels.jpg not written: ${(e as Error).message}`);
  }
}

/** Every label class must exist in the model. */
function checkLabelClasses(dataset: data.YoloDataset, nc: number, dataYaml: string): void {
  let maxLabelClass = -1;
  for (const l of dataset.labels) for (let i = 0; i < l.length; i += 5) maxLabelClass = Math.max(maxLabelClass, l[i]!);
  if (maxLabelClass >= nc)
    throw new UsageError(
      `Label class ${maxLabelClass} exceeds nc=${nc} in ${dataYaml}. Possible class labels are 0-${nc - 1}`,
    );
}

/** check_anchors on rank 0: recompute anchors with k-means + evolution when recall is poor. */
function autoAnchor(
  model: yolo.YoloModel,
  dataset: data.YoloDataset,
  thr: number,
  imgsz: number,
  seed: number,
  log: TrainLog,
): number[] | null {
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

/** Loss gains scaled to layers, classes and image size (train.py), and --label-smoothing. */
function scaledLossGains(hyp: Hyp, layers: number, nc: number, imgsz: number, labelSmoothing: number): Hyp {
  return {
    ...hyp,
    box: (hyp.box * 3) / layers,
    cls: (((hyp.cls * nc) / 80) * 3) / layers,
    obj: (hyp.obj * (imgsz / 640) ** 2 * 3) / layers,
    label_smoothing: labelSmoothing,
  };
}

/** Everything above, in train.py's order; the caller disposes ddp, the loaders and the model. */
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

  // nbs accumulation: weight decay scaled by batch·accumulate/64.
  const accumulate0 = initialAccumulate(options.batch_size, NBS);
  const decayedHyp: Hyp = { ...run.hyp, weight_decay: (run.hyp.weight_decay * options.batch_size * accumulate0) / NBS };
  const optimizer = new YoloOptimizer(options.optimizer, state.params, {
    lr: decayedHyp.lr0,
    momentum: decayedHyp.momentum,
    decay: decayedHyp.weight_decay,
  });
  if (isMain) log.info(optimizer.describe());

  // DDP: identical replicas (rank 0's weights) and the gradient reducer.
  const ddp = await DistributedDataParallel.create(
    processGroup,
    // --distill-feat's adapters train too: reduced with the model's gradients
    [...(distill?.variables ?? []), ...state.params.map((q) => q.variable)],
    {
      buffers: model.buffers().map((b) => b.variable),
      ...(options.grad_compression !== 'none' ? { gradCompression: options.grad_compression } : {}),
    },
  );
  state.pullParams();

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

  // Anchors: AutoAnchor on rank 0, then every rank takes rank 0's anchors.
  if (!run.resumeCheckpoint && !options.noautoanchor) {
    let anchors: number[] | null = null;
    if (isMain) anchors = autoAnchor(model, splits.train, decayedHyp.anchor_t, imgsz, seed, log);
    anchors = await processGroup.broadcastObject(anchors, 0);
    if (anchors) model.setAnchorsPixels(anchors);
  }
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
    tensorboard,
    distill,
  };
}
