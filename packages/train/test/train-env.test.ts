// The environment switches (src/train-env.ts): every variable parses, a bad value is refused
// with its name, the README shows the code's table, and nothing else in src/ reads process.env.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyDeviceRequest, parseDeviceRequest } from '@yolo-launch/backend';
import { afterDeviceRequest, readTrainEnv, TRAIN_ENV, trainEnvMarkdown, type TrainEnv } from '../src/train-env.js';
import { UsageError } from '../src/options.js';

/** packages/train (this file runs as dist/test/train-env.test.js). */
const PACKAGE = fileURLToPath(new URL('../../', import.meta.url));

/** Per switch: a value and what it parses to, and a value it refuses (null: every text is valid). */
const SAMPLES: { [K in keyof TrainEnv]: { good: [string, TrainEnv[K]]; bad: string | null } } = {
  recompute: { good: ['1', '1'], bad: 'yes' },
  overlap: { good: ['0', false], bad: 'off' },
  logJson: { good: ['1', true], bad: '2' },
  debug: { good: ['true', true], bad: 'verbose' },
  weightsUrl: { good: ['http://127.0.0.1:8000/v7.0/', 'http://127.0.0.1:8000/v7.0/'], bad: 'not a url' },
  downloadTimeoutMs: { good: ['5000', 5000], bad: '10s' },
  autobatchFraction: { good: ['0.8', 0.8], bad: '60' },
  autobatchMemory: { good: ['2G', { text: '2G', bytes: 2 * 2 ** 30 }], bad: 'lots' },
  visibleGpu: { good: ['3,1', '3'], bad: null },
  exitAfterEpoch: { good: ['0', 0], bad: '-1' },
};

test('unset or empty, every switch has its default', () => {
  const defaults = readTrainEnv({});
  for (const [key, entry] of Object.entries(TRAIN_ENV)) {
    assert.deepEqual(defaults[key as keyof TrainEnv], entry.fallback, entry.name);
    assert.deepEqual(readTrainEnv({ [entry.name]: '' })[key as keyof TrainEnv], entry.fallback, `${entry.name}=''`);
  }
  assert.equal(defaults.overlap, true);
  assert.equal(defaults.autobatchFraction, 0.6);
  assert.equal(defaults.weightsUrl, 'https://github.com/ultralytics/yolov5/releases/download/v7.0/');
});

test('every switch parses its variable, and a bad value is a UsageError that names the variable', () => {
  assert.deepEqual(Object.keys(SAMPLES).sort(), Object.keys(TRAIN_ENV).sort(), 'a sample for every switch');
  for (const key of Object.keys(TRAIN_ENV) as (keyof TrainEnv)[]) {
    const { name } = TRAIN_ENV[key];
    const { good, bad } = SAMPLES[key];
    assert.deepEqual(readTrainEnv({ [name]: good[0] })[key], good[1], `${name}=${good[0]}`);
    if (bad === null) continue;
    assert.throws(
      () => readTrainEnv({ [name]: bad }),
      (err: unknown) => err instanceof UsageError && err.message.includes(`${name}=${JSON.stringify(bad)}`),
      `${name}=${bad} is refused`,
    );
  }
});

test("packages/train/README.md's Environment table is the code's", () => {
  const readme = fs.readFileSync(path.join(PACKAGE, 'README.md'), 'utf8');
  assert.ok(
    readme.includes(trainEnvMarkdown()),
    `README.md should contain, under "## Environment", exactly:\n${trainEnvMarkdown()}`,
  );
});

/** Files allowed to read process.env besides train-env.ts: dist.ts parses the launcher's worker contract. */
const WORKER_CONTRACT = new Set(['dist.ts']);

test('no file of src/ but train-env.ts reads process.env', () => {
  const readers: string[] = [];
  const visit = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.name.endsWith('.ts') && /\bprocess\.env\b/.test(fs.readFileSync(full, 'utf8')))
        readers.push(path.relative(path.join(PACKAGE, 'src'), full));
    }
  };
  visit(path.join(PACKAGE, 'src'));
  assert.deepEqual(readers.filter((file) => !WORKER_CONTRACT.has(file)).sort(), ['train-env.ts']);
});

test('the train bin refuses a bad switch before any work: exit 2, the variable named, nothing written', () => {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), 'train-env-'));
  try {
    const child = spawnSync(
      process.execPath,
      [path.join(PACKAGE, 'bin', 'train.js'), '--epochs', '1', '--project', project, '--name', 'exp'],
      { encoding: 'utf8', env: { ...process.env, YOLO_AUTOBATCH_FRACTION: '60' }, timeout: 60_000 },
    );
    assert.equal(child.status, 2, child.stderr);
    assert.match(child.stderr, /^train: error: environment variable YOLO_AUTOBATCH_FRACTION="60" must be a number/);
    assert.deepEqual(fs.readdirSync(project), []);
  } finally {
    fs.rmSync(project, { recursive: true, force: true });
  }
});

test("AutoBatch's GPU follows --device in a single process, and the user's own CUDA_VISIBLE_DEVICES wins", () => {
  // a single process (no launcher): --device 1 makes TensorFlow see GPU 1, so AutoBatch must measure GPU 1
  const single: Record<string, string | undefined> = {};
  const before = readTrainEnv(single);
  applyDeviceRequest(parseDeviceRequest('1'), single);
  assert.equal(before.visibleGpu, '0');
  assert.equal(afterDeviceRequest(before, single).visibleGpu, '1');
  // the user's list is left as given (as YOLOv5's select_device leaves it), and so is the GPU measured
  const userSet: Record<string, string | undefined> = { CUDA_VISIBLE_DEVICES: '2,3' };
  applyDeviceRequest(parseDeviceRequest('1'), userSet);
  assert.equal(afterDeviceRequest(readTrainEnv(userSet), userSet).visibleGpu, '2');
});
