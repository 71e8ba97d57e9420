// DDP equivalence of the trainer: `yolo-launch --nproc 2 train --sync-bn` takes the same
// optimizer steps as one process on the same global batch (weights within 1e-5), on wasm and
// on tensorflow (tfjs-node) where it is set up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint } from '@yolo-launch/train';
import { runLaunch, runTrain, tmpDir } from '../helpers/run.js';
import { tinyTrain } from '../helpers/tiny-train.js';
import { backendsUnderTest } from '../helpers/backends.js';

for (const { backend, skip } of await backendsUnderTest()) {
  test(
    `equivalence (${backend}): world 2 with --sync-bn equals world 1 after the first optimizer steps (max |dw| <= 1e-5)`,
    { skip },
    async (t) => {
      const dir = tmpDir(`equiv-${backend}`);
      try {
        const train = tinyTrain(dir, { images: 16, epochs: 1, backend });
        const common = [...train.flags, '--sync-bn', '--noautoanchor', '--save-period', '1'];
        const one = await runTrain([...common, '--name', 'w1'], {
          cwd: dir,
          timeoutMs: 180_000,
        });
        assert.equal(one.code, 0, one.stderr);
        const two = await runLaunch(['--nproc', '2', '--standalone'], [...common, '--name', 'w2'], {
          cwd: dir,
          timeoutMs: 180_000,
        });
        assert.equal(two.code, 0, two.stdout.slice(-3000) + two.stderr.slice(-3000));
        const a = loadCheckpoint(path.join(dir, 'runs', 'w1', 'weights', 'epoch0.pt'));
        const b = loadCheckpoint(path.join(dir, 'runs', 'w2', 'weights', 'epoch0.pt'));
        assert.equal(a.meta.optimizer!.step, 2, 'two optimizer steps (16 images, batch 8, accumulate 1 in warmup)');
        assert.equal(b.meta.optimizer!.step, a.meta.optimizer!.step);
        const bt = new Map(b.model.map((t) => [t.name, t]));
        let maxDiff = 0;
        let maxChange = 0;
        for (const t of a.model) {
          if (t.name.endsWith('num_batches_tracked') || t.name.endsWith('anchors')) continue;
          const u = bt.get(t.name)!;
          assert.equal(u.data.length, t.data.length, t.name);
          for (let i = 0; i < t.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(t.data[i]! - u.data[i]!));
        }
        // The optimizer really moved the weights (momentum buffers are non-zero).
        for (const t of a.optimizer ?? [])
          for (let i = 0; i < t.data.length; i++) maxChange = Math.max(maxChange, Math.abs(t.data[i]!));
        assert.ok(maxChange > 1e-4, `optimizer buffers should be non-trivial, max |buf| ${maxChange}`);
        t.diagnostic(`max |w1 - w2| = ${maxDiff}, max |momentum buffer| = ${maxChange}`);
        assert.ok(maxDiff <= 1e-5, `max |w1 - w2| = ${maxDiff}`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}
