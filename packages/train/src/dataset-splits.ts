// The dataset (train.py step 3): the YAML (the embedded one generated, a download run), the
// train and val splits with their label caches, each once per node first (rankZeroFirst).

import * as data from '@yolo-launch/data';
import { rankZeroFirst } from '@yolo-launch/ddp';
import type { PreparedRun } from './context.js';
import { downloadDataset, missingPaths } from './download.js';

/** The dataset YAML (the embedded one generated, a download run, once per node) and its splits. */
export async function loadSplits(
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
