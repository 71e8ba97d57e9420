// opt.yaml and hyp.yaml of a run folder, as YOLOv5 writes them (options with `hyp` as a
// mapping and `save_dir`; the hyperparameters as given). Written atomically: --resume reads
// opt.yaml back, and AutoBatch rewrites it with the batch size it chose.

import * as path from 'node:path';
import yaml from 'js-yaml';
import type { Hyp } from './config.js';
import type { TrainOptions } from './options.js';
import { writeFileAtomic } from './checkpoint.js';

function yamlDump(obj: unknown): string {
  return yaml.dump(obj, { sortKeys: false, lineWidth: 200 });
}

export function writeOptYaml(saveDir: string, options: TrainOptions, hyp: Hyp): void {
  writeFileAtomic(path.join(saveDir, 'opt.yaml'), yamlDump({ ...options, hyp, save_dir: saveDir }));
}

export function writeHypYaml(saveDir: string, hyp: Hyp): void {
  writeFileAtomic(path.join(saveDir, 'hyp.yaml'), yamlDump(hyp));
}
