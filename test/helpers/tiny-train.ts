// What the small training cases share: a fixed-size dataset and the no-augmentation hyp in the
// test's folder, and the flags of a small, deterministic run on them.
import * as path from 'node:path';
import { makeFixedSizeDataset, writeNoAugHyp } from './images.js';
import { TINY_YAML } from './run.js';

export interface TinyTrainOptions {
  /** Images in the dataset (train and val are the same folder). */
  images: number;
  epochs: number;
  /** Default wasm. */
  backend?: string;
  /** Default false: --noplots. */
  plots?: boolean;
}

export interface TinyTrain {
  yaml: string;
  hyp: string;
  /** `<dir>/runs`, the --project of every run. */
  project: string;
  /** TINY_YAML, the dataset and hyp, batch 8, imgsz 64, no loader workers, --project. */
  flags: string[];
}

export function tinyTrain(dir: string, options: TinyTrainOptions): TinyTrain {
  const yaml = makeFixedSizeDataset(path.join(dir, 'data'), options.images);
  const hyp = writeNoAugHyp(dir);
  const project = path.join(dir, 'runs');
  const flags = [
    ...['--cfg', TINY_YAML, '--data', yaml, '--hyp', hyp],
    ...['--epochs', String(options.epochs), '--batch-size', '8', '--imgsz', '64'],
    ...['--backend', options.backend ?? 'wasm', '--workers', '0'],
    ...(options.plots ? [] : ['--noplots']),
    ...['--project', project],
  ];
  return { yaml, hyp, project, flags };
}
