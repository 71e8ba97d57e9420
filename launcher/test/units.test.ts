// Small pure pieces: --nproc resolution, shell quoting for ssh, --ssh splitting, line splitting.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import test from 'node:test';
import { parseNproc, resolveNproc } from '../src/index.js';
import { LineSplitter } from '../src/output.js';
import { shellJoin, splitCommand } from '../src/shell.js';

test('--nproc: numbers, gpu, auto', () => {
  assert.equal(parseNproc('4'), 4);
  assert.equal(parseNproc('GPU'), 'gpu');
  assert.throws(() => parseNproc('0'), /positive integer/);
  assert.throws(() => parseNproc('2.5'), /positive integer/);
  const twoGpus = () => [0, 1];
  const none = () => [];
  assert.equal(resolveNproc(3, {}, twoGpus), 3);
  assert.equal(resolveNproc('gpu', {}, twoGpus), 2);
  assert.equal(resolveNproc('auto', {}, twoGpus), 2);
  assert.equal(resolveNproc('auto', {}, none), os.availableParallelism());
  assert.equal(resolveNproc('gpu', { CUDA_VISIBLE_DEVICES: '1,3,5' }, none), 3, 'the user list counts, not nvidia-smi');
  assert.equal(
    resolveNproc('auto', { CUDA_VISIBLE_DEVICES: '' }, twoGpus),
    os.availableParallelism(),
    'hidden GPUs mean CPU',
  );
  assert.throws(() => resolveNproc('gpu', {}, none), /--nproc gpu: no GPU found/);
});

test('remote command lines survive a POSIX shell unchanged', () => {
  const args = ['node', '/path with space/cli.js', "it's", '$HOME', '`id`', 'a"b', '', '--x=1', '*'];
  const out = execFileSync('sh', ['-c', `printf '%s\\n' ${shellJoin(args)}`], { encoding: 'utf8' });
  assert.deepEqual(out.split('\n').slice(0, -1), args);
});

test('--ssh is split like a shell would', () => {
  assert.deepEqual(splitCommand('ssh -p 2222 -o "ProxyJump bastion"'), [
    'ssh',
    '-p',
    '2222',
    '-o',
    'ProxyJump bastion',
  ]);
  assert.deepEqual(splitCommand("  /opt/my ssh/wrapper.sh  'a b' c\\ d "), ['/opt/my', 'ssh/wrapper.sh', 'a b', 'c d']);
});

test('output lines are split across chunks and UTF-8 boundaries', () => {
  const lines: string[] = [];
  const splitter = new LineSplitter((l) => lines.push(l));
  const text = Buffer.from('première ligne\r\nzweite Zeile ✅\nno newline at the end');
  for (let i = 0; i < text.length; i += 3) splitter.push(text.subarray(i, i + 3));
  splitter.end();
  assert.deepEqual(lines, ['première ligne', 'zweite Zeile ✅', 'no newline at the end']);
});
