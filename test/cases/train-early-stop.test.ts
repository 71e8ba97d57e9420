// Early stopping and image weights under DDP: rank 0 decides, and one control message per
// epoch carries `stop` and the image-weight indices to every rank.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint, saveCheckpoint, readResults } from '@yolo-launch/train';
import { readLog, runLaunch, tmpDir } from '../helpers/run.js';
import { tinyTrain } from '../helpers/tiny-train.js';

test('patience 1 stops every rank in the same epoch; --image-weights gives all ranks the same indices', async () => {
  const dir = tmpDir('estop');
  try {
    const train = tinyTrain(dir, { images: 16, epochs: 6 });
    const saveDir = path.join(train.project, 'exp');
    const args = [...train.flags, '--patience', '1', '--image-weights'];
    // Epoch 0, then stop (test hook), as if the job had been interrupted.
    const first = await runLaunch(['--nproc', '2', '--standalone'], args, {
      cwd: dir,
      env: { YOLO_TRAIN_EXIT_AFTER_EPOCH: '0' },
      timeoutMs: 180_000,
    });
    assert.notEqual(first.code, 0);
    // Pretend the run had once reached a fitness it can no longer beat: with patience 1 the
    // first resumed epoch without improvement must stop training on every rank.
    const last = path.join(saveDir, 'weights', 'last.pt');
    const ck = loadCheckpoint(last);
    ck.meta.best_fitness = 2.0;
    ck.meta.best_epoch = 0;
    saveCheckpoint(last, ck);
    const r = await runLaunch(['--nproc', '2', '--standalone'], ['--resume', last], { cwd: dir, timeoutMs: 180_000 });
    assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000));
    assert.match(r.stdout, /Stopping training early as no improvement observed in last 1 epochs/);
    assert.deepEqual(
      readResults(path.join(saveDir, 'results.csv')).map((x) => x.epoch),
      [0, 1],
      'epoch 1 ran, then training stopped (6 epochs were asked for)',
    );
    const log = readLog(saveDir);
    for (const rank of [0, 1]) {
      const ends = log.filter((x) => x.rank === rank && x.msg === 'epoch end').map((x) => x.epoch);
      assert.deepEqual(ends, [0, 1], `rank ${rank} ran epochs 0 and 1 only`);
      assert.equal(
        log.filter((x) => x.rank === rank && x.msg === 'early stop').length,
        1,
        `rank ${rank} received the stop`,
      );
    }
    for (const epoch of [0, 1]) {
      const hashes = [0, 1].map(
        (rank) => log.find((x) => x.rank === rank && x.msg === 'image weights' && x.epoch === epoch)?.indices_hash,
      );
      assert.ok(hashes[0], `image weights were broadcast in epoch ${epoch}`);
      assert.equal(hashes[1], hashes[0], `both ranks sampled from the same indices in epoch ${epoch}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
