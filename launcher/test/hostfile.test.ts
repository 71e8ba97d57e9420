// DeepSpeed hostfiles and --include/--exclude, with every error case, through the CLI as well.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { parseHostfile, parseHostSelector, selectHosts } from '../src/index.js';
import { runLauncher } from './helpers.js';

const HOSTS = `# training cluster
worker-0 slots=4
worker-1   slots=2   # the small one

worker-2 slots=4
`;

test('hostfile: hosts, slots, comments and blank lines; line numbers kept', () => {
  assert.deepEqual(parseHostfile(HOSTS), [
    { host: 'worker-0', slots: 4, line: 2 },
    { host: 'worker-1', slots: 2, line: 3 },
    { host: 'worker-2', slots: 4, line: 5 },
  ]);
});

test('hostfile errors name the line', () => {
  assert.throws(
    () => parseHostfile('a slots=2\nb slots 2\n', 'hosts'),
    /^UsageError: hosts:2: malformed line "b slots 2"; expected "hostname slots=N"$/,
  );
  assert.throws(() => parseHostfile('a slots=2\nb\n', 'hosts'), /hosts:2: malformed line "b"/);
  assert.throws(() => parseHostfile('a slots=0\n', 'hosts'), /hosts:1: slots must be a positive integer, got "0"/);
  assert.throws(() => parseHostfile('a slots=x\n', 'hosts'), /hosts:1: slots must be a positive integer, got "x"/);
  assert.throws(
    () => parseHostfile('a slots=1\n# c\na slots=2\n', 'hosts'),
    /hosts:3: host "a" is listed twice \(first on line 1\)/,
  );
  assert.throws(() => parseHostfile('# nothing\n\n', 'hosts'), /hosts: no hosts listed/);
});

test('--include and --exclude (DeepSpeed syntax)', () => {
  const entries = parseHostfile(HOSTS);
  assert.deepEqual(
    parseHostSelector('worker-0:2,0@worker-1', '--include'),
    new Map([
      ['worker-0', [0, 2]],
      ['worker-1', null],
    ]),
  );
  assert.deepEqual(selectHosts(entries), [
    { host: 'worker-0', slots: [0, 1, 2, 3] },
    { host: 'worker-1', slots: [0, 1] },
    { host: 'worker-2', slots: [0, 1, 2, 3] },
  ]);
  assert.deepEqual(
    selectHosts(entries, 'worker-2@worker-0:1,3'),
    [
      { host: 'worker-0', slots: [1, 3] },
      { host: 'worker-2', slots: [0, 1, 2, 3] },
    ],
    'the hostfile order is kept',
  );
  assert.deepEqual(selectHosts(entries, undefined, 'worker-1@worker-2:0'), [
    { host: 'worker-0', slots: [0, 1, 2, 3] },
    { host: 'worker-2', slots: [1, 2, 3] },
  ]);
  assert.deepEqual(
    selectHosts(entries, undefined, 'worker-1:0,1'),
    [
      { host: 'worker-0', slots: [0, 1, 2, 3] },
      { host: 'worker-2', slots: [0, 1, 2, 3] },
    ],
    'a host without slots left is dropped',
  );
});

test('--include / --exclude errors', () => {
  const entries = parseHostfile(HOSTS);
  assert.throws(
    () => selectHosts(entries, 'worker-9'),
    /--include: unknown host "worker-9" \(the hostfile lists worker-0, worker-1, worker-2\)/,
  );
  assert.throws(() => selectHosts(entries, undefined, 'nope:1'), /--exclude: unknown host "nope"/);
  assert.throws(() => selectHosts(entries, 'worker-1:2'), /--include: host "worker-1" has slots 0..1, not 2/);
  assert.throws(() => selectHosts(entries, 'worker-1', 'worker-0'), /--include and --exclude cannot be used together/);
  assert.throws(() => selectHosts(entries, 'worker-1:a'), /slots of "worker-1" must be comma-separated integers/);
  assert.throws(() => selectHosts(entries, 'worker-1@@worker-2'), /empty host entry/);
  assert.throws(() => selectHosts(entries, 'worker-1@worker-1:0'), /host "worker-1" given twice/);
  assert.throws(
    () => selectHosts(entries, undefined, 'worker-0@worker-1@worker-2'),
    /--exclude leaves no host to run on/,
  );
});

test('hostfile problems through the CLI: exit 2, one line', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yl-hosts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bad = path.join(dir, 'bad');
  writeFileSync(bad, 'a slots=2\n\nb slots=two\n');
  const good = path.join(dir, 'good');
  writeFileSync(good, 'a slots=2\nb slots=1\n');
  const cases: [string[], RegExp][] = [
    [['--hostfile', bad, '--', 'true'], new RegExp(`${bad}:3: slots must be a positive integer, got "two"`)],
    [['--hostfile', good, '--include', 'c', '--', 'true'], /--include: unknown host "c"/],
    [['--hostfile', good, '--nproc', '2', '--', 'true'], /--nproc 2 is larger than the 1 slot\(s\) of host b/],
    [['--hostfile', good, '--nnodes', '3', '--', 'true'], /--nnodes 3 does not match the 2 host\(s\)/],
    [['--hostfile', good, '--node-rank', '1', '--', 'true'], /--node-rank is decided by the hostfile/],
  ];
  for (const [args, message] of cases) {
    const run = await runLauncher(args);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, message);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  }
});
