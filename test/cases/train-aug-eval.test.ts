// YOLOv6's late-epoch controls through the real trainer: mosaic closed for the last epochs on
// every rank at the same epoch (and after --resume inside the window), the evaluation schedule's
// epochs, results.csv rows of unvalidated epochs, epoch<N>.pt for the last N epochs; and epochs
// with mosaic closed keep DDP equivalence (2 ranks == 1 rank == a run whose hyp has mosaic 0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint, readResults } from '@yolo-launch/train';
import { TINY_YAML, readLog, runLaunch, runTrain, tmpDir, writeTestHyp } from '../helpers/run.js';
import { makeFixedSizeDataset } from '../helpers/images.js';

/** results.csv's metric columns (P, R, mAP50, mAP50-95, val box/obj/cls) after the 3 train losses. */
const metricColumns = (values: number[]): number[] => values.slice(3, 10);

function commonArgs(dir: string, yaml: string, hyp: string): string[] {
  return [
    ...['--cfg', TINY_YAML, '--data', yaml, '--hyp', hyp, '--batch-size', '8', '--imgsz', '64'],
    ...['--backend', 'wasm', '--noplots', '--noautoanchor', '--project', path.join(dir, 'runs')],
  ];
}

test('2 ranks: mosaic closes at the same epoch on both, also after --resume inside the window; validated epochs, rows and epoch<N>.pt', async () => {
  const dir = tmpDir('augeval');
  try {
    const yaml = makeFixedSizeDataset(path.join(dir, 'data'), 16);
    const hyp = writeTestHyp(dir, 'hyp.mosaic.yaml', { mosaic: 1.0 });
    const saveDir = path.join(dir, 'runs', 'exp');
    const args = [
      ...commonArgs(dir, yaml, hyp),
      ...['--epochs', '4', '--workers', '1', '--close-mosaic', '2'],
      ...['--eval-interval', '2', '--heavy-eval-range', '0', '--save-ckpt-on-last-n-epoch', '2'],
    ];
    // epochs 0..2, then stopped (test hook) inside the mosaic-closed window; resumed for epoch 3
    const first = await runLaunch(['--nproc', '2', '--standalone'], args, {
      cwd: dir,
      env: { YOLO_TRAIN_EXIT_AFTER_EPOCH: '2' },
      timeoutMs: 300_000,
    });
    assert.notEqual(first.code, 0, 'stopped by the test hook');
    assert.equal(first.stdout.match(/Closing dataloader mosaic/g)?.length, 1, first.stdout.slice(-3000));
    assert.match(first.stdout, /Validating 2 of 4 epochs: 1, 3/);
    const last = path.join(saveDir, 'weights', 'last.pt');
    const resumed = await runLaunch(['--nproc', '2', '--standalone'], ['--resume', last], {
      cwd: dir,
      timeoutMs: 300_000,
    });
    assert.equal(resumed.code, 0, resumed.stdout.slice(-3000) + resumed.stderr.slice(-3000));
    assert.match(resumed.stdout, /Closing dataloader mosaic \(--stop-aug-last-n-epoch: last 2 epochs, from epoch 2\)/);

    const log = readLog(saveDir);
    for (const rank of [0, 1]) {
      const starts = log.filter((x) => x.rank === rank && x.msg === 'epoch start');
      assert.deepEqual(
        starts.map((x) => [x.epoch, x.mosaic_closed]),
        [
          [0, false],
          [1, false],
          [2, true],
          [3, true],
        ],
        `rank ${rank}: mosaic closed in epochs 2 and 3 (the resumed process started without it)`,
      );
    }
    const epochs = log.filter((x) => x.rank === 0 && x.msg === 'epoch');
    assert.deepEqual(
      epochs.filter((x) => x.validated).map((x) => x.epoch),
      [1, 3],
    );
    const rows = readResults(path.join(saveDir, 'results.csv'));
    assert.deepEqual(
      rows.map((r) => r.epoch),
      [0, 1, 2, 3],
    );
    assert.deepEqual(metricColumns(rows[0]!.values), [0, 0, 0, 0, 0, 0, 0], 'zeros before the first validation');
    assert.ok(
      metricColumns(rows[1]!.values)
        .slice(4)
        .every((v) => v > 0),
      'epoch 1 validated: val losses',
    );
    assert.deepEqual(metricColumns(rows[2]!.values), [0, 0, 0, 0, 0, 0, 0], 'epoch 2 not validated: zeros, as --noval');
    for (const r of rows) assert.ok(r.values.slice(0, 3).every((v) => v > 0) && r.values[10]! > 0, 'losses and lr');
    const weights = fs.readdirSync(path.join(saveDir, 'weights')).sort();
    assert.deepEqual(weights, ['best.pt', 'epoch2.pt', 'epoch3.pt', 'last.pt']);
    assert.match(fs.readFileSync(path.join(saveDir, 'opt.yaml'), 'utf8'), /^stop_aug_last_n_epoch: 2$/m);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an epoch with mosaic closed: world 2 equals world 1 (<= 1e-5), which equals a run whose hyp has mosaic 0', async (t) => {
  const dir = tmpDir('augequiv');
  try {
    const yaml = makeFixedSizeDataset(path.join(dir, 'data'), 16);
    const mosaicHyp = writeTestHyp(dir, 'hyp.mosaic.yaml', { mosaic: 1.0, mixup: 0.5 });
    const plainHyp = writeTestHyp(dir, 'hyp.plain.yaml', {});
    const args = (hyp: string, name: string) => [
      ...commonArgs(dir, yaml, hyp),
      ...['--epochs', '1', '--workers', '0', '--sync-bn', '--save-period', '1', '--name', name],
    ];
    const runs = [
      runTrain([...args(mosaicHyp, 'w1'), '--close-mosaic', '1'], { cwd: dir, timeoutMs: 180_000 }),
      runTrain(args(plainHyp, 'plain'), { cwd: dir, timeoutMs: 180_000 }),
    ];
    for (const r of await Promise.all(runs)) assert.equal(r.code, 0, r.stderr);
    const two = await runLaunch(['--nproc', '2', '--standalone'], [...args(mosaicHyp, 'w2'), '--close-mosaic', '1'], {
      cwd: dir,
      timeoutMs: 180_000,
    });
    assert.equal(two.code, 0, two.stdout.slice(-3000) + two.stderr.slice(-3000));
    const weights = (name: string) => loadCheckpoint(path.join(dir, 'runs', name, 'weights', 'epoch0.pt')).model;
    const [one, plain, world2] = [weights('w1'), weights('plain'), weights('w2')];
    const byName = (list: typeof one) => new Map(list.map((x) => [x.name, x.data]));
    const plainByName = byName(plain);
    const world2ByName = byName(world2);
    let maxDiff = 0;
    for (const { name, data } of one) {
      if (name.endsWith('num_batches_tracked') || name.endsWith('anchors')) continue;
      assert.deepEqual(data, plainByName.get(name), `${name}: closed mosaic == hyp mosaic 0, bit for bit`);
      const other = world2ByName.get(name)!;
      for (let i = 0; i < data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(data[i]! - other[i]!));
    }
    t.diagnostic(`max |w1 - w2| = ${maxDiff}`);
    assert.ok(maxDiff <= 1e-5, `max |w1 - w2| = ${maxDiff}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
