// `yolo-launch val` and `yolo-launch detect` on a checkpoint trained here: N ranks give one
// rank's numbers (world 1, 2, 3; the fixed-size set with 3 classes, and coco128 with its
// varied rect batches when ../shared has it), val equals the trainer's final validation of the
// same best.pt, detect splits images across ranks, and bad input exits 2 with nothing in runs/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LAUNCHER_CLI, REPO_ROOT, readLog, runNode, runTrain, tmpDir, writeFastHyp } from '../helpers/run.js';
import { makeFixedSizeDataset } from '../helpers/images.js';
import { tinyTrainFlags } from '../helpers/tiny-train.js';

const COCO128 = path.join(REPO_ROOT, '..', 'shared', 'datasets', 'coco128.yaml');
let dir = '';
let yaml = '';
let best = '';
let trainDir = '';

const launch = (nproc: number, command: string, args: string[]) =>
  runNode([LAUNCHER_CLI, '--nproc', String(nproc), '--standalone', command, ...args], { cwd: dir, timeoutMs: 240_000 });

interface Metrics {
  mp: number;
  mr: number;
  map50: number;
  map: number;
  seen: number;
  per_class: unknown[];
  speed?: unknown;
}

/** `val` of best.pt at the training size, batch 16 (the trainer's final validation batch), --verbose --save-json. */
function valArgs(data: string[], name: string, extra: string[]): string[] {
  return [
    ...['--weights', best, ...data, '--imgsz', '64', '--batch-size', '16', '--backend', 'wasm', '--workers', '0'],
    ...['--verbose', '--save-json', ...extra, '--name', name],
  ];
}

function metrics(saveDir: string): Metrics {
  const m = JSON.parse(fs.readFileSync(path.join(saveDir, 'metrics.json'), 'utf8')) as Metrics;
  delete m.speed;
  return m;
}

before(async () => {
  dir = tmpDir('valdetect');
  yaml = makeFixedSizeDataset(path.join(dir, 'data'), 24);
  // the quality test's fast recipe (Adam), long enough for true positives (non-trivial numbers)
  const files = { data: yaml, hyp: writeFastHyp(dir), project: path.join(dir, 'runs', 'train') };
  const r = await runTrain(
    [...tinyTrainFlags(files, { epochs: 12 }), '--optimizer', 'Adam', '--noval', '--name', 'exp'],
    {
      cwd: dir,
      timeoutMs: 240_000,
    },
  );
  assert.equal(r.code, 0, r.stdout.slice(-2000) + r.stderr.slice(-2000));
  trainDir = path.join(dir, 'runs', 'train', 'exp');
  best = path.join(trainDir, 'weights', 'best.pt');
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('val on 2 ranks: the outputs, and the same numbers as the final validation in training', async () => {
  const r = await launch(2, 'val', valArgs(['--data', yaml], 'fixed', ['--save-txt', '--save-conf']));
  assert.equal(r.code, 0, r.stdout.slice(-2000) + r.stderr.slice(-2000));
  assert.match(
    r.stdout,
    /Speed: [\d.]+ms pre-process, [\d.]+ms inference, [\d.]+ms NMS per image at shape \(16, 3, 64, 64\)/,
  );
  assert.match(r.stdout, /^\[rank0\]:\s+(red|green|blue)\s+\d+\s+\d+/m, 'the --verbose per-class table');
  const saveDir = path.join(dir, 'runs', 'val', 'fixed');
  const result = metrics(saveDir);
  assert.equal(result.seen, 24);
  assert.ok(result.map50 > 0, `non-trivial numbers to compare (mAP50 ${result.map50})`);
  assert.equal(fs.readdirSync(path.join(saveDir, 'labels')).length, 24, 'one labels/*.txt per image');
  const json = JSON.parse(fs.readFileSync(path.join(saveDir, 'best_predictions.json'), 'utf8')) as Array<{
    image_id: unknown;
    category_id: number;
    bbox: number[];
    score: number;
  }>;
  assert.ok(json.length > 0 && json[0]!.bbox.length === 4 && typeof json[0]!.score === 'number');
  for (const f of [
    'PR_curve.png',
    'P_curve.png',
    'R_curve.png',
    'F1_curve.png',
    'confusion_matrix.png',
    'val_batch0_labels.jpg',
    'val_batch1_pred.jpg',
  ])
    assert.ok(fs.existsSync(path.join(saveDir, f)), f);
  // the trainer validated best.pt with twice its batch (16) at the same size: the same numbers
  const final = readLog(trainDir).find((x) => x.msg === 'final')?.final as {
    p: number;
    r: number;
    map50: number;
    map: number;
  };
  for (const [mine, theirs] of [
    [result.mp, final.p],
    [result.mr, final.r],
    [result.map50, final.map50],
    [result.map, final.map],
  ] as const)
    assert.ok(Math.abs(mine - theirs) <= 1e-9, `val ${mine} vs training's final validation ${theirs}`);
});

// coco128 when ../shared has it (varied rect batch shapes; --single-cls since the model has 3
// classes), else the fixed-size 3-class set
const SHARD_DATA = fs.existsSync(COCO128) ? ['--data', COCO128, '--single-cls'] : null;

test(`val on 1, 2 and 3 ranks: the same table and raw numbers (${SHARD_DATA ? 'coco128' : 'fixed-size set'})`, async () => {
  const data = SHARD_DATA ?? ['--data', yaml];
  const tables: string[] = [];
  const results: Metrics[] = [];
  const predictions: string[] = [];
  for (const n of [1, 2, 3]) {
    const r = await launch(n, 'val', valArgs(data, `w${n}`, ['--noplots']));
    assert.equal(r.code, 0, r.stdout.slice(-2000) + r.stderr.slice(-2000));
    tables.push(
      r.stdout
        .split('\n')
        .filter((l) => /^\[rank0\]:\s+\S+\s+\d+\s+\d+\s+[\d.e-]+/.test(l))
        .join('\n'),
    );
    results.push(metrics(path.join(dir, 'runs', 'val', `w${n}`)));
    predictions.push(fs.readFileSync(path.join(dir, 'runs', 'val', `w${n}`, 'best_predictions.json'), 'utf8'));
  }
  assert.ok(tables[0]!.includes('all'), tables[0]);
  assert.equal(tables[1], tables[0]);
  assert.equal(tables[2], tables[0]);
  assert.deepEqual(results[1], results[0], 'raw numbers of 2 ranks equal 1 rank (exactly, so within 1e-9)');
  assert.deepEqual(results[2], results[0], 'raw numbers of 3 ranks equal 1 rank');
  assert.equal(predictions[2], predictions[0], 'the COCO JSON is gathered in one-rank order');
});

test('detect on 2 ranks: every image once, the same labels as 1 rank, annotated images', async () => {
  const source = path.join(dir, 'data', 'images', 'train');
  const labels: Record<number, string[]> = {};
  for (const n of [1, 2]) {
    const r = await launch(n, 'detect', [
      '--weights',
      best,
      '--source',
      source,
      '--imgsz',
      '64',
      '--conf-thres',
      '0.01',
      '--save-txt',
      '--save-conf',
      '--save-crop',
      '--backend',
      'wasm',
      '--name',
      `d${n}`,
    ]);
    assert.equal(r.code, 0, r.stdout.slice(-2000) + r.stderr.slice(-2000));
    const lines = r.stdout.split('\n').filter((l) => / image \d+\/24 /.test(` ${l.replace(/^\[rank\d\]: /, '')}`));
    assert.equal(lines.length, 24, r.stdout);
    assert.match(lines[0]!, /image \d+\/24 \/.*\.png: 64x64 (\d+ \w+, )+|\(no detections\), [\d.]+ms/);
    const saveDir = path.join(dir, 'runs', 'detect', `d${n}`);
    assert.equal(fs.readdirSync(saveDir).filter((f) => f.endsWith('.png')).length, 24, 'annotated images');
    const files = fs.readdirSync(path.join(saveDir, 'labels')).sort();
    labels[n] = files.map((f) => fs.readFileSync(path.join(saveDir, 'labels', f), 'utf8'));
    for (const text of labels[n]!)
      for (const line of text.trim().split('\n')) assert.match(line, /^\d+( [\d.e-]+){5}$/, 'cls x y w h conf');
  }
  assert.ok(labels[1]!.length > 0, 'some detections at conf 0.01');
  assert.deepEqual(labels[2], labels[1]);
});

test('bad input: exit 2 with one clear line, nothing under runs/', async () => {
  const fresh = tmpDir('valbad');
  try {
    const empty = path.join(fresh, 'empty');
    fs.mkdirSync(empty);
    const unlabeled = path.join(fresh, 'unlabeled');
    fs.mkdirSync(path.join(unlabeled, 'images'), { recursive: true });
    fs.copyFileSync(
      path.join(dir, 'data', 'images', 'train', fs.readdirSync(path.join(dir, 'data', 'images', 'train'))[0]!),
      path.join(unlabeled, 'images', 'a.png'),
    );
    fs.writeFileSync(
      path.join(fresh, 'unlabeled.yaml'),
      `path: ${unlabeled}\ntrain: images\nval: images\nnames:\n  0: red\n  1: green\n  2: blue\n`,
    );
    fs.writeFileSync(path.join(fresh, 'clip.mp4'), '');
    const cases: Array<[string, string[], RegExp]> = [
      ['val', ['--weights', path.join(fresh, 'missing.pt'), '--data', yaml], /--weights .*missing\.pt does not exist/],
      [
        'val',
        ['--weights', best, '--data', path.join(fresh, 'unlabeled.yaml'), '--backend', 'wasm'],
        /val needs labels/,
      ],
      ['val', ['--weights', best, '--data', yaml, '--augment'], /--augment/],
      ['detect', ['--weights', best, '--source', empty], /no images found/],
      ['detect', ['--weights', best, '--source', path.join(fresh, 'clip.mp4')], /is a video/],
      ['detect', ['--weights', path.join(fresh, 'missing.pt'), '--source', empty], /does not exist/],
    ];
    for (const [command, args, message] of cases) {
      const r = await runNode([LAUNCHER_CLI, '--standalone', '--nproc', '1', command, ...args], {
        cwd: fresh,
        timeoutMs: 120_000,
      });
      assert.equal(r.code, 2, `${command} ${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout + r.stderr, message);
      assert.ok(!fs.existsSync(path.join(fresh, 'runs')), `${command} ${args.join(' ')} left runs/ behind`);
    }
  } finally {
    fs.rmSync(fresh, { recursive: true, force: true });
  }
});
