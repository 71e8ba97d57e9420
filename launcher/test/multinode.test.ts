// Several "nodes" on one machine: a hostfile job through an --ssh shim that runs the node
// launcher locally, and (as root with `ip`) through network namespaces joined by a veth pair,
// both running a real @yolo-launch/comm all-reduce across the nodes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { freePort } from '../src/index.js';
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
const dir = mkdtempSync(path.join(os.tmpdir(), 'yl-multinode-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** An ssh stand-in: `shim <host> <command>` runs the command here, like `ssh host command`. */
const shim = path.join(dir, 'ssh-shim.sh');
writeFileSync(shim, '#!/bin/sh\n# ssh stand-in: $1 is the host, $2 the remote command line\nexec sh -c "$2"\n');
chmodSync(shim, 0o755);

function hostfile(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

const twoNodes = hostfile('hosts-2-1', '# two fake nodes\nnodeA slots=2\nnodeB slots=1\n');

/** Launcher flags of a job on `twoNodes` through the ssh shim, its master on a free port of its own. */
async function twoNodeJob(...flags: string[]): Promise<{ args: string[]; port: number }> {
  const port = await freePort();
  const args = ['--hostfile', twoNodes, '--ssh', shim, '--master-addr', '127.0.0.1', '--master-port', String(port)];
  return { args: [...args, ...flags], port };
}

/** Every process command line on the machine, to prove the secret is not in any of them. */
function allCommandLines(): string {
  let text = '';
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      text += readFileSync(`/proc/${pid}/cmdline`, 'utf8') + '\n';
    } catch {
      /* gone */
    }
  }
  return text;
}

test('hostfile job over --ssh: ranks, host prefixes, shared token/run id/cwd, forwarded environment', async () => {
  const job = await twoNodeJob('--', node, worker('print-env'));
  const run = await runLauncher(
    job.args,
    cleanEnv({ YOLO_FORWARDED_PROBE: 'forwarded', YOLO_LAUNCH_TOKEN: 'multi-node-secret' }),
  );
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /preflight: node 0 \(nodeA\) → 127\.0\.0\.1:\d+ connected, interface lo \(127\.0\.0\.1\)/);
  assert.match(run.stderr, /preflight: node 1 \(nodeB\) → 127\.0\.0\.1:\d+ connected, interface lo/);
  const envs = envLines(run.stdout);
  assert.deepEqual([...envs.keys()].sort(), [0, 1, 2]);
  const expect: [number, string, string, string, string][] = [
    [0, 'nodeA', '0', '0', '0'],
    [1, 'nodeA', '1', '0', '1'],
    [2, 'nodeB', '0', '1', '0'],
  ];
  for (const [rank, host, localRank, nodeRank, device] of expect) {
    const e = envs.get(rank)!;
    assert.match(run.stdout, new RegExp(`^\\[${host}\\] \\[rank${rank}\\]: ENV `, 'm'), 'host and rank prefixes');
    assert.equal(e.LOCAL_RANK, localRank);
    assert.equal(e.NODE_RANK, nodeRank);
    assert.equal(e.GROUP_RANK, nodeRank);
    assert.equal(e.WORLD_SIZE, '3');
    assert.equal(e.LOCAL_WORLD_SIZE, host === 'nodeA' ? '2' : '1');
    assert.equal(e.MASTER_PORT, String(job.port));
    assert.equal(e.CUDA_VISIBLE_DEVICES, device, 'slot of the hostfile');
    assert.equal(e.YOLO_FORWARDED_PROBE, 'forwarded');
    assert.equal(e.cwd, envs.get(0)!.cwd);
    assert.equal(e.YOLO_LAUNCH_RUN_ID, envs.get(0)!.YOLO_LAUNCH_RUN_ID);
    assert.equal(e.tokenSha, envs.get(0)!.tokenSha);
  }
  assert.ok(!run.stdout.includes('multi-node-secret') && !run.stderr.includes('multi-node-secret'));
});

test('a real comm all-reduce across two nodes through the ssh shim', async () => {
  const job = await twoNodeJob('--term-timeout', '3', '--', node, worker('allreduce'));
  const run = await runLauncher(job.args, cleanEnv({ YOLO_COMM_TRANSPORT: 'tcp' }), 90_000);
  assert.equal(run.code, 0, run.stderr + run.stdout);
  for (const [rank, host] of [
    [0, 'nodeA'],
    [1, 'nodeA'],
    [2, 'nodeB'],
  ] as const) {
    // (1+2+3) * [1, 2, 3, ..., 1000]
    assert.match(
      run.stdout,
      new RegExp(`^\\[${host}\\] \\[rank${rank}\\]: ALLREDUCE rank=${rank} world=3 head=\\[6,12,18\\] last=6000$`, 'm'),
    );
  }
});

// A worker's exit 2 is a usage error (a bad train option): its node launcher exits 2 and so
// does the controller, as on a single node; any other failure ends the job with 1.
for (const [workerCode, jobCode] of [
  [3, 1],
  [2, 2],
] as const) {
  test(`a worker exiting ${workerCode} on one node stops every node; the report names host, rank and code; the job exits ${jobCode}`, async (t) => {
    const marker = markWorkers(t);
    const job = await twoNodeJob('--term-timeout', '2', '--', node, worker('behave'), 'fail-rank=2');
    const run = await runLauncher([...job.args, `fail-code=${workerCode}`, 'hang', `marker=${marker}`]);
    assert.equal(run.code, jobCode, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(`^\\[nodeB\\] yolo-launch: rank 2 \\(local rank 0, pid \\d+\\) exited with code ${workerCode}$`, 'm'),
    );
    assert.match(run.stderr, /^\[nodeB\] {5}last words of rank 2$/m);
    assert.match(
      run.stderr,
      new RegExp(`^yolo-launch: node 1 \\(nodeB\\) exited with code ${jobCode}; stopping every node$`, 'm'),
    );
    await waitFor('every worker on every node gone', () => processesWith(marker).length === 0, 10_000);
  });
}

test('--max-restarts restarts every node with RESTART_COUNT incremented', async (t) => {
  const marker = markWorkers(t);
  const job = await twoNodeJob('--max-restarts', '1', '--term-timeout', '2', '--no-preflight', '--');
  const run = await runLauncher([
    ...job.args,
    node,
    worker('behave'),
    'fail-rank=0',
    'fail-code=6',
    'fail-once',
    `marker=${marker}`,
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /restarting every node \(restart 1 of 1\)/);
  assert.match(run.stdout, /^\[nodeB\] \[rank2\]: ready rank=2 pid=\d+ restart=1$/m);
  assert.match(run.stdout, /^\[nodeA\] \[rank0\]: rank 0 done$/m);
  assert.equal(processesWith(marker).length, 0);
});

/** A two-node job of workers that hang until stopped, started and waited for until all three are ready. */
async function startHangingJob(marker: string, env: NodeJS.ProcessEnv | undefined, ...flags: string[]) {
  const job = await twoNodeJob(
    '--term-timeout',
    '2',
    ...flags,
    '--',
    node,
    worker('behave'),
    'hang',
    `marker=${marker}`,
  );
  const run = startLauncher(job.args, env);
  await waitFor('three workers ready', () => (run.stdout().match(/ready rank=/g) ?? []).length === 3, 30_000);
  return run;
}

test('the controller killed with SIGKILL: every node launcher and worker ends by itself; the token is in no process listing', async (t) => {
  const marker = markWorkers(t);
  const token = `tok-${randomBytes(8).toString('hex')}`;
  const runId = `run-${randomBytes(4).toString('hex')}`;
  const env = cleanEnv({ YOLO_LAUNCH_TOKEN: token, YOLO_LAUNCH_RUN_ID: runId });
  const run = await startHangingJob(marker, env, '--monitor-interval', '0.2');
  const listing = allCommandLines();
  assert.ok(!listing.includes(token), 'the token is not on any command line');
  assert.ok(!listing.includes(runId), 'the run id travels over stdin too');
  run.child.kill('SIGKILL');
  await run.done;
  await waitFor('every node launcher and worker gone', () => processesWith(marker).length === 0, 10_000);
});

test('SIGINT to the controller stops every node and worker', async (t) => {
  const marker = markWorkers(t);
  const run = await startHangingJob(marker, undefined, '--no-preflight');
  run.child.kill('SIGINT');
  const result = await run.done;
  assert.equal(result.code, 130, result.stderr);
  await waitFor('every node launcher and worker gone', () => processesWith(marker).length === 0, 10_000);
});

// ---- network namespaces -----------------------------------------------------------------------

function ip(...args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not running as root';
  if (spawnSync('ip', ['-V']).status !== 0) return '`ip` (iproute2) is not installed';
  const probe = `ylp${process.pid}`;
  const add = ip('netns', 'add', probe);
  if (!add.ok) return `cannot create a network namespace: ${add.out}`;
  try {
    const exec = spawnSync('ip', ['netns', 'exec', probe, 'true'], { encoding: 'utf8' });
    if (exec.status !== 0) return `cannot enter a network namespace: ${`${exec.stderr}`.trim()}`;
    const veth = ip('link', 'add', `${probe}a`, 'type', 'veth', 'peer', 'name', `${probe}b`);
    if (!veth.ok) return `cannot create a veth pair: ${veth.out}`;
    ip('link', 'del', `${probe}a`);
    return null;
  } finally {
    ip('netns', 'del', probe);
  }
}

test('two nodes in two network namespaces joined by a veth pair: preflight and a real all-reduce over TCP', async (t) => {
  const why = netnsUnavailable();
  if (why) {
    console.log(`# skipped the network-namespace test: ${why}`);
    t.skip(why);
    return;
  }
  const id = `${process.pid % 100000}${randomInt(100)}`;
  const [nsA, nsB, nsC] = [`ylA${id}`, `ylB${id}`, `ylC${id}`];
  const [vethA, vethB] = [`ylva${id}`, `ylvb${id}`];
  const subnet = `10.231.${randomInt(1, 255)}`;
  const cleanup = () => {
    for (const ns of [nsA, nsB, nsC]) {
      for (const pid of ip('netns', 'pids', ns)
        .out.split('\n')
        .filter((p) => /^\d+$/.test(p))) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      ip('netns', 'del', ns);
    }
    ip('link', 'del', vethA); // only exists if setup stopped half-way
  };
  t.after(cleanup);
  const steps: string[][] = [
    ['netns', 'add', nsA],
    ['netns', 'add', nsB],
    ['netns', 'add', nsC],
    ['link', 'add', vethA, 'type', 'veth', 'peer', 'name', vethB],
    ['link', 'set', vethA, 'netns', nsA],
    ['link', 'set', vethB, 'netns', nsB],
    ['-n', nsA, 'link', 'set', vethA, 'name', 'yl0'],
    ['-n', nsB, 'link', 'set', vethB, 'name', 'yl0'],
    ['-n', nsA, 'addr', 'add', `${subnet}.1/24`, 'dev', 'yl0'],
    ['-n', nsB, 'addr', 'add', `${subnet}.2/24`, 'dev', 'yl0'],
    ['-n', nsA, 'link', 'set', 'yl0', 'up'],
    ['-n', nsB, 'link', 'set', 'yl0', 'up'],
    ['-n', nsA, 'link', 'set', 'lo', 'up'],
    ['-n', nsB, 'link', 'set', 'lo', 'up'],
    ['-n', nsC, 'link', 'set', 'lo', 'up'],
  ];
  for (const step of steps) {
    const r = ip(...step);
    assert.ok(r.ok, `ip ${step.join(' ')}: ${r.out}`);
  }
  const nsShim = path.join(dir, 'netns-shim.sh');
  writeFileSync(
    nsShim,
    `#!/bin/sh\n# ssh stand-in: each host is a network namespace\ncase "$1" in\n  nodeA) ns=${nsA} ;;\n  nodeB) ns=${nsB} ;;\n  nodeC) ns=${nsC} ;;\n  *) echo "ssh: unknown host $1" >&2; exit 255 ;;\nesac\nexec ip netns exec "$ns" sh -c "$2"\n`,
  );
  chmodSync(nsShim, 0o755);
  const hosts = hostfile('hosts-netns', 'nodeA slots=1\nnodeB slots=1\n');
  const env = cleanEnv({ YOLO_SOCKET_IFNAME: 'yl0', YOLO_COMM_TRANSPORT: 'tcp' });
  const run = await runLauncher(
    [
      '--hostfile',
      hosts,
      '--ssh',
      nsShim,
      '--master-addr',
      `${subnet}.1`,
      '--term-timeout',
      '3',
      '--',
      node,
      worker('allreduce'),
    ],
    env,
    90_000,
  );
  assert.equal(run.code, 0, run.stderr + run.stdout);
  assert.match(
    run.stderr,
    new RegExp(
      `preflight: node 1 \\(nodeB\\) → ${subnet.replace(/\./g, '\\.')}\\.1:29500 reachable, not listening yet, interface yl0 \\(${subnet.replace(/\./g, '\\.')}\\.2\\)`,
    ),
  );
  for (const [rank, host] of [
    [0, 'nodeA'],
    [1, 'nodeB'],
  ] as const) {
    assert.match(
      run.stdout,
      new RegExp(`^\\[${host}\\] \\[rank${rank}\\]: ALLREDUCE rank=${rank} world=2 head=\\[3,6,9\\] last=3000$`, 'm'),
    );
  }

  // A node without a route to the master fails the preflight before anything starts.
  const cut = hostfile('hosts-netns-cut', 'nodeA slots=1\nnodeC slots=1\n');
  const refused = await runLauncher(
    ['--hostfile', cut, '--ssh', nsShim, '--master-addr', `${subnet}.1`, '--', node, worker('allreduce')],
    env,
  );
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(
    refused.stderr,
    new RegExp(
      `^yolo-launch: error: preflight: node 1 \\(nodeC\\) cannot reach the master ${subnet.replace(/\./g, '\\.')}\\.1:29500: ENETUNREACH$`,
      'm',
    ),
  );
  assert.equal(ip('netns', 'pids', nsA).out, '', 'nothing left running in the namespaces');
});
