// val.py's run() for a checkpoint: every check first (weights, dataset and its labels, class
// count), then the run folder, then each rank validates its share of the batches (the
// trainer's validation, val-shard.ts) and rank 0 prints the table, the speed line, the plots,
// and gathers --save-json; --save-txt files are written by the rank that ran the image.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as data from '@yolo-launch/data';
import * as yolo from '@yolo-launch/yolo';
import { loadWeights, UsageError, type LoadedWeights } from '@yolo-launch/export';
import {
  createBatchSource,
  readEnvSwitch,
  TrainLog,
  validate,
  writeFileAtomic,
  writePlots,
  type ImageDetections,
  type ValResult,
} from '@yolo-launch/train';
import type { ValOptions } from './val-options.js';
import { gatherAll, makeSaveDir, openRanks, type Ranks } from './ranks.js';
import { cocoRecords, labelLines, txtPath, type CocoRecord } from './labels-txt.js';

/** The dataset YAML: a path, or the embedded synthetic dataset (made once, on rank 0 first). */
async function datasetYaml(ranks: Ranks, given: string): Promise<string> {
  if (fs.existsSync(given)) return given;
  if (given !== data.SYNTHETIC_YAML) throw new UsageError(`--data ${given} does not exist: give a dataset YAML path`);
  const made = ranks.isMain ? await data.ensureDefaultDataset() : null;
  return (await ranks.group.broadcastObject(made, 0))!;
}

/** The split to validate, refused (exit 2) without labels or with another class count than the model's. */
async function loadValSplit(
  ranks: Ranks,
  opts: ValOptions,
  weights: LoadedWeights,
  log: TrainLog,
): Promise<data.LoadedSplit> {
  const yamlFile = await datasetYaml(ranks, opts.data);
  const config = data.loadDatasetYaml(yamlFile);
  const split = opts.task === 'train' || opts.task === 'test' ? opts.task : 'val';
  if (!config[split]?.length) throw new UsageError(`--data ${opts.data} has no ${split}: split (--task ${opts.task})`);
  let loaded: data.LoadedSplit;
  try {
    loaded = await data.loadSplit(config, split, {
      prefix: `${split}: `,
      requireLabels: true,
      singleCls: opts.singleCls,
      writeCache: ranks.isMain,
      log: (l) => log.info(l),
    });
  } catch (err) {
    throw new UsageError(`--data ${opts.data}: ${(err as Error).message} (val needs labels to score against)`);
  }
  const ncm = weights.model.nc;
  if (!opts.singleCls && ncm !== config.nc)
    throw new UsageError(
      `${opts.weights} (${ncm} classes) trained on different --data than what you passed (${config.nc} classes). Pass correct combination of --weights and --data that are trained together.`,
    );
  return loaded;
}

/** What each rank saves per image (--save-txt now; --save-json records for rank 0). */
function imageSaver(
  opts: ValOptions,
  saveDir: string,
  isCoco: boolean,
  jsonRecords: Array<{ index: number; records: CocoRecord[] }>,
  order: Map<string, number>,
) {
  return (image: ImageDetections): void => {
    if (opts.saveTxt) writeFileAtomic(txtPath(saveDir, image.path), labelLines(image.det, image.shape, opts.saveConf));
    if (opts.saveJson)
      jsonRecords.push({ index: order.get(image.path) ?? 0, records: cocoRecords(image.det, image.path, isCoco) });
  };
}

function speedLine(r: ValResult, batchSize: number, imgsz: number): string {
  const { preprocess, inference, nms } = r.speed;
  return `Speed: ${preprocess.toFixed(1)}ms pre-process, ${inference.toFixed(1)}ms inference, ${nms.toFixed(1)}ms NMS per image at shape (${batchSize}, 3, ${imgsz}, ${imgsz})`;
}

export async function runVal(opts: ValOptions): Promise<ValResult | null> {
  const ranks = await openRanks(opts.backend);
  // YOLO_LOG_JSON as the trainer reads it (its switch table, @yolo-launch/train's train-env.ts)
  const log = new TrainLog(ranks.env.rank, { jsonConsole: readEnvSwitch('logJson', process.env) });
  try {
    const weights = loadWeights(opts.weights);
    const gs = Math.max(32, Math.max(...weights.model.stride));
    const imgsz = yolo.checkImgSize(opts.imgsz, gs);
    if (imgsz !== opts.imgsz)
      log.warn(`--img-size ${opts.imgsz} must be multiple of max stride ${gs}, updating to ${imgsz}`);
    const split = await loadValSplit(ranks, opts, weights, log);
    const saveDir = await makeSaveDir(ranks, opts.project, opts.name, opts.existOk, opts.saveTxt ? ['labels'] : []);
    const speed = opts.task === 'speed';
    const loader = await createBatchSource(split.dataset, {
      batchSize: opts.batchSize,
      imgsz,
      augment: false,
      rect: !speed,
      quad: false,
      stride: gs,
      workers: opts.workers,
      seed: 0,
      rank: 0,
      hyp: {},
      cache: false,
      cacheMode: undefined,
      localWorldSize: ranks.env.localWorldSize,
      threadBudget: ranks.env.threads,
    });
    try {
      const order = new Map(loader.dataset.imFiles.map((f, i) => [f, i]));
      const jsonRecords: Array<{ index: number; records: CocoRecord[] }> = [];
      const isCoco = split.config.val.some((v) => v.endsWith(`coco${path.sep}val2017.txt`));
      const inputs = {
        model: weights.model,
        loader,
        dataset: loader.dataset,
        batchSize: opts.batchSize,
        nc: opts.singleCls ? 1 : weights.model.nc,
        names: weights.names,
        singleCls: opts.singleCls,
        log,
        saveDir,
        shard: ranks.shard,
      };
      const result = await validate(inputs, null, {
        plots: !opts.noplots,
        verbose: opts.verbose,
        confThres: opts.confThres,
        iouThres: opts.iouThres,
        maxDet: opts.maxDet,
        onImage: imageSaver(opts, saveDir, isCoco, jsonRecords, order),
      });
      const allJson = opts.saveJson ? await gatherAll(ranks, jsonRecords) : [];
      if (ranks.isMain && result)
        await report(opts, result, { saveDir, imgsz, names: weights.names, json: allJson, log });
      return result;
    } finally {
      await loader.close();
      weights.model.dispose();
    }
  } finally {
    await ranks.group.destroy();
  }
}

/** Rank 0: the speed line, plots, the JSON file, where it all went. */
async function report(
  opts: ValOptions,
  r: ValResult,
  out: {
    saveDir: string;
    imgsz: number;
    names: string[];
    json: Array<{ index: number; records: CocoRecord[] }>;
    log: TrainLog;
  },
): Promise<void> {
  const { saveDir, log } = out;
  log.info(speedLine(r, opts.batchSize, out.imgsz));
  if (!opts.noplots) await writePlots({ saveDir, names: out.names }, r);
  if (opts.saveJson) {
    const file = path.join(saveDir, `${path.parse(opts.weights).name}_predictions.json`);
    const records = out.json.sort((a, b) => a.index - b.index).flatMap((x) => x.records);
    log.info(`\nEvaluating pycocotools mAP... saving ${file}...`);
    writeFileAtomic(file, JSON.stringify(records));
    log.info('pycocotools is not available here: evaluate the JSON with pycocotools against your COCO annotations');
  }
  const labels = opts.saveTxt
    ? `\n${fs.readdirSync(path.join(saveDir, 'labels')).filter((f) => f.endsWith('.txt')).length} labels saved to ${path.join(saveDir, 'labels')}`
    : '';
  log.info(`Results saved to ${saveDir}${labels}`);
  const raw = {
    mp: r.mp,
    mr: r.mr,
    map50: r.map50,
    map: r.map,
    maps: r.maps,
    seen: r.seen,
    instances: r.instances,
    per_class: r.perClass,
    speed: r.speed,
  };
  writeFileAtomic(path.join(saveDir, 'metrics.json'), JSON.stringify(raw, null, 1));
}
