// The command line: torchrun's flag names in kebab and snake case, YOLO_LAUNCH_<NAME>
// defaults, what runs (train / -- command / script.js), and one-line exit-2 usage errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import os from 'node:os';
import test from 'node:test';
import { parseCommandLine, resolveTrainCli, UsageError, findPortOwner } from '../src/index.js';
import { cleanEnv, envLines, PACKAGE_ROOT, runLauncher, worker } from './helpers.js';

async function parse(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const parsed = await parseCommandLine(argv, env);
  assert.ok(parsed);
  return parsed.options;
}

test('torchrun flag names, kebab and snake case; train arguments pass through untouched', async () => {
  const o = await parse([
    '--nproc_per_node',
    '3',
    '--master_port',
    '1234',
    '--node-rank',
    '0',
    '--nnodes=1',
    '--max_restarts',
    '2',
    '--run_id',
    'abc',
    'train',
    '--epochs',
    '3',
    '--batch-size',
    '064',
    '--name',
    'a b',
  ]);
  assert.equal(o.nproc, '3');
  assert.equal(o.masterPort, 1234);
  assert.equal(o.nodeRank, 0);
  assert.equal(o.nnodes, 1);
  assert.equal(o.maxRestarts, 2);
  assert.equal(o.runId, 'abc');
  assert.deepEqual(o.trainArgs, ['--epochs', '3', '--batch-size', '064', '--name', 'a b']);
  assert.equal(o.command, undefined);
  const k = await parse([
    '--nproc-per-node',
    'gpu',
    '--master-addr',
    'h0',
    '--log-dir',
    '/tmp/x',
    '--monitor_interval',
    '2',
    '-i',
    'a:0@b',
    '--',
    'python',
    'x.py',
    '--nproc',
    '5',
  ]);
  assert.equal(k.nproc, 'gpu');
  assert.equal(k.masterAddr, 'h0');
  assert.equal(k.logDir, '/tmp/x');
  assert.equal(k.monitorInterval, 2);
  assert.equal(k.include, 'a:0@b');
  assert.deepEqual(k.command, ['python', 'x.py', '--nproc', '5'], 'flags after -- belong to the command');
  const s = await parse(['--standalone', 'worker.js', '7']);
  assert.equal(s.standalone, true);
  assert.deepEqual(s.command, [process.execPath, 'worker.js', '7']);
  const h = await parse(['-H', 'hosts', '-e', 'b', '--ssh', 'ssh -p 22', '--', 'true']);
  assert.equal(h.hostfile, 'hosts');
  assert.equal(h.exclude, 'b');
  assert.equal(h.ssh, 'ssh -p 22');
});

test('every option can come from YOLO_LAUNCH_<NAME>; a flag wins over the variable', async () => {
  const env = {
    YOLO_LAUNCH_NPROC: '4',
    YOLO_LAUNCH_MASTER_PORT: '29600',
    YOLO_LAUNCH_STANDALONE: '1',
    YOLO_LAUNCH_LOG_DIR: '/tmp/l',
    YOLO_LAUNCH_MAX_RESTARTS: '3',
  };
  const o = await parse(['--', 'true'], env);
  assert.equal(o.nproc, '4');
  assert.equal(o.masterPort, 29600);
  assert.equal(o.standalone, true);
  assert.equal(o.logDir, '/tmp/l');
  assert.equal(o.maxRestarts, 3);
  const f = await parse(['--nproc', '2', '--master-port', '1', '--', 'true'], env);
  assert.equal(f.nproc, '2');
  assert.equal(f.masterPort, 1);
  await assert.rejects(
    parseCommandLine(['--', 'true'], { YOLO_LAUNCH_MASTER_PORT: 'abc' }),
    /YOLO_LAUNCH_MASTER_PORT=abc is not a number/,
  );
});

test('YOLO_LAUNCH_NPROC drives a real launch; --nproc auto is one rank per core without GPUs', async () => {
  const fromEnv = await runLauncher(
    ['--standalone', '--', process.execPath, worker('print-env')],
    cleanEnv({ YOLO_LAUNCH_NPROC: '2' }),
  );
  assert.equal(fromEnv.code, 0, fromEnv.stderr);
  assert.equal(envLines(fromEnv.stdout).size, 2);
  if (os.availableParallelism() <= 16) {
    const auto = await runLauncher(
      ['--standalone', '--nproc', 'auto', '--', process.execPath, worker('print-env')],
      cleanEnv({ CUDA_VISIBLE_DEVICES: '' }),
    );
    assert.equal(auto.code, 0, auto.stderr);
    assert.equal(envLines(auto.stdout).size, os.availableParallelism());
  } else {
    console.log(`# --nproc auto not launched: ${os.availableParallelism()} cores would start as many workers`);
  }
  const gpu = await runLauncher(
    ['--standalone', '--nproc', 'gpu', '--', 'true'],
    cleanEnv({ CUDA_VISIBLE_DEVICES: '' }),
  );
  assert.equal(gpu.code, 2);
  assert.match(gpu.stderr, /--nproc gpu: no GPU found/);
  const gpuList = await runLauncher(
    ['--standalone', '--nproc', 'gpu', '--', process.execPath, worker('print-env')],
    cleanEnv({ CUDA_VISIBLE_DEVICES: '4,6' }),
  );
  assert.equal(gpuList.code, 0, gpuList.stderr);
  assert.deepEqual([...envLines(gpuList.stdout).values()].map((e) => e.CUDA_VISIBLE_DEVICES).sort(), ['4', '6']);
});

const usageErrors: [string, string[], RegExp][] = [
  ['an unknown flag', ['--nprocs', '2', '--', 'true'], /Unknown argument: nprocs/],
  [
    'a bad --nproc',
    ['--nproc', 'many', '--', 'true'],
    /--nproc must be a positive integer, "gpu" or "auto"; got "many"/,
  ],
  ['nothing to run', ['--nproc', '2'], /nothing to run/],
  ['an unknown command', ['--nproc', '2', 'trian'], /unknown command "trian"/],
  [
    '--node-rank outside --nnodes',
    ['--nnodes', '2', '--node-rank', '2', '--master-addr', 'h', '--', 'true'],
    /--node-rank 2 must be below --nnodes 2/,
  ],
  [
    'several nodes without a master address',
    ['--nnodes', '2', '--node-rank', '1', '--', 'true'],
    /--nnodes 2 needs --master-addr/,
  ],
  [
    '--standalone with several nodes',
    ['--standalone', '--nnodes', '2', '--master-addr', 'h', '--', 'true'],
    /--standalone is for a single node/,
  ],
  ['a bad --tee', ['--standalone', '--tee', '7', '--', 'true'], /--tee must be 0/],
  [
    '--include without a hostfile',
    ['--include', 'a', '--', 'true'],
    /--include selects hosts of a --hostfile; give --hostfile too/,
  ],
  // a path below a regular file can never be created
  [
    'an unwritable --log-dir',
    ['--standalone', '--log-dir', `${fileURLToPath(import.meta.url)}/logs`, '--', 'true'],
    /--log-dir .*cli\.test\.js\/logs cannot be written: ENOTDIR/,
  ],
  [
    'a missing hostfile',
    ['--hostfile', '/nonexistent/hosts', '--', 'true'],
    /cannot read hostfile \/nonexistent\/hosts: ENOENT/,
  ],
];
for (const [what, args, message] of usageErrors) {
  test(`usage error, exit 2 with one line: ${what}`, async () => {
    const run = await runLauncher(args);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, message);
    assert.match(run.stderr, /^yolo-launch: error: /);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.equal(run.stdout, '');
  });
}

test('an unknown launcher flag before `train` is named alone, not with every train option after it', async () => {
  for (const args of [
    ['--bogus', 'train', '--epochs', '1', '--img', '64'],
    ['--nproc', '2', '--bogus=1', 'train', '--epochs', '1'],
    ['--standalone', '-Z', 'train', '--epochs', '1'],
  ]) {
    const run = await runLauncher(args);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /^yolo-launch: error: Unknown argument: (bogus|Z) \(launcher options go before `train`/);
    assert.doesNotMatch(run.stderr, /epochs|img/);
  }
  // known spellings (snake case, camel case, aliases, --no-<flag>, --flag=value) still parse
  const parsed = await parse([
    '--nproc_per_node',
    '2',
    '--masterPort=29501',
    '--no-preflight',
    '-H',
    'hosts',
    'train',
    '--bogus',
  ]);
  assert.equal(parsed.nproc, '2');
  assert.equal(parsed.masterPort, 29501);
  assert.equal(parsed.preflight, false);
  assert.equal(parsed.hostfile, 'hosts');
  assert.deepEqual(parsed.trainArgs, ['--bogus']);
});

test('a taken master port is refused with exit 2 and names the process holding it', async (t) => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const owner = findPortOwner(port);
  assert.equal(owner?.pid, process.pid, 'found through /proc/net/tcp and /proc/*/fd');
  const run = await runLauncher(['--nproc', '2', '--master-port', String(port), '--', 'true']);
  assert.equal(run.code, 2);
  assert.match(
    run.stderr,
    new RegExp(
      `^yolo-launch: error: master port ${port} is already in use by pid ${process.pid} \\(.*node.*\\); choose another with --master-port or use --standalone\\n$`,
    ),
  );
});

test('the trainer is resolved from @yolo-launch/train/cli, or reported as not built', () => {
  let file: string | undefined;
  try {
    file = resolveTrainCli();
  } catch (err) {
    assert.ok(err instanceof UsageError);
    assert.match(
      err.message,
      /the trainer is not built: .*train\/dist\/src\/cli\.js does not exist; run `npm run build`/,
    );
    return;
  }
  assert.match(file, /train\/dist\/src\/cli\.js$/);
  assert.ok(existsSync(file));
});

test('the bin runs through its node_modules/.bin symlink', () => {
  // launcher/bin/yolo-launch.js is committed, so npm links it even before the first build.
  const bin = path.join(PACKAGE_ROOT, '..', 'node_modules', '.bin', 'yolo-launch');
  assert.ok(existsSync(bin), `no ${bin}: npm did not link the workspace bin (run npm ci)`);
  const run = spawnSync(bin, ['--standalone', '--', process.execPath, worker('print-env')], {
    env: cleanEnv(),
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(envLines(run.stdout).get(0)?.WORLD_SIZE, '1');
});

test('`export` hands its arguments to the exporter (one process, no workers)', async () => {
  const parsed = await parseCommandLine(['export', '--weights', 'best.pt', '--include', 'onnx', 'tfjs'], {});
  assert.deepEqual(parsed?.exportArgs, ['--weights', 'best.pt', '--include', 'onnx', 'tfjs']);
  assert.equal(parsed?.options.trainArgs, undefined);
});

test("--help before `train` is the launcher's; after it, the trainer's", async () => {
  const trainHelp = await parseCommandLine(['--nproc', '2', 'train', '--help'], {});
  assert.deepEqual(trainHelp?.options.trainArgs, ['--help']);
  const cmdHelp = await parseCommandLine(['--', 'ls', '-h'], {});
  assert.deepEqual(cmdHelp?.options.command, ['ls', '-h']);
  const run = await runLauncher(['--help']);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /yolo-launch \[launcher options\] train \[train options\]/);
  assert.match(run.stdout, /--nproc, --nproc-per-node, --nproc_per_node/);
});
