/**
 * Every test file of this package again, on the `tensorflow` backend (tfjs-node): model
 * forward against the PyTorch fixtures, loss and its gradients, NMS, metrics, the training
 * path against cpu, with the tolerances the wasm run uses. Skipped, with the reason printed,
 * where tfjs-node is not set up (`npm run setup:tensorflow`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeTensorflowBackend } from '@yolo-launch/backend';

const here = path.dirname(fileURLToPath(import.meta.url));
const self = path.basename(fileURLToPath(import.meta.url));

// Inside the rerun itself this file has nothing to do.
if (process.env.YOLO_TEST_BACKEND === undefined) {
  const probe = probeTensorflowBackend();
  const skip = probe.available
    ? false
    : `tfjs-node is not usable (run \`npm run setup:tensorflow\`): ${probe.detail.split('\n')[0]}`;
  console.log(
    probe.available ? `tensorflow backend tests: RUN on ${probe.detail}` : `tensorflow backend tests: SKIPPED: ${skip}`,
  );

  test('every test file of @yolo-launch/yolo passes on the tensorflow backend', { skip }, () => {
    const files = readdirSync(here)
      .filter((f) => f.endsWith('.test.js') && f !== self)
      .sort()
      .map((f) => path.join(here, f));
    // NODE_TEST_CONTEXT would make the inner runner report to ours instead of running.
    const { NODE_TEST_CONTEXT: _outer, ...env } = process.env;
    const run = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', ...files], {
      env: { ...env, YOLO_TEST_BACKEND: 'tensorflow', TF_CPP_MIN_LOG_LEVEL: '2' },
      encoding: 'utf8',
      timeout: 15 * 60_000,
    });
    const output = `${run.stdout}${run.stderr}`;
    const summary = output
      .split('\n')
      .filter((l) => /^# (tests|pass|fail|skipped) /.test(l))
      .map((l) => l.slice(2))
      .join(', ');
    console.log(`tensorflow rerun of ${files.length} files: ${summary}`);
    assert.equal(run.status, 0, `the tensorflow rerun failed:\n${output.slice(-6000)}`);
    assert.match(summary, /fail 0/);
  });
}
