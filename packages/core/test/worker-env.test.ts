// readWorkerEnv: the defaults of a single process, a launched worker's full contract, the
// one-node defaults torchrun users rely on, and errors that name the variable.
import assert from 'node:assert/strict';
import test from 'node:test';
import { isLaunchedWorker, readWorkerEnv, WORKER_VARIABLES, WorkerEnvError, type WorkerEnv } from '../src/index.js';

const launched = {
  RANK: '3',
  LOCAL_RANK: '1',
  WORLD_SIZE: '4',
  LOCAL_WORLD_SIZE: '2',
  NODE_RANK: '1',
  GROUP_RANK: '1',
  MASTER_ADDR: 'node0',
  MASTER_PORT: '1234',
  YOLO_LAUNCH_RUN_ID: 'job-7',
  RESTART_COUNT: '2',
  YOLO_LAUNCH_TOKEN: 'secret',
  YOLO_LAUNCH_THREADS: '3',
};

test('a process nobody launched is rank 0 of a world of one', () => {
  const expected: WorkerEnv = {
    launched: false,
    rank: 0,
    localRank: 0,
    worldSize: 1,
    localWorldSize: 1,
    nodeRank: 0,
    masterAddr: '127.0.0.1',
    masterPort: 0,
    runId: undefined,
    restartCount: 0,
    token: '',
    threads: undefined,
  };
  assert.deepEqual(readWorkerEnv({}), expected);
  assert.deepEqual(readWorkerEnv({ RANK: '', WORLD_SIZE: '' }), expected, 'an empty variable counts as unset');
});

test('every variable of the contract is read into its field', () => {
  assert.deepEqual(readWorkerEnv(launched), {
    launched: true,
    rank: 3,
    localRank: 1,
    worldSize: 4,
    localWorldSize: 2,
    nodeRank: 1,
    masterAddr: 'node0',
    masterPort: 1234,
    runId: 'job-7',
    restartCount: 2,
    token: 'secret',
    threads: 3,
  });
  const names = Object.values(WORKER_VARIABLES).sort();
  assert.deepEqual(names, Object.keys(launched).sort(), 'the table names exactly these variables');
});

test('a launched worker without LOCAL_* or MASTER_* runs on one node with torchrun defaults', () => {
  const worker = readWorkerEnv({ RANK: '1', WORLD_SIZE: '2' });
  assert.deepEqual(
    [worker.localRank, worker.localWorldSize, worker.masterAddr, worker.masterPort, worker.nodeRank],
    [1, 2, '127.0.0.1', 29500, 0],
  );
  assert.equal(readWorkerEnv({ RANK: '0', WORLD_SIZE: '2', GROUP_RANK: '5' }).nodeRank, 5, "torchrun's GROUP_RANK");
});

test('isLaunchedWorker: RANK or WORLD_SIZE, without checking either', () => {
  assert.deepEqual(
    [{}, { RANK: '' }, { RANK: '0' }, { WORLD_SIZE: '2' }, { LOCAL_RANK: '1' }].map((env) => isLaunchedWorker(env)),
    [false, false, true, true, false],
  );
});

test('LOCAL_RANK and LOCAL_WORLD_SIZE are read without RANK too (a node-local helper process)', () => {
  const worker = readWorkerEnv({ LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2' });
  assert.deepEqual([worker.launched, worker.localRank, worker.localWorldSize], [false, 1, 2]);
});

test('given values replace their variables', () => {
  const worker = readWorkerEnv(launched, { rank: 0, worldSize: 2, masterAddr: 'h', masterPort: 7, token: 't' });
  assert.deepEqual(
    [worker.rank, worker.worldSize, worker.masterAddr, worker.masterPort, worker.token],
    [0, 2, 'h', 7, 't'],
  );
  assert.equal(readWorkerEnv({}, { rank: 1, worldSize: 2 }).launched, true);
});

const bad: [Record<string, string>, string, RegExp][] = [
  [{ ...launched, RANK: 'x' }, 'RANK', /^RANK="x" is not an integer; .*unset it to run a single process$/],
  [{ ...launched, RANK: '4' }, 'RANK', /^RANK 4 is outside 0\.\.3 \(WORLD_SIZE=4\)$/],
  [{ WORLD_SIZE: '2' }, 'RANK', /^RANK is not set but WORLD_SIZE=2 is: a worker needs both/],
  [{ RANK: '0' }, 'WORLD_SIZE', /^WORLD_SIZE is not set but RANK=0 is/],
  [{ RANK: '0', WORLD_SIZE: '0' }, 'WORLD_SIZE', /^WORLD_SIZE must be >= 1, got 0$/],
  [{ ...launched, LOCAL_RANK: '2' }, 'LOCAL_RANK', /^LOCAL_RANK 2 is outside 0\.\.1 \(LOCAL_WORLD_SIZE=2\)$/],
  [{ LOCAL_RANK: '-1' }, 'LOCAL_RANK', /^LOCAL_RANK must be a non-negative integer, got -1$/],
  [{ ...launched, MASTER_PORT: '70000' }, 'MASTER_PORT', /^MASTER_PORT 70000 is not a TCP port$/],
  [{ ...launched, YOLO_LAUNCH_THREADS: '1.5' }, 'YOLO_LAUNCH_THREADS', /^YOLO_LAUNCH_THREADS="1\.5" is not an integer/],
  [{ RESTART_COUNT: 'again' }, 'RESTART_COUNT', /^RESTART_COUNT="again" is not an integer/],
];
for (const [env, variable, message] of bad) {
  test(`a bad ${variable} is named: ${message.source.slice(1, 40)}`, () => {
    assert.throws(
      () => readWorkerEnv(env),
      (err: unknown) => err instanceof WorkerEnvError && err.variable === variable && message.test(err.message),
    );
  });
}

test('a given value that is not an integer is named by its option', () => {
  assert.throws(() => readWorkerEnv({}, { rank: 0.5, worldSize: 2 }), {
    name: 'WorkerEnvError',
    message: 'rank must be an integer, got 0.5',
  });
});
