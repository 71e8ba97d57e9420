// val.py's command line (YOLOv5 v7.0 names and defaults), checked before any work starts.

import yargs from 'yargs';
import { existsSync } from 'node:fs';
import { UsageError } from '@yolo-launch/export';
import type { BackendOption } from './ranks.js';
import { backendAndRefusedFlags, refuseFlags, strict } from './cli-common.js';

export const VAL_TASKS = ['train', 'val', 'test', 'speed'] as const;
export type ValTask = (typeof VAL_TASKS)[number];

export interface ValOptions {
  data: string;
  weights: string;
  batchSize: number;
  imgsz: number;
  confThres: number;
  iouThres: number;
  maxDet: number;
  task: ValTask;
  workers: number;
  singleCls: boolean;
  verbose: boolean;
  saveTxt: boolean;
  saveHybrid: boolean;
  saveConf: boolean;
  saveJson: boolean;
  project: string;
  name: string;
  existOk: boolean;
  noplots: boolean;
  backend: BackendOption;
}

const REFUSED: Record<string, string> = {
  augment: '--augment (test-time augmentation) is not supported: validate without it',
  half: '--half (FP16) needs a CUDA device in YOLOv5; validation here runs in FP32',
  dnn: '--dnn is for OpenCV DNN ONNX inference; not supported: validate the checkpoint itself',
  'save-hybrid': '--save-hybrid is not supported (it writes labels merged with predictions); use --save-txt',
};

function parser(argv: readonly string[]) {
  return strict(
    backendAndRefusedFlags(
      yargs([...argv])
        .scriptName('yolo-launch val')
        .usage('$0 --weights runs/train/exp/weights/best.pt --data coco128.yaml [--imgsz 640] [--batch-size 32]')
        .option('data', {
          type: 'string',
          default: 'synthetic.yaml',
          describe: 'dataset.yaml path (default: the embedded synthetic dataset)',
        })
        .option('weights', { type: 'string', describe: 'model checkpoint (best.pt / last.pt from train)' })
        .option('batch-size', { type: 'number', default: 32, describe: 'batch size (total over all ranks)' })
        .option('imgsz', {
          type: 'number',
          alias: ['img', 'img-size'],
          default: 640,
          describe: 'inference size (pixels)',
        })
        .option('conf-thres', { type: 'number', default: 0.001, describe: 'confidence threshold' })
        .option('iou-thres', { type: 'number', default: 0.6, describe: 'NMS IoU threshold' })
        .option('max-det', { type: 'number', default: 300, describe: 'maximum detections per image' })
        .option('task', {
          type: 'string',
          default: 'val',
          choices: [...VAL_TASKS],
          describe: 'train, val, test, speed',
        })
        .option('device', {
          type: 'string',
          default: '',
          describe: 'accepted for compatibility (the launcher assigns devices)',
        })
        .option('workers', { type: 'number', default: 8, describe: 'max dataloader workers (per rank)' })
        .option('single-cls', { type: 'boolean', default: false, describe: 'treat as single-class dataset' })
        .option('verbose', { type: 'boolean', default: false, describe: 'report mAP by class' })
        .option('save-txt', { type: 'boolean', default: false, describe: 'save results to *.txt' })
        .option('save-conf', { type: 'boolean', default: false, describe: 'save confidences in --save-txt labels' })
        .option('save-json', { type: 'boolean', default: false, describe: 'save a COCO-JSON results file' })
        .option('project', { type: 'string', default: 'runs/val', describe: 'save to project/name' })
        .option('name', { type: 'string', default: 'exp', describe: 'save to project/name' })
        .option('exist-ok', { type: 'boolean', default: false, describe: 'existing project/name ok, do not increment' })
        .option('noplots', {
          type: 'boolean',
          default: false,
          describe: 'no PR/F1 curves, confusion matrix or val batches (yolo-launch)',
        }),
      REFUSED,
    ),
  );
}

function positiveInt(value: number, flag: string): number {
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${flag} ${value}: must be a positive integer`);
  return value;
}

function fraction(value: number, flag: string): number {
  if (!(value >= 0 && value <= 1)) throw new UsageError(`${flag} ${value}: must be between 0 and 1`);
  return value;
}

/** Parses and validates; null when --help was printed. Throws UsageError. */
export async function parseValArgs(argv: readonly string[]): Promise<ValOptions | null> {
  const args = await parser(argv).parseAsync();
  if (args.help) return null;
  refuseFlags(args, REFUSED);
  if (!args.weights) throw new UsageError('--weights is required, e.g. --weights runs/train/exp/weights/best.pt');
  if (!existsSync(args.weights))
    throw new UsageError(
      `--weights ${args.weights} does not exist (train first: yolo-launch train ... writes runs/train/exp/weights/best.pt)`,
    );
  const speed = args.task === 'speed';
  return {
    data: args.data,
    weights: args.weights,
    batchSize: positiveInt(args['batch-size'], '--batch-size'),
    imgsz: positiveInt(args.imgsz, '--imgsz'),
    // val.py's speed task: conf 0.25, IoU 0.45, no JSON, no plots
    confThres: speed ? 0.25 : fraction(args['conf-thres'], '--conf-thres'),
    iouThres: speed ? 0.45 : fraction(args['iou-thres'], '--iou-thres'),
    maxDet: positiveInt(args['max-det'], '--max-det'),
    task: args.task as ValTask,
    workers: Math.max(0, Math.trunc(args.workers)),
    singleCls: args['single-cls'],
    verbose: args.verbose,
    saveTxt: args['save-txt'],
    saveHybrid: false,
    saveConf: args['save-conf'],
    saveJson: speed ? false : args['save-json'],
    project: args.project,
    name: args.name,
    existOk: args['exist-ok'],
    noplots: speed || args.noplots,
    backend: args.backend as BackendOption,
  };
}
