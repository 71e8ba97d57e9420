// `--batch-size -1` under DDP and TensorBoard logs of a real run: every rank measures its own
// device, rank 0 takes the smallest per-rank batch, both ranks train with the same total,
// opt.yaml keeps it for --resume; rank 0 writes one event file with YOLOv5's tags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import yaml from 'js-yaml';
import { RESULT_KEYS, readResults } from '@yolo-launch/train';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, TINY_YAML, readLog, runLaunch, runTrain, tmpDir } from '../helpers/run.js';
import type * as EventReader from '../../packages/train/dist/test/helpers/tfrecord-reader.js';

// train's event-file reader written from the format's specification (its unit tests' helper).
const { decodeEvent, readRecords } = (await import(
  pathToFileURL(path.join(REPO_ROOT, 'packages', 'train', 'dist', 'test', 'helpers', 'tfrecord-reader.js')).href
)) as typeof EventReader;

/** Every scalar of the run folder's event files as `step:tag`. */
function scalarTags(saveDir: string): { files: string[]; tags: string[]; images: string[] } {
  const files = fs.readdirSync(saveDir).filter((f) => f.startsWith('events.out.tfevents.'));
  const events = files.flatMap((f) => readRecords(fs.readFileSync(path.join(saveDir, f))).records.map(decodeEvent));
  const values = events.flatMap((e) => e.values.map((v) => ({ step: e.step, ...v })));
  return {
    files,
    tags: values.filter((v) => v.simpleValue !== undefined).map((v) => `${v.step}:${v.tag}`),
    images: values
      .filter((v) => v.image)
      .map((v) => v.tag)
      .sort(),
  };
}

// A cap that puts the fit of the tiny model at 64 px inside 1..1024 (the wasm heap alone
// would fit thousands of images, which YOLOv5's guard turns into the default 16).
const CAP = { YOLO_AUTOBATCH_MEMORY: '160M' };

test('yolo-launch --nproc 2 train --batch-size -1: one agreed total on both ranks, trained, kept in opt.yaml; TensorBoard from rank 0', async () => {
  const dir = tmpDir('autobatch');
  try {
    const args = [
      '--cfg',
      TINY_YAML,
      '--batch-size',
      '-1',
      '--imgsz',
      '64',
      '--epochs',
      '1',
      '--backend',
      'wasm',
      '--workers',
      '0',
      '--project',
      path.join(dir, 'runs'),
      '--name',
      'ab',
    ];
    const r = await runLaunch(['--nproc', '2', '--standalone'], args, {
      cwd: dir,
      env: { YOLO_LAUNCH_DATASETS: path.join(dir, 'datasets'), ...CAP },
      timeoutMs: 400_000,
    });
    assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000));
    const saveDir = path.join(dir, 'runs', 'ab');
    const records = readLog(saveDir).filter((x) => x.msg === 'autobatch');
    assert.deepEqual(records.map((x) => x.rank).sort(), [0, 1], 'each rank measured its own device');
    const [a, b] = [0, 1].map((rank) => records.find((x) => x.rank === rank)!);
    assert.equal(a!.total, b!.total);
    assert.equal(a!.per_rank, b!.per_rank);
    assert.equal(a!.total, 2 * (a!.per_rank as number));
    assert.equal(a!.per_rank, Math.min(...(a!.measured_by_rank as number[])));
    assert.ok((a!.per_rank as number) >= 1 && (a!.per_rank as number) < 1024);
    assert.match(r.stdout, new RegExp(`AutoBatch: Using batch-size ${a!.measured as number} for wasm heap`));
    assert.match(
      r.stdout,
      new RegExp(
        `AutoBatch: 2 ranks measured \\d+, \\d+; every rank uses the smallest, ${a!.per_rank as number}: --batch-size ${a!.total as number}`,
      ),
    );
    const opt = yaml.load(fs.readFileSync(path.join(saveDir, 'opt.yaml'), 'utf8')) as { batch_size: number };
    assert.equal(opt.batch_size, a!.total, 'opt.yaml holds the chosen total, so --resume keeps it');
    assert.deepEqual(
      readResults(path.join(saveDir, 'results.csv')).map((x) => x.epoch),
      [0],
    );

    const tb = scalarTags(saveDir);
    assert.equal(tb.files.length, 1, 'one event file, from rank 0');
    assert.deepEqual(
      tb.tags,
      RESULT_KEYS.map((k) => `0:${k}`),
    );
    for (const image of ['labels', 'train_batch0', 'results'])
      assert.ok(tb.images.includes(image), `${image} in ${tb.images}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('train --batch-size -1 alone, then --resume keeps the batch (opt.yaml); --noplots logs scalars only; --notensorboard writes no event file', async () => {
  const dir = tmpDir('autobatch1');
  try {
    const env = { YOLO_LAUNCH_DATASETS: path.join(dir, 'datasets'), ...CAP };
    const base = [
      '--cfg',
      TINY_YAML,
      '--imgsz',
      '64',
      '--backend',
      'wasm',
      '--workers',
      '0',
      '--noval',
      '--project',
      path.join(dir, 'runs'),
    ];
    // Stopped after epoch 0 (the exact-resume tests' hook), then resumed.
    const cut = await runTrain([...base, '--epochs', '2', '--batch-size', '-1', '--noplots', '--name', 'one'], {
      cwd: dir,
      env: { ...env, YOLO_TRAIN_EXIT_AFTER_EPOCH: '0' },
      timeoutMs: 300_000,
    });
    assert.equal(cut.code, 75, cut.stderr.slice(-3000));
    const used = /AutoBatch: Using batch-size (\d+) for wasm heap/.exec(cut.stdout);
    assert.ok(used, cut.stdout.slice(-2000));
    const total = Number(used![1]);
    const saveDir = path.join(dir, 'runs', 'one');
    const opt = yaml.load(fs.readFileSync(path.join(saveDir, 'opt.yaml'), 'utf8')) as { batch_size: number };
    assert.equal(opt.batch_size, total);
    const resumed = await runTrain(['--resume', path.join(saveDir, 'weights', 'last.pt')], {
      cwd: dir,
      env,
      timeoutMs: 300_000,
    });
    assert.equal(resumed.code, 0, resumed.stderr.slice(-3000));
    assert.doesNotMatch(
      resumed.stdout,
      /AutoBatch:/,
      'the resumed run trains with the recorded batch, no new measurement',
    );
    assert.match(resumed.stdout, new RegExp(`batch_size=${total},`));
    assert.deepEqual(
      readResults(path.join(saveDir, 'results.csv')).map((x) => x.epoch),
      [0, 1],
    );
    const tb = scalarTags(saveDir);
    assert.equal(tb.files.length, 2, 'one event file per process; TensorBoard merges a folder');
    assert.deepEqual(tb.tags.sort(), [0, 1].flatMap((epoch) => RESULT_KEYS.map((k) => `${epoch}:${k}`)).sort());
    assert.deepEqual(tb.images, [], '--noplots: no plot files, so no images');

    const off = await runTrain([...base, '--epochs', '1', '--batch-size', '8', '--notensorboard', '--name', 'off'], {
      cwd: dir,
      env,
      timeoutMs: 300_000,
    });
    assert.equal(off.code, 0, off.stderr.slice(-3000));
    assert.deepEqual(
      fs.readdirSync(path.join(dir, 'runs', 'off')).filter((f) => f.startsWith('events.')),
      [],
    );
    assert.doesNotMatch(off.stdout, /TensorBoard: Start/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
