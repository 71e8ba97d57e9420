// The data loaders (train.py step 6): the augmented training loader and val.py's loader on
// the ranks that validate.

import type * as data from '@yolo-launch/data';
import type { Hyp } from './config.js';
import type { PreparedRun } from './context.js';
import { createBatchSource } from './batches.js';

/** The training loader (augmented) and, on the ranks that validate, val.py's (rect, 0.5 stride padding, twice the batch). */
export async function createLoaders(
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
