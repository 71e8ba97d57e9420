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

export interface TinyTrainFiles {
  data: string;
  hyp: string;
  project: string;
}

/** TINY_YAML on `files`, batch 8, imgsz 64, no loader workers. */
export function tinyTrainFlags(files: TinyTrainFiles, options: Omit<TinyTrainOptions, 'images'>): string[] {
  return [
    ...['--cfg', TINY_YAML, '--data', files.data, '--hyp', files.hyp],
    ...['--epochs', String(options.epochs), '--batch-size', '8', '--imgsz', '64'],
    ...['--backend', options.backend ?? 'wasm', '--workers', '0'],
    ...(options.plots ? [] : ['--noplots']),
    ...['--project', files.project],
  ];
}

/** A fixed-size dataset of `images` and the no-augmentation hyp in `dir`, runs under `<dir>/runs`. */
export function tinyTrain(dir: string, options: TinyTrainOptions): TinyTrain {
  const yaml = makeFixedSizeDataset(path.join(dir, 'data'), options.images);
  const hyp = writeNoAugHyp(dir);
  const project = path.join(dir, 'runs');
  return { yaml, hyp, project, flags: tinyTrainFlags({ data: yaml, hyp, project }, options) };
}
