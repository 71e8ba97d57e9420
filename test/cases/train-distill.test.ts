// --distill in the trainer: `yolo-launch --nproc 2 train --distill --distill-feat --sync-bn`
// takes the same optimizer steps as one process on the same global batch (as the DDP
// equivalence test requires, weights within 1e-5), the teacher's cost is logged per epoch, and a
// teacher of other classes is refused (exit 2) before anything is written. The teacher is the
// tiny model twice as wide, trained one epoch by the trainer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint } from '@yolo-launch/train';
import { TINY_YAML, runLaunch, runTrain, tmpDir } from '../helpers/run.js';
import { makeFixedSizeDataset, writeNoAugHyp } from '../helpers/images.js';

/**
 * The teacher: the tiny model twice as wide (so --distill-feat needs its adapters), trained
 * one epoch on `dataYaml` by the trainer itself; returns its best.pt.
 */
async function trainTeacher(dir: string, dataYaml: string): Promise<string> {
  const cfg = path.join(dir, 'teacher.yaml');
  fs.writeFileSync(cfg, fs.readFileSync(TINY_YAML, 'utf8').replace(/width_multiple: .*/, 'width_multiple: 0.25'));
  const args = ['--cfg', cfg, '--data', dataYaml, '--epochs', '1', '--batch-size', '8', '--imgsz', '64'];
  const r = await runTrain(
    [
      ...args,
      '--backend',
      'wasm',
      '--workers',
      '0',
      '--noplots',
      '--project',
      path.join(dir, 'runs'),
      '--name',
      'teacher',
    ],
    { cwd: dir, timeoutMs: 180_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  return path.join(dir, 'runs', 'teacher', 'weights', 'best.pt');
}

function maxWeightDiff(fileA: string, fileB: string): number {
  const a = loadCheckpoint(fileA);
  const b = new Map(loadCheckpoint(fileB).model.map((t) => [t.name, t]));
  let maxDiff = 0;
  for (const t of a.model) {
    if (t.name.endsWith('num_batches_tracked') || t.name.endsWith('anchors')) continue;
    const u = b.get(t.name)!;
    for (let i = 0; i < t.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(t.data[i]! - u.data[i]!));
  }
  return maxDiff;
}

// One teacher for both cases, trained on the students' 16-image set.
let dir = '';
let yaml = '';
let teacher = '';

before(async () => {
  dir = tmpDir('distill');
  yaml = makeFixedSizeDataset(path.join(dir, 'data'), 16);
  teacher = await trainTeacher(dir, yaml);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('--distill --distill-feat: world 2 with --sync-bn equals world 1 (max |dw| <= 1e-5); teacher cost logged', async (t) => {
  const common = [
    ...['--cfg', TINY_YAML, '--data', yaml, '--hyp', writeNoAugHyp(dir), '--epochs', '1', '--batch-size', '8'],
    ...['--imgsz', '64', '--sync-bn', '--noautoanchor', '--save-period', '1', '--backend', 'wasm'],
    ...['--workers', '0', '--noplots', '--distill', '--teacher-model-path', teacher, '--distill-feat'],
  ];
  const one = await runTrain([...common, '--project', path.join(dir, 'runs'), '--name', 'w1'], {
    cwd: dir,
    timeoutMs: 180_000,
  });
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /distill: teacher .*best\.pt .*frozen, eval mode.*1x1 adapters/);
  assert.match(
    one.stdout,
    /distill: weight 1\.000, box \S+ obj \S+ cls \S+ feat \S+; teacher \S+ ms\/step \(\S+% of the step/,
  );
  const two = await runLaunch(
    ['--nproc', '2', '--standalone'],
    [...common, '--project', path.join(dir, 'runs'), '--name', 'w2'],
    { cwd: dir, timeoutMs: 180_000 },
  );
  assert.equal(two.code, 0, two.stdout.slice(-3000) + two.stderr.slice(-3000));
  const w1 = path.join(dir, 'runs', 'w1', 'weights', 'epoch0.pt');
  const w2 = path.join(dir, 'runs', 'w2', 'weights', 'epoch0.pt');
  assert.equal(loadCheckpoint(w1).meta.optimizer!.step, 2);
  const maxDiff = maxWeightDiff(w1, w2);
  t.diagnostic(`max |w1 - w2| = ${maxDiff}`);
  assert.ok(maxDiff <= 1e-5, `max |w1 - w2| = ${maxDiff}`);
});

test('--distill with a teacher of other classes exits 2 before anything is written', async () => {
  const fourClasses = path.join(dir, 'four.yaml'); // the teacher predicts the set's 3 classes
  fs.writeFileSync(fourClasses, fs.readFileSync(yaml, 'utf8').replace('  2: blue\n', '  2: blue\n  3: white\n'));
  const project = path.join(dir, 'distilled');
  const r = await runTrain(
    ['--cfg', TINY_YAML, '--data', fourClasses, '--epochs', '1', '--imgsz', '64', '--backend', 'wasm'].concat([
      ...['--distill', '--teacher-model-path', teacher, '--project', project],
    ]),
    { cwd: dir, timeoutMs: 60_000 },
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /teacher predicts nc=3 classes, the dataset has nc=4/);
  assert.equal(fs.existsSync(project), false, 'nothing written');
});
