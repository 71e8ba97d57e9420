// --evolve under DDP: each generation is one DDP job; rank 0 records evolve.csv and
// hyp_evolved.yaml, and the generations' hyperparameters differ (mutation happened).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runLaunch, tmpDir } from '../helpers/run.js';
import { tinyTrainFlags } from '../helpers/tiny-train.js';
import { makeFixedSizeDataset, writeNoAugHyp } from '../helpers/images.js';

test('yolo-launch --nproc 2 train --evolve 2: two generations recorded in evolve.csv and hyp_evolved.yaml', async () => {
  const dir = tmpDir('evolve');
  try {
    const files = {
      data: makeFixedSizeDataset(path.join(dir, 'data'), 16),
      hyp: writeNoAugHyp(dir),
      project: path.join(dir, 'evolve'),
    };
    const r = await runLaunch(
      ['--nproc', '2', '--standalone'],
      [...tinyTrainFlags(files, { epochs: 1 }), '--evolve', '2'],
      { cwd: dir, timeoutMs: 180_000 },
    );
    assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000));
    const csv = fs
      .readFileSync(path.join(dir, 'evolve', 'exp', 'evolve.csv'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(csv.length, 3, 'header + two generations');
    const head = csv[0]!.split(',').map((s) => s.trim());
    assert.deepEqual(head.slice(0, 4), [
      'metrics/precision',
      'metrics/recall',
      'metrics/mAP_0.5',
      'metrics/mAP_0.5:0.95',
    ]);
    const hyps = csv.slice(1).map((l) => l.split(',').slice(7).map(Number));
    assert.notDeepEqual(hyps[1], hyps[0], 'the second generation was mutated');
    assert.match(fs.readFileSync(path.join(dir, 'evolve', 'exp', 'hyp_evolved.yaml'), 'utf8'), /# Last generation: 1/);
    assert.match(r.stdout, /Hyperparameter evolution finished 2 generations/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
