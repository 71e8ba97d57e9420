// detect.py's command line (YOLOv5 v7.0 names and defaults), checked before any work starts.

import yargs from 'yargs';
import { existsSync } from 'node:fs';
import { UsageError } from '@yolo-launch/export';
import type { BackendOption } from './ranks.js';
import { backendAndRefusedFlags, refuseFlags, strict } from './cli-common.js';
import { listSource } from './sources.js';

export interface DetectOptions {
  weights: string;
  source: string;
  /** The images of --source, resolved and sorted. */
  images: string[];
  imgsz: number;
  confThres: number;
  iouThres: number;
  maxDet: number;
  classes: number[] | null;
  agnosticNms: boolean;
  saveTxt: boolean;
  saveConf: boolean;
  saveCrop: boolean;
  nosave: boolean;
  project: string;
  name: string;
  existOk: boolean;
  lineThickness: number | null;
  hideLabels: boolean;
  hideConf: boolean;
  backend: BackendOption;
}

const REFUSED: Record<string, string> = {
  augment: '--augment (test-time augmentation) is not supported',
  half: '--half (FP16) needs a CUDA device in YOLOv5; detection here runs in FP32',
  dnn: '--dnn is for OpenCV DNN ONNX inference; not supported: detect with the checkpoint itself',
  visualize: '--visualize (feature maps) is not supported',
  'view-img': '--view-img needs a display; look at the saved images in runs/detect/exp instead',
  update: '--update strips optimizers from .pt files; nothing to update here',
};

function parser(argv: readonly string[]) {
  return strict(
    backendAndRefusedFlags(
      yargs([...argv])
        .scriptName('yolo-launch detect')
        .usage('$0 --weights runs/train/exp/weights/best.pt --source images/ [--imgsz 640] [--conf-thres 0.25]')
        .option('weights', { type: 'string', describe: 'model checkpoint (best.pt / last.pt from train)' })
        .option('source', { type: 'string', describe: 'an image, a folder of images, or a glob' })
        .option('data', { type: 'string', describe: 'accepted for compatibility (class names come from the weights)' })
        .option('imgsz', {
          type: 'number',
          array: true,
          alias: ['img', 'img-size'],
          default: [640],
          describe: 'inference size',
        })
        .option('conf-thres', { type: 'number', default: 0.25, describe: 'confidence threshold' })
        .option('iou-thres', { type: 'number', default: 0.45, describe: 'NMS IoU threshold' })
        .option('max-det', { type: 'number', default: 1000, describe: 'maximum detections per image' })
        .option('device', {
          type: 'string',
          default: '',
          describe: 'accepted for compatibility (the launcher assigns devices)',
        })
        .option('save-txt', { type: 'boolean', default: false, describe: 'save results to *.txt' })
        .option('save-conf', { type: 'boolean', default: false, describe: 'save confidences in --save-txt labels' })
        .option('save-crop', { type: 'boolean', default: false, describe: 'save cropped prediction boxes' })
        .option('nosave', { type: 'boolean', default: false, describe: 'do not save images' })
        .option('classes', {
          type: 'number',
          array: true,
          describe: 'filter by class: --classes 0, or --classes 0 2 3',
        })
        .option('agnostic-nms', { type: 'boolean', default: false, describe: 'class-agnostic NMS' })
        .option('project', { type: 'string', default: 'runs/detect', describe: 'save results to project/name' })
        .option('name', { type: 'string', default: 'exp', describe: 'save results to project/name' })
        .option('exist-ok', { type: 'boolean', default: false, describe: 'existing project/name ok, do not increment' })
        .option('line-thickness', { type: 'number', default: 3, describe: 'bounding box thickness (pixels)' })
        .option('hide-labels', { type: 'boolean', default: false, describe: 'hide labels' })
        .option('hide-conf', { type: 'boolean', default: false, describe: 'hide confidences' })
        .option('vid-stride', {
          type: 'number',
          default: 1,
          describe: 'accepted for compatibility (videos are not supported)',
        }),
      REFUSED,
    ),
  );
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new UsageError(message);
}

/** Parses and validates (the source listed, the weights present); null when --help was printed. */
export async function parseDetectArgs(argv: readonly string[]): Promise<DetectOptions | null> {
  const args = await parser(argv).parseAsync();
  if (args.help) return null;
  refuseFlags(args, REFUSED);
  check(Boolean(args.weights), '--weights is required, e.g. --weights runs/train/exp/weights/best.pt');
  check(Boolean(args.source), '--source is required: an image, a folder of images, or a glob');
  check(
    existsSync(args.weights!),
    `--weights ${args.weights} does not exist (train first: yolo-launch train ... writes runs/train/exp/weights/best.pt)`,
  );
  check(
    args.imgsz.length === 1 || (args.imgsz.length === 2 && args.imgsz[0] === args.imgsz[1]),
    `--imgsz ${args.imgsz.join(' ')}: give one size (square inference)`,
  );
  const imgsz = args.imgsz[0]!;
  check(Number.isInteger(imgsz) && imgsz > 0, `--imgsz ${imgsz}: must be a positive integer`);
  for (const [flag, v] of [
    ['--conf-thres', args['conf-thres']],
    ['--iou-thres', args['iou-thres']],
  ] as const)
    check(v >= 0 && v <= 1, `${flag} ${v}: must be between 0 and 1`);
  check(
    Number.isInteger(args['max-det']) && args['max-det'] > 0,
    `--max-det ${args['max-det']}: must be a positive integer`,
  );
  const classes = args.classes ?? null;
  if (classes)
    check(
      classes.every((c) => Number.isInteger(c) && c >= 0),
      `--classes ${classes.join(' ')}: class indices are integers >= 0`,
    );
  check(
    Number.isInteger(args['line-thickness']) && args['line-thickness'] > 0,
    `--line-thickness ${args['line-thickness']}: must be a positive integer`,
  );
  return {
    weights: args.weights!,
    source: args.source!,
    images: listSource(args.source!),
    imgsz,
    confThres: args['conf-thres'],
    iouThres: args['iou-thres'],
    maxDet: args['max-det'],
    classes,
    agnosticNms: args['agnostic-nms'],
    saveTxt: args['save-txt'],
    saveConf: args['save-conf'],
    saveCrop: args['save-crop'],
    nosave: args.nosave,
    project: args.project,
    name: args.name,
    existOk: args['exist-ok'],
    lineThickness: args['line-thickness'],
    hideLabels: args['hide-labels'],
    hideConf: args['hide-conf'],
    backend: args.backend as BackendOption,
  };
}
