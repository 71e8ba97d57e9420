// Bad input to `train` (alone and under yolo-launch): one clear error line, exit code 2,
// and nothing written (no run folder).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, TINY_YAML, runLaunch, runTrain, tmpDir } from '../helpers/run.js';

/** A YOLOv5 .pt of the shared fixtures (tests read the folder, never a fixed name). */
function firstFixtureWeights(): string {
  const dir = path.join(
    process.env.YOLO_FIXTURES_DIR ?? path.join(REPO_ROOT, '..', 'shared', 'fixtures', 'yolov5'),
    'weights',
  );
  const file = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.pt'))
    .sort()[0];
  assert.ok(file, `no .pt in ${dir}`);
  return path.join(dir, file);
}

function assertNothingWritten(dir: string): void {
  const project = path.join(dir, 'runs');
  assert.ok(
    !fs.existsSync(project),
    `nothing may be written, but ${project} exists: ${fs.existsSync(project) ? fs.readdirSync(project).join(', ') : ''}`,
  );
}

const cases: { name: string; args: (dir: string) => string[]; env?: NodeJS.ProcessEnv; message: RegExp }[] = [
  {
    name: 'batch size not divisible by the world size',
    args: () => ['--cfg', TINY_YAML, '--batch-size', '15'],
    env: { RANK: '0', LOCAL_RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '1' },
    message: /--batch-size 15 must be a multiple of WORLD_SIZE=2/,
  },
  {
    name: 'missing --data file',
    args: () => ['--cfg', TINY_YAML, '--data', 'no/such/data.yaml'],
    message: /--data 'no\/such\/data.yaml' not found/,
  },
  {
    name: '--cfg with a bad row',
    args: (dir) => {
      const bad = path.join(dir, 'bad.yaml');
      fs.writeFileSync(
        bad,
        fs.readFileSync(TINY_YAML, 'utf8').replace('[-1, 1, SPPF, [1024, 5]]', '[-1, 1, NoSuchModule, [1024, 5]]'),
      );
      return ['--cfg', bad];
    },
    message: /--cfg .*bad\.yaml.*(NoSuchModule|row|layer)/i,
  },
  {
    name: 'a dataset YAML whose images are missing (no download:)',
    args: (dir) => {
      const y = path.join(dir, 'gone.yaml');
      fs.writeFileSync(y, `path: ${path.join(dir, 'gone')}\ntrain: images/train\nval: images/val\nnames: [a, b]\n`);
      return ['--cfg', TINY_YAML, '--data', y];
    },
    message: /Dataset not found, missing paths: .*gone\/images\/train/,
  },
  { name: '--resume with nothing to resume', args: () => ['--resume'], message: /--resume: nothing to resume/ },
  {
    name: '--resume with a missing file',
    args: () => ['--resume', 'runs/train/exp9/weights/last.pt'],
    message: /--resume 'runs\/train\/exp9\/weights\/last.pt' not found/,
  },
  {
    name: '--weights that is not a checkpoint',
    args: (dir) => {
      fs.writeFileSync(path.join(dir, 'notes.pt'), 'these are not weights\n');
      return ['--cfg', TINY_YAML, '--weights', 'notes.pt'];
    },
    message: /--weights .*notes\.pt: is not a PyTorch checkpoint/,
  },
  {
    name: '--weights truncated (a cut .pt)',
    args: (dir) => {
      const whole = fs.readFileSync(firstFixtureWeights());
      fs.writeFileSync(path.join(dir, 'cut.pt'), whole.subarray(0, Math.floor(whole.length / 2)));
      return ['--weights', 'cut.pt'];
    },
    message: /--weights .*cut\.pt is corrupt or truncated: .*truncated/,
  },
  {
    name: 'a YOLOv5 release name offline',
    args: () => ['--weights', 'yolov5s.pt'],
    env: { YOLO_LAUNCH_WEIGHTS_URL: 'http://127.0.0.1:1/' },
    message:
      /--weights yolov5s\.pt: not found locally, and the download from http:\/\/127\.0\.0\.1:1\/yolov5s\.pt failed .*put it at .*yolov5s\.pt/,
  },
  {
    name: 'an unknown option',
    args: () => ['--cfg', TINY_YAML, '--epoch-count', '3'],
    message: /unrecognized argument: --epoch-count/,
  },
  {
    name: 'W&B options are refused',
    args: () => ['--cfg', TINY_YAML, '--entity', 'me'],
    message: /W&B options .* not supported/,
  },
];

// Each case is one short single-threaded process: two at a time use both cores of a 2-core CI machine.
describe('bad input', { concurrency: 2 }, () => {
  for (const c of cases) {
    test(`train refuses ${c.name}: exit 2, one line, nothing written`, async () => {
      const dir = tmpDir('badin');
      try {
        const r = await runTrain([...c.args(dir), '--project', path.join(dir, 'runs'), '--backend', 'cpu'], {
          cwd: dir,
          env: c.env ?? {},
          timeoutMs: 60_000,
        });
        assert.equal(r.code, 2, `exit code (stderr: ${r.stderr})`);
        assert.match(r.stderr, c.message);
        assert.equal(
          r.stderr
            .trim()
            .split('\n')
            .filter((l) => l.startsWith('train: error:')).length,
          1,
          r.stderr,
        );
        assertNothingWritten(dir);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

test('yolo-launch --nproc 2 train with an indivisible batch fails cleanly and writes nothing', async () => {
  const dir = tmpDir('badin-launch');
  try {
    const r = await runLaunch(
      ['--nproc', '2', '--standalone'],
      ['--cfg', TINY_YAML, '--batch-size', '15', '--project', path.join(dir, 'runs'), '--backend', 'cpu'],
      { cwd: dir, timeoutMs: 60_000 },
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /--batch-size 15 must be a multiple of WORLD_SIZE=2/);
    assertNothingWritten(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
