// Slurm, Open MPI and Kubernetes Indexed Jobs: ranks come from the scheduler's variables.
import assert from 'node:assert/strict';
import test from 'node:test';
import { detectScheduler, expandSlurmHostlist, expandSlurmTasksPerNode, freePort } from '../src/index.js';
import { cleanEnv, envLines, runLauncher, worker } from './helpers.js';

const slurm = (procid: number, localid: number, nodeid: number) => ({
  SLURM_JOB_ID: '4242',
  SLURM_STEP_ID: '0',
  SLURM_PROCID: String(procid),
  SLURM_LOCALID: String(localid),
  SLURM_NODEID: String(nodeid),
  SLURM_NTASKS: '4',
  SLURM_NNODES: '2',
  SLURM_TASKS_PER_NODE: '2(x2)',
  SLURM_JOB_NODELIST: 'gpu[07-08]',
});

test('Slurm hostlists and tasks-per-node', () => {
  assert.deepEqual(expandSlurmHostlist('gpu[07-09,12],login1,r[1-2]n[01-02]'), [
    'gpu07',
    'gpu08',
    'gpu09',
    'gpu12',
    'login1',
    'r1n01',
    'r1n02',
    'r2n01',
    'r2n02',
  ]);
  assert.deepEqual(expandSlurmTasksPerNode('4(x2),2'), [4, 4, 2]);
  assert.throws(() => expandSlurmHostlist('gpu[07-'), /malformed Slurm hostlist/);
});

test('Slurm: one task per rank (srun --ntasks-per-node=2)', () => {
  assert.deepEqual(detectScheduler(slurm(3, 1, 1), false), {
    kind: 'task',
    scheduler: 'slurm',
    rank: 3,
    localRank: 1,
    worldSize: 4,
    localWorldSize: 2,
    nodeRank: 1,
    nnodes: 2,
    masterAddr: 'gpu07',
    jobKey: 'slurm:4242.0',
  });
});

test('Slurm: one task per node plus --nproc is node placement', () => {
  const env = { ...slurm(1, 0, 1), SLURM_NTASKS: '2', SLURM_TASKS_PER_NODE: '1(x2)' };
  assert.deepEqual(detectScheduler(env, true), {
    kind: 'node',
    scheduler: 'slurm',
    nodeRank: 1,
    nnodes: 2,
    masterAddr: 'gpu07',
    jobKey: 'slurm:4242.0',
  });
});

test('Open MPI and Kubernetes Indexed Jobs', () => {
  const ompi = {
    OMPI_COMM_WORLD_RANK: '5',
    OMPI_COMM_WORLD_SIZE: '8',
    OMPI_COMM_WORLD_LOCAL_RANK: '1',
    OMPI_COMM_WORLD_LOCAL_SIZE: '4',
    PMIX_NAMESPACE: 'prterun-x-1@1',
  };
  assert.deepEqual(detectScheduler(ompi, false), {
    kind: 'task',
    scheduler: 'openmpi',
    rank: 5,
    localRank: 1,
    worldSize: 8,
    localWorldSize: 4,
    nodeRank: 1,
    nnodes: 2,
    masterAddr: undefined,
    jobKey: 'openmpi:prterun-x-1@1',
  });
  assert.deepEqual(detectScheduler({ JOB_COMPLETION_INDEX: '2' }, true, 3), {
    kind: 'node',
    scheduler: 'kubernetes',
    nodeRank: 2,
    nnodes: 3,
  });
  assert.equal(detectScheduler({ JOB_COMPLETION_INDEX: '0' }, true), null);
  assert.throws(() => detectScheduler({ JOB_COMPLETION_INDEX: '1' }, true), /needs --nnodes/);
  assert.throws(() => detectScheduler({ JOB_COMPLETION_INDEX: '3' }, true, 3), /not below --nnodes 3/);
  assert.equal(detectScheduler({}, true), null);
});

test('a launcher started by srun runs its one rank with the Slurm ranks; tasks share a derived token', async () => {
  const runs = await Promise.all([
    runLauncher(['--', process.execPath, worker('print-env')], cleanEnv(slurm(3, 1, 1))),
    runLauncher(['--', process.execPath, worker('print-env')], cleanEnv(slurm(2, 0, 1))),
  ]);
  for (const run of runs) assert.equal(run.code, 0, run.stderr);
  const e3 = envLines(runs[0]!.stdout).get(3)!;
  const e2 = envLines(runs[1]!.stdout).get(2)!;
  assert.deepEqual(
    [
      e3.RANK,
      e3.LOCAL_RANK,
      e3.WORLD_SIZE,
      e3.LOCAL_WORLD_SIZE,
      e3.NODE_RANK,
      e3.GROUP_RANK,
      e3.MASTER_ADDR,
      e3.MASTER_PORT,
      e3.CUDA_VISIBLE_DEVICES,
    ],
    ['3', '1', '4', '2', '1', '1', 'gpu07', '29500', '1'],
  );
  assert.equal(e2.LOCAL_RANK, '0');
  assert.equal(e3.YOLO_LAUNCH_RUN_ID, e2.YOLO_LAUNCH_RUN_ID);
  assert.equal(e3.tokenSha, e2.tokenSha, 'separately started tasks agree on the token');
  assert.equal(runs[0]!.stdout.trim().split('\n').length, 1, 'exactly one worker per task');
});

test('a launcher started by mpirun runs its one rank with the Open MPI ranks', async () => {
  const port = await freePort();
  const env = cleanEnv({
    OMPI_COMM_WORLD_RANK: '1',
    OMPI_COMM_WORLD_SIZE: '2',
    OMPI_COMM_WORLD_LOCAL_RANK: '1',
    OMPI_COMM_WORLD_LOCAL_SIZE: '2',
    PMIX_NAMESPACE: 'ns1',
    YOLO_LAUNCH_MASTER_PORT: String(port),
  });
  const run = await runLauncher(['--', process.execPath, worker('print-env')], env);
  assert.equal(run.code, 0, run.stderr);
  const e = envLines(run.stdout).get(1)!;
  assert.deepEqual(
    [e.RANK, e.LOCAL_RANK, e.WORLD_SIZE, e.LOCAL_WORLD_SIZE, e.NODE_RANK, e.MASTER_ADDR, e.MASTER_PORT],
    ['1', '1', '2', '2', '0', '127.0.0.1', String(port)],
  );
  const multi = await runLauncher(
    ['--', 'true'],
    cleanEnv({
      OMPI_COMM_WORLD_RANK: '3',
      OMPI_COMM_WORLD_SIZE: '4',
      OMPI_COMM_WORLD_LOCAL_RANK: '1',
      OMPI_COMM_WORLD_LOCAL_SIZE: '2',
    }),
  );
  assert.equal(multi.code, 2);
  assert.match(multi.stderr, /openmpi spans 2 nodes: give --master-addr/);
});

test('a Kubernetes Indexed Job pod is node JOB_COMPLETION_INDEX of --nnodes', async () => {
  const run = await runLauncher(
    ['--nnodes', '3', '--nproc', '2', '--master-addr', 'job-0.svc', '--', process.execPath, worker('print-env')],
    cleanEnv({ JOB_COMPLETION_INDEX: '2', YOLO_LAUNCH_TOKEN: 'shared' }),
  );
  assert.equal(run.code, 0, run.stderr);
  const envs = envLines(run.stdout);
  assert.deepEqual([...envs.keys()].sort(), [4, 5]);
  assert.equal(envs.get(5)!.NODE_RANK, '2');
  assert.equal(envs.get(5)!.LOCAL_RANK, '1');
  assert.equal(envs.get(5)!.WORLD_SIZE, '6');
  const noToken = await runLauncher(
    ['--nnodes', '3', '--master-addr', 'job-0.svc', '--', 'true'],
    cleanEnv({ JOB_COMPLETION_INDEX: '1' }),
  );
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /export the same YOLO_LAUNCH_TOKEN/);
});

test('--nproc inside a per-rank scheduler job is refused; --scheduler none ignores the scheduler', async () => {
  const conflict = await runLauncher(['--nproc', '4', '--', 'true'], cleanEnv(slurm(0, 0, 0)));
  assert.equal(conflict.code, 2);
  assert.match(
    conflict.stderr,
    /slurm already started 2 task\(s\) on this node, one per rank, so --nproc 4 would multiply them/,
  );
  const ignored = await runLauncher(
    ['--standalone', '--nproc', '2', '--scheduler', 'none', '--', process.execPath, worker('print-env')],
    cleanEnv(slurm(3, 1, 1)),
  );
  assert.equal(ignored.code, 0, ignored.stderr);
  assert.deepEqual([...envLines(ignored.stdout).keys()].sort(), [0, 1]);
  const bad = await runLauncher(['--scheduler', 'pbs', '--', 'true']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--scheduler must be "auto" or "none", got "pbs"/);
});
