// How many loader workers a rank gets: under the launcher YOLO_LAUNCH_THREADS is already this
// rank's share of the node's CPUs, so it must not be divided by the local world size again
// (that left 2 ranks on 2 cores with no worker at all); run alone, the node's CPUs are shared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as data from '@yolo-launch/data';
import { createBatchSource } from '../src/batches.js';

test('loader workers: the launcher thread budget is per rank; alone, the CPUs are split by local ranks', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'yl-batches-'));
  try {
    const y = await data.ensureSyntheticDataset(path.join(root, 'syn'), { seed: 3, nTrain: 8, nVal: 4, imgSize: 64 });
    const { dataset } = await data.loadSplit(y, 'train', { writeCache: false });
    const base = {
      seed: 0,
      stride: 32,
      hyp: {},
      quad: false,
      imgsz: 64,
      augment: false,
      cache: false,
      cacheMode: undefined,
      rank: 0,
      batchSize: 4,
      rect: false,
      workers: 8,
    };
    const cpus = os.availableParallelism();
    const cases: [{ localWorldSize: number; threadBudget: number | undefined }, number][] = [
      [{ localWorldSize: 2, threadBudget: 1 }, 1],
      [{ localWorldSize: 2, threadBudget: 3 }, 3],
      [{ localWorldSize: 1, threadBudget: undefined }, Math.min(cpus, 4)],
      [{ localWorldSize: cpus * 2, threadBudget: undefined }, 0],
    ];
    for (const [opts, want] of cases) {
      const src = await createBatchSource(dataset, { ...base, ...opts });
      try {
        assert.equal(src.workers, want, JSON.stringify(opts));
      } finally {
        await src.close();
      }
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
