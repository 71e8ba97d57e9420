// The checks `yolo-launch val|detect` runs in the launcher before it starts any rank, so bad
// input exits 2 with one line and nothing is spawned or written (a rank's own failure would
// reach the user as the launcher's "rank 0 exited with code 2", exit 1). Cheap: no tfjs, no
// label scan; the ranks repeat the full checks.

import * as fs from 'node:fs';
import * as data from '@yolo-launch/data';
import { UsageError } from '@yolo-launch/export';
import { parseValArgs, type ValOptions } from './val-options.js';
import { parseDetectArgs } from './detect-options.js';
import { isUsageError, USAGE_EXIT_CODE } from './cli-common.js';

/** A dataset YAML whose split has images but not one label file. */
function checkValDataset(opts: ValOptions): void {
  if (!fs.existsSync(opts.data)) {
    if (opts.data === data.SYNTHETIC_YAML) return; // the embedded dataset, made by rank 0
    throw new UsageError(`--data ${opts.data} does not exist: give a dataset YAML path`);
  }
  let config: data.DatasetConfig;
  try {
    config = data.loadDatasetYaml(opts.data);
  } catch (err) {
    throw new UsageError(`--data ${opts.data}: ${(err as Error).message}`);
  }
  const split = opts.task === 'train' || opts.task === 'test' ? opts.task : 'val';
  const sources = config[split];
  if (!sources?.length) throw new UsageError(`--data ${opts.data} has no ${split}: split (--task ${opts.task})`);
  let images: string[];
  try {
    images = data.listImageFiles(sources);
  } catch (err) {
    throw new UsageError(`--data ${opts.data}: ${(err as Error).message}`);
  }
  if (!images.some((f) => fs.existsSync(data.img2labelPath(f))))
    throw new UsageError(
      `--data ${opts.data}: no label files for the ${images.length} ${split} images (looked in ${data.img2labelPath(images[0]!)} and beside it); val needs labels to score against`,
    );
}

/**
 * null: go ahead and launch; a number: exit with it (0 after --help, 2 after one error line).
 */
export async function precheck(command: 'val' | 'detect', argv: readonly string[]): Promise<number | null> {
  try {
    if (command === 'val') {
      const opts = await parseValArgs(argv);
      if (!opts) return 0;
      checkValDataset(opts);
    } else if (!(await parseDetectArgs(argv))) return 0;
    return null;
  } catch (err) {
    if (!isUsageError(err)) throw err;
    process.stderr.write(`${command}: error: ${err.message}\n`);
    return USAGE_EXIT_CODE;
  }
}
