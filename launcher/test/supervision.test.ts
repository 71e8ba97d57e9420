// Supervision: failures stop everyone, signals are forwarded, a killed launcher leaves no
// worker behind, restarts, per-rank logs. Orphans are checked by listing processes (/proc).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import test from 'node:test';
import { launch } from '../src/index.js';
import {
  cleanEnv,
  envLines,
  markWorkers,
  processesWith,
  runLauncher,
  startLauncher,
  waitFor,
  worker,
} from './helpers.js';

const node = process.execPath;

test('a worker exiting with 3: the others are stopped, the launcher names the rank and the code', async (t) => {
  const marker = markWorkers(t);
  const run = startLauncher([
    '--standalone',
    '--nproc',
    '3',
    '--term-timeout',
    '3',
    '--',
    node,
    worker('behave'),
    'fail-rank=1',
    'fail-code=3',
    'hang',
    `marker=${marker}`,
  ]);
  await waitFor(
    'the failure report',
    () => /rank 1 \(local rank 1, pid \d+\) exited with code 3/.test(run.stderr()),
    20_000,
  );
  await waitFor('every worker gone', () => processesWith(marker).length === 0, 5000);
  const result = await run.done;
  assert.notEqual(result.code, 0);
  assert.match(
    result.stderr,
    /last \d+ line\(s\) of rank 1:\n( {4}.*\n)* {4}rank 1 is about to fail\n {4}last words of rank 1\n/,
  );
  assert.match(result.stdout, /\[rank0\]: ready rank=0/);
  assert.match(result.stdout, /\[rank2\]: ready rank=2/);
});

test('workers that ignore SIGTERM are killed after --term-timeout', async (t) => {
  const marker = markWorkers(t);
  const run = startLauncher([
    '--standalone',
    '--nproc',
    '2',
    '--term-timeout',
    '1',
    '--',
    node,
    worker('behave'),
    'fail-rank=0',
    'fail-code=4',
    'hang',
    'ignore-term',
    `marker=${marker}`,
  ]);
  const result = await run.done;
  assert.equal(result.code, 1);
  assert.match(result.stdout, /\[rank1\]: rank 1 ignores SIGTERM/);
  assert.match(result.stderr, /rank 0 .* exited with code 4/);
  await waitFor('every worker gone', () => processesWith(marker).length === 0, 5000);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} to the launcher is forwarded and stops every worker`, async (t) => {
    const marker = markWorkers(t);
    const run = startLauncher([
      '--standalone',
      '--nproc',
      '2',
      '--term-timeout',
      '3',
      '--',
      node,
      worker('behave'),
      'hang',
      `marker=${marker}`,
    ]);
    await waitFor('both workers ready', () => (run.stdout().match(/ready rank=/g) ?? []).length === 2, 20_000);
    assert.equal(processesWith(marker).length, 5, 'the launcher, two keepers and two workers run');
    run.child.kill(signal);
    const result = await run.done;
    assert.equal(result.code, signal === 'SIGINT' ? 130 : 143);
    assert.match(result.stderr, new RegExp(`received ${signal}`));
    await waitFor('every worker gone', () => processesWith(marker).length === 0, 5000);
  });
}

test('SIGKILL to the launcher: the workers end by themselves', async (t) => {
  const marker = markWorkers(t);
  const run = startLauncher([
    '--standalone',
    '--nproc',
    '2',
    '--monitor-interval',
    '0.2',
    '--term-timeout',
    '2',
    '--',
    node,
    worker('behave'),
    'hang',
    `marker=${marker}`,
  ]);
  await waitFor('both workers ready', () => (run.stdout().match(/ready rank=/g) ?? []).length === 2, 20_000);
  assert.equal(processesWith(marker).length, 5, 'the launcher, two keepers and two workers run');
  run.child.kill('SIGKILL');
  await run.done;
  await waitFor('the orphaned workers to end', () => processesWith(marker).length === 0, 8000);
});

test('--max-restarts 1: a group failing once is restarted with RESTART_COUNT=1 and succeeds', async (t) => {
  const marker = markWorkers(t);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yl-restart-logs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const result = await runLauncher([
    '--standalone',
    '--nproc',
    '2',
    '--max-restarts',
    '1',
    '--term-timeout',
    '2',
    '--log-dir',
    dir,
    '--',
    node,
    worker('behave'),
    'fail-rank=1',
    'fail-code=7',
    'fail-once',
    `marker=${marker}`,
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /rank 1 .* exited with code 7/);
  assert.match(result.stderr, /restarting every worker \(restart 1/);
  assert.match(result.stdout, /\[rank0\]: ready rank=0 pid=\d+ restart=0/);
  assert.match(result.stdout, /\[rank0\]: ready rank=0 pid=\d+ restart=1/);
  assert.match(result.stdout, /\[rank1\]: ready rank=1 pid=\d+ restart=1/);
  assert.match(result.stdout, /\[rank1\]: rank 1 done/);
  assert.equal(processesWith(marker).length, 0);
  assert.match(
    readFileSync(path.join(dir, 'rank1.log'), 'utf8'),
    /^ready rank=1 pid=\d+ restart=0\nrank 1 is about to fail\nlast words of rank 1\n=== yolo-launch: restart 1 ===\nready rank=1 pid=\d+ restart=1\nrank 1 done\n$/,
    'one file per rank holds every attempt',
  );
});

test('--max-restarts exhausted: the launcher gives up with a failure', async (t) => {
  const marker = markWorkers(t);
  const result = await runLauncher([
    '--standalone',
    '--nproc',
    '2',
    '--max-restarts',
    '1',
    '--term-timeout',
    '2',
    '--',
    node,
    worker('behave'),
    'fail-rank=0',
    'fail-code=9',
    `marker=${marker}`,
  ]);
  assert.equal(result.code, 1);
  assert.equal((result.stderr.match(/rank 0 .* exited with code 9/g) ?? []).length, 2);
  assert.equal(processesWith(marker).length, 0);
});

test("a worker's usage error (exit 2) is the launcher's exit 2; any other failure is 1", async (t) => {
  const marker = markWorkers(t);
  const failing = (code: number) =>
    runLauncher([
      ...['--standalone', '--nproc', '2', '--term-timeout', '2', '--'],
      ...[node, worker('behave'), 'fail-rank=1', `fail-code=${code}`, `marker=${marker}`],
    ]);
  const usage = await failing(2);
  assert.equal(usage.code, 2, usage.stderr);
  assert.match(usage.stderr, /rank 1 .* exited with code 2/);
  const crash = await failing(3);
  assert.equal(crash.code, 1, crash.stderr);
});

test('--log-dir keeps one complete file per rank; --tee and --local-ranks-filter choose the console', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yl-logs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const quiet = await runLauncher([
    '--standalone',
    '--nproc',
    '2',
    '--log-dir',
    dir,
    '--tee',
    '0',
    '--',
    node,
    worker('behave'),
    'fail-rank=1',
    'fail-code=5',
  ]);
  assert.equal(quiet.code, 1);
  assert.equal(quiet.stdout, '', '--tee 0 keeps worker output off the console');
  assert.match(quiet.stderr, /last words of rank 1/, 'the failure report still shows the last lines');
  const log1 = readFileSync(path.join(dir, 'rank1.log'), 'utf8');
  assert.match(log1, /^ready rank=1 pid=\d+ restart=0\nrank 1 is about to fail\nlast words of rank 1\n$/);
  assert.match(readFileSync(path.join(dir, 'rank0.log'), 'utf8'), /^ready rank=0/);

  const filtered = await runLauncher([
    '--standalone',
    '--nproc',
    '2',
    '--local-ranks-filter',
    '1',
    '--',
    node,
    worker('print-env'),
  ]);
  assert.equal(filtered.code, 0);
  assert.deepEqual([...envLines(filtered.stdout).keys()], [1]);
});

test('a command that cannot start is reported as such', async () => {
  const result = await runLauncher(['--standalone', '--nproc', '1', '--', '/nonexistent/yl-command']);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /rank 0 .* could not be started: spawn \/nonexistent\/yl-command ENOENT/);
});

test('launch() spawns workers exactly as the CLI does', async () => {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer, _e, cb) {
        append(chunk.toString());
        cb();
      },
    });
  const result = await launch({
    command: [node, worker('print-env')],
    nproc: 2,
    standalone: true,
    runId: 'api-run',
    env: cleanEnv(),
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
  });
  assert.equal(result.exitCode, 0, err);
  const envs = envLines(out);
  assert.deepEqual([...envs.keys()].sort(), [0, 1]);
  assert.equal(envs.get(1)!.YOLO_LAUNCH_RUN_ID, 'api-run');
  assert.equal(envs.get(1)!.WORLD_SIZE, '2');
});
