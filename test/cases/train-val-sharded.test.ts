// Validation during training on every rank (the default) against YOLOv5's rank-0-only
// validation (--val-rank0): the same results.csv byte for byte, the same best.pt, the same
// early-stopping decision, the same final validation of best.pt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint } from '@yolo-launch/train';
import { readLog, runLaunch, tmpDir, type LogRecord } from '../helpers/run.js';
import { tinyTrain } from '../helpers/tiny-train.js';

function finalRecord(log: LogRecord[]): unknown {
  return (log.find((x) => x.rank === 0 && x.msg === 'final') as { final?: unknown } | undefined)?.final;
}

test('2 ranks: sharded epoch and final validation equal rank-0-only validation bit for bit', async () => {
  const dir = tmpDir('valshard');
  try {
    // 24 images, validation batch 8 (twice the per-rank batch of 4): 3 batches, two on rank 0
    const train = tinyTrain(dir, { images: 24, epochs: 4, plots: true });
    const common = [...train.flags, '--patience', '2'];
    const runs: Record<string, string> = {};
    for (const [name, extra] of [
      ['sharded', []],
      ['rank0', ['--val-rank0']],
    ] as const) {
      const r = await runLaunch(['--nproc', '2', '--standalone'], [...common, '--name', name, ...extra], {
        cwd: dir,
        timeoutMs: 240_000,
      });
      assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000));
      runs[name] = path.join(dir, 'runs', name);
    }
    const [sharded, rank0] = [runs.sharded!, runs.rank0!];
    assert.equal(
      fs.readFileSync(path.join(sharded, 'results.csv'), 'utf8'),
      fs.readFileSync(path.join(rank0, 'results.csv'), 'utf8'),
    );
    const [bestA, bestB] = [sharded, rank0].map((d) => loadCheckpoint(path.join(d, 'weights', 'best.pt')));
    assert.equal(bestA!.meta.epoch, bestB!.meta.epoch, 'best.pt comes from the same epoch');
    assert.deepEqual(
      bestA!.model.map((t) => Array.from(t.data)),
      bestB!.model.map((t) => Array.from(t.data)),
      'best.pt holds the same weights',
    );
    const [logA, logB] = [sharded, rank0].map(readLog);
    assert.deepEqual(finalRecord(logA!), finalRecord(logB!), 'the final validation of best.pt gave the same metrics');
    assert.ok(finalRecord(logA!), 'the final validation ran');
    const stops = (log: LogRecord[]) =>
      log.filter((x) => x.msg === 'early stop').map((x) => [x.rank, x.epoch_stopped_before]);
    assert.deepEqual(stops(logA!), stops(logB!), 'early stopping decided the same');
    // with sharding both ranks validated (val records come from rank 0 only, after the gather;
    // each rank's share shows in its validation time)
    const validationMs = (log: LogRecord[], rank: number) =>
      log
        .filter((x) => x.rank === rank && x.msg === 'epoch end')
        .map((x) => (x.timing as { validation: number }).validation);
    assert.ok(
      validationMs(logA!, 1).every((ms) => ms > 0),
      'rank 1 validated its share in every epoch',
    );
    assert.ok(
      validationMs(logB!, 1).every((ms) => ms === 0),
      'with --val-rank0 rank 1 did not validate',
    );
    for (const k of [0, 1, 2])
      assert.ok(
        fs.existsSync(path.join(sharded, `val_batch${k}_pred.jpg`)),
        `val_batch${k}_pred.jpg written by the rank that ran batch ${k}`,
      );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
