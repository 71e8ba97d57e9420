// The worker contract: every variable for 1, 2 and 4 local workers, the GPU split with and
// without a user list, the thread budget, and the token that never shows up in any output.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { ALLOCATOR_ENV } from '@yolo-launch/comm';
import { readWorkerEnv, WORKER_VARIABLES } from '@yolo-launch/core';
import {
  assignDevices,
  threadBudget,
  workerEnv,
  CONTRACT_VARIABLES,
  OPTIONS,
  OPTION_NAMES,
  forwardedEnv,
} from '../src/index.js';
import { cleanEnv, envLines, runLauncher, worker } from './helpers.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);

for (const nproc of [1, 2, 4]) {
  test(`environment contract with ${nproc} local worker(s)`, async () => {
    const token = `secret-${nproc}-${Math.random().toString(36).slice(2)}`;
    const run = await runLauncher(
      [
        '--standalone',
        '--nproc',
        String(nproc),
        '--run-id',
        `contract-${nproc}`,
        '--',
        process.execPath,
        worker('print-env'),
      ],
      cleanEnv({ YOLO_LAUNCH_TOKEN: token }),
    );
    assert.equal(run.code, 0, run.stderr);
    const envs = envLines(run.stdout);
    assert.deepEqual(
      [...envs.keys()].sort(),
      Array.from({ length: nproc }, (_, i) => i),
    );
    const ports = new Set<string>();
    const budget = String(threadBudget(nproc, os.availableParallelism()));
    for (const [rank, env] of envs) {
      assert.equal(env.LOCAL_RANK, String(rank));
      assert.equal(env.WORLD_SIZE, String(nproc));
      assert.equal(env.LOCAL_WORLD_SIZE, String(nproc));
      assert.equal(env.NODE_RANK, '0');
      assert.equal(env.GROUP_RANK, '0');
      assert.equal(env.MASTER_ADDR, '127.0.0.1');
      assert.match(String(env.MASTER_PORT), /^\d+$/);
      ports.add(String(env.MASTER_PORT));
      assert.equal(env.YOLO_LAUNCH_RUN_ID, `contract-${nproc}`);
      assert.equal(env.RESTART_COUNT, '0');
      assert.equal(env.CUDA_VISIBLE_DEVICES, String(rank)); // no GPU here, no user list: own index
      assert.equal(env.TF_FORCE_GPU_ALLOW_GROWTH, 'true');
      assert.equal(env.YOLO_LAUNCH_THREADS, budget);
      assert.equal(env.OMP_NUM_THREADS, budget);
      assert.equal(env.MALLOC_MMAP_THRESHOLD_, ALLOCATOR_ENV.MALLOC_MMAP_THRESHOLD_);
      assert.equal(env.MALLOC_TRIM_THRESHOLD_, ALLOCATOR_ENV.MALLOC_TRIM_THRESHOLD_);
      assert.equal(env.tokenSha, sha(token));
      // every line on the console carries its rank
    }
    assert.equal(ports.size, 1, 'every rank gets the same master port');
    for (const line of run.stdout.trim().split('\n')) assert.match(line, /^\[rank\d+\]: /);
    assert.ok(!run.stdout.includes(token) && !run.stderr.includes(token), 'the token is never printed');
  });
}

test('each job gets its own random token when none is exported, never printed', async () => {
  const a = await runLauncher(['--standalone', '--nproc', '2', '--', process.execPath, worker('print-env')]);
  const b = await runLauncher(['--standalone', '--nproc', '1', '--', process.execPath, worker('print-env')]);
  assert.equal(a.code, 0, a.stderr);
  const ea = envLines(a.stdout);
  assert.equal(ea.get(0)!.tokenSha, ea.get(1)!.tokenSha);
  assert.ok(Number(ea.get(0)!.tokenLength) >= 32);
  assert.notEqual(envLines(b.stdout).get(0)!.tokenSha, ea.get(0)!.tokenSha);
});

test('CUDA_VISIBLE_DEVICES: the user list is split among the ranks', async () => {
  const run = await runLauncher(
    ['--standalone', '--nproc', '2', '--', process.execPath, worker('print-env')],
    cleanEnv({
      CUDA_VISIBLE_DEVICES: '5,7,9',
      TF_FORCE_GPU_ALLOW_GROWTH: 'false',
      OMP_NUM_THREADS: '3',
      MALLOC_TRIM_THRESHOLD_: '1000',
    }),
  );
  assert.equal(run.code, 0, run.stderr);
  const envs = envLines(run.stdout);
  assert.equal(envs.get(0)!.CUDA_VISIBLE_DEVICES, '5');
  assert.equal(envs.get(1)!.CUDA_VISIBLE_DEVICES, '7');
  assert.equal(envs.get(0)!.TF_FORCE_GPU_ALLOW_GROWTH, 'false', 'a user setting is kept');
  assert.equal(envs.get(1)!.OMP_NUM_THREADS, '3', 'a user setting is kept');
  assert.equal(envs.get(1)!.MALLOC_TRIM_THRESHOLD_, '1000', 'a user setting is kept');
});

test('CUDA_VISIBLE_DEVICES: a list shorter than --nproc is a usage error (exit 2, one line)', async () => {
  const run = await runLauncher(
    ['--standalone', '--nproc', '3', '--', process.execPath, worker('print-env')],
    cleanEnv({ CUDA_VISIBLE_DEVICES: '0,1' }),
  );
  assert.equal(run.code, 2);
  assert.match(run.stderr, /^yolo-launch: error: CUDA_VISIBLE_DEVICES=0,1 lists 2 device\(s\) but 3 local workers/);
  assert.equal(run.stderr.trim().split('\n').length, 1);
  assert.equal(run.stdout, '');
});

test('assignDevices and workerEnv units', () => {
  assert.deepEqual(assignDevices(2, undefined, []), ['0', '1']);
  assert.deepEqual(assignDevices(2, undefined, [3, 4]), ['3', '4']);
  assert.deepEqual(assignDevices(2, ' 2, 6 ', []), ['2', '6']);
  assert.deepEqual(assignDevices(2, '', []), [undefined, undefined], 'an empty list hides the GPUs for every rank');
  assert.deepEqual(assignDevices(1, '-1', [0]), [undefined]);
  assert.throws(() => assignDevices(3, '0,1'), /lists 2 device/);
  assert.equal(threadBudget(4, 8), 2);
  assert.equal(threadBudget(4, 2), 1);
  const env = workerEnv(
    {
      PATH: '/bin',
      YOLO_LAUNCH_NPROC: '4',
      YOLO_LAUNCH_MASTER_PORT: '1',
      YOLO_LAUNCH_DATASETS: '/data',
      CUDA_VISIBLE_DEVICES: '2,3',
    },
    { rank: 5, localRank: 1, worldSize: 8, localWorldSize: 4, nodeRank: 1 },
    { masterAddr: 'h0', masterPort: 1234, runId: 'r', token: 't', restartCount: 2 },
    '3',
    2,
  );
  assert.equal(env.YOLO_LAUNCH_NPROC, undefined, 'launcher option defaults do not leak into workers');
  assert.equal(env.YOLO_LAUNCH_MASTER_PORT, undefined);
  assert.equal(env.YOLO_LAUNCH_DATASETS, '/data', 'other YOLO_LAUNCH_* variables belong to the packages');
  assert.deepEqual(
    forwardedEnv({
      YOLO_LAUNCH_DATASETS: '/d',
      YOLO_LAUNCH_NPROC: '2',
      YOLO_LAUNCH_TOKEN: 's',
      YOLO_SOCKET_IFNAME: 'eth1',
      TF_CPP_MIN_LOG_LEVEL: '2',
      HOME: '/root',
    }),
    {
      YOLO_LAUNCH_DATASETS: '/d',
      YOLO_SOCKET_IFNAME: 'eth1',
      TF_CPP_MIN_LOG_LEVEL: '2',
    },
    'what a hostfile job forwards to the other nodes (the token travels separately)',
  );
  for (const name of CONTRACT_VARIABLES) assert.notEqual(env[name], undefined, name);
  assert.equal(env.PATH, '/bin');
  assert.equal(env.RANK, '5');
  assert.equal(env.GROUP_RANK, '1');
  assert.equal(env.RESTART_COUNT, '2');
  assert.equal(env.CUDA_VISIBLE_DEVICES, '3');
});

test("what the launcher writes, core's readWorkerEnv reads back field for field", () => {
  for (const [placement, job] of [
    [
      { rank: 5, localRank: 1, worldSize: 8, localWorldSize: 4, nodeRank: 1 },
      { masterAddr: 'h0', masterPort: 1234, runId: 'r', token: 't', restartCount: 2 },
    ],
    [
      { rank: 0, localRank: 0, worldSize: 1, localWorldSize: 1, nodeRank: 0 },
      { masterAddr: '127.0.0.1', masterPort: 29500, runId: 'single', token: 'x'.repeat(64), restartCount: 0 },
    ],
  ] as const) {
    const written = workerEnv({ RANK: '99', YOLO_LAUNCH_THREADS: 'stale' }, placement, job, undefined, 3);
    assert.deepEqual(readWorkerEnv(written), { launched: true, ...placement, ...job, threads: 3 });
  }
  const workerRead = Object.values(WORKER_VARIABLES);
  assert.deepEqual(
    CONTRACT_VARIABLES.filter((name) => (workerRead as readonly string[]).includes(name)),
    workerRead,
    'every variable workers read is in the contract',
  );
});

test('every CLI option has a YOLO_LAUNCH_<NAME> variable that the workers do not inherit', () => {
  assert.deepEqual(Object.keys(OPTIONS).sort(), [...OPTION_NAMES].sort());
});

test('the secret can come from YOLO_LAUNCH_TOKEN_FILE (a Docker or Kubernetes secret)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yl-token-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'token');
  writeFileSync(file, 'file-secret-123\n');
  const run = await runLauncher(
    ['--standalone', '--', process.execPath, worker('print-env')],
    cleanEnv({ YOLO_LAUNCH_TOKEN_FILE: file }),
  );
  assert.equal(run.code, 0, run.stderr);
  assert.equal(envLines(run.stdout).get(0)!.tokenSha, sha('file-secret-123'));
  const missing = await runLauncher(
    ['--standalone', '--', 'true'],
    cleanEnv({ YOLO_LAUNCH_TOKEN_FILE: path.join(dir, 'nope') }),
  );
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read YOLO_LAUNCH_TOKEN_FILE=.*nope: ENOENT/);
});
