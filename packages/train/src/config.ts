// Everything the run needs, resolved and checked before anything is written: the dataset
// YAML, the model YAML, the hyp file and the weights (YOLOv5's check_file / check_yaml:
// a path, else a file shipped with the project).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { DEFAULT_DATA, UsageError, type TrainOptions } from './options.js';
import { HYP_DIR, checkFile, checkYaml } from './paths.js';

/** The root of an installed workspace package (from its resolved entry dist/src/index.js). */
function packageRoot(name: string): string | null {
  try {
    const entry = fileURLToPath(import.meta.resolve(name));
    return path.resolve(path.dirname(entry), '..', '..');
  } catch {
    return null;
  }
}

/** Folders of shipped model YAMLs (@yolo-launch/yolo's models/). */
export function modelDirs(): string[] {
  const root = packageRoot('@yolo-launch/yolo');
  return root ? [path.join(root, 'models')] : [];
}

/** Folders of shipped dataset YAMLs (@yolo-launch/data's data/, if any). */
export function datasetDirs(): string[] {
  const root = packageRoot('@yolo-launch/data');
  return root ? [path.join(root, 'data'), path.join(root, 'datasets')] : [];
}

export const DEFAULT_CFG = 'yolov5s.yaml';

export const REQUIRED_HYP_KEYS = [
  'lr0',
  'lrf',
  'momentum',
  'weight_decay',
  'warmup_epochs',
  'warmup_momentum',
  'warmup_bias_lr',
  'box',
  'cls',
  'cls_pw',
  'obj',
  'obj_pw',
  'iou_t',
  'anchor_t',
  'fl_gamma',
  'hsv_h',
  'hsv_s',
  'hsv_v',
  'degrees',
  'translate',
  'scale',
  'shear',
  'perspective',
  'flipud',
  'fliplr',
  'mosaic',
  'mixup',
] as const;
export type RequiredHypKey = (typeof REQUIRED_HYP_KEYS)[number];

/** hyp.yaml after checkHyp: every required key, train.py's two defaults, and any other key the file holds (e.g. anchors). */
export type Hyp = Record<RequiredHypKey | 'copy_paste' | 'label_smoothing', number> & Record<string, number>;

function hasRequiredKeys(
  values: Record<string, number>,
): values is Record<RequiredHypKey, number> & Record<string, number> {
  return REQUIRED_HYP_KEYS.every((k) => k in values);
}

export function loadHyp(file: string): Hyp {
  let obj: unknown;
  try {
    obj = yaml.load(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--hyp ${file}: invalid YAML: ${(e as Error).message}`);
  }
  return checkHyp(obj, file);
}

export function checkHyp(obj: unknown, where: string): Hyp {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj))
    throw new UsageError(`--hyp ${where}: expected a mapping of hyperparameters`);
  const values: Record<string, number> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new UsageError(`--hyp ${where}: '${k}' must be a number, got ${JSON.stringify(v)}`);
    values[k] = v;
  }
  if (!hasRequiredKeys(values)) {
    const missing = REQUIRED_HYP_KEYS.filter((k) => !(k in values));
    throw new UsageError(`--hyp ${where}: missing ${missing.join(', ')} (start from hyp.scratch-low.yaml)`);
  }
  // Keys already present keep their place (hyp.yaml is written in this order).
  return { ...values, copy_paste: values.copy_paste ?? 0, label_smoothing: values.label_smoothing ?? 0 };
}

export interface ResolvedInputs {
  /** Absolute dataset YAML, or 'default' for the embedded synthetic dataset (created on first use). */
  data: string | 'default';
  cfg: string;
  hyp: Hyp;
  hypFile: string;
  weights: string;
}

/** Resolve --data/--cfg/--hyp/--weights; throws UsageError (exit 2) before anything is written. */
export function resolveInputs(options: TrainOptions): ResolvedInputs {
  let data: string;
  if (options.data === DEFAULT_DATA && !fs.existsSync(path.resolve(options.data))) data = 'default';
  else data = checkYaml(options.data, '--data', datasetDirs());
  // YOLOv5's default is --weights yolov5s.pt (a download); ours is '' so that nothing is
  // fetched unasked: with neither --cfg nor --weights we train its architecture from scratch.
  const cfgName = options.cfg || (options.weights || options.resume !== false ? '' : DEFAULT_CFG);
  const cfg = cfgName ? checkYaml(cfgName, '--cfg', modelDirs()) : '';
  const hypFile = checkYaml(options.hyp, '--hyp', [HYP_DIR]);
  const hyp = loadHyp(hypFile);
  let weights = '';
  if (options.weights) {
    weights = checkFile(options.weights, '--weights', []);
  }
  return { data, cfg, hyp, hypFile, weights };
}
