// Liveness and admission: dead peers are named quickly, slow peers are tolerated, and
// rendezvous refuses what does not belong to the job.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { describeFailures, runJob, startJob } from './harness.js';

for (const [victim, mode] of [
  [1, 'async'],
  [0, 'async'],
  [2, 'sync'],
] as const) {
  test(`SIGKILL of rank ${victim} during a 64 MB all-reduce (${mode === 'sync' ? 'allReduceSync' : 'several async collectives in flight'}): the others reject within 5 s naming rank ${victim}, then exit cleanly`, async () => {
    const job = await startJob({ worldSize: 3, scenario: 'kill-mid', args: [mode] });
    try {
      await Promise.all([0, 1, 2].map((i) => job.waitForLine(i, 'READY')));
      await new Promise((r) => setTimeout(r, 300)); // well inside the all-reduce loop
      const killedAt = Date.now();
      job.procs[victim]!.kill('SIGKILL');
      const outs = await job.outcomes;
      for (const o of outs) {
        if (o.rank === victim) {
          assert.equal(o.signal, 'SIGKILL');
          continue;
        }
        assert.equal(o.code, 0, `rank ${o.rank} did not exit cleanly: ${JSON.stringify(o.error)} ${o.stderr}`);
        const r = o.result!;
        assert.equal(r.code, 'PEER_DEAD', JSON.stringify(r));
        assert.equal(r.peerRank, victim);
        assert.match(String(r.error), new RegExp(`rank ${victim}\\b`));
        assert.match(String(r.later), new RegExp(`rank ${victim}\\b`), 'later collectives must fail too');
        // The liveness requirement of the issue (detection, not speed): within 5 s of the kill.
        assert.ok(o.reportedAt! - killedAt < 5000, `rank ${o.rank} took ${o.reportedAt! - killedAt} ms to notice`);
      }
    } finally {
      job.kill();
    }
  });
}

// 10 s blocked: over three heartbeat timeouts (3 s) without one turn of the main thread's event loop
test('a root whose main thread is blocked for 10 s before a broadcast causes no error (heartbeats come from the engine thread)', async () => {
  const outs = await runJob({
    worldSize: 3,
    scenario: 'sleeper',
    args: ['10000'],
    env: { YOLO_COMM_HEARTBEAT_TIMEOUT_MS: '3000' },
    timeoutMs: 90_000,
  });
  assert.equal(describeFailures(outs), '');
  for (const o of outs) assert.deepEqual(o.result!.value, [1, 2, 3]);
  assert.ok(
    (outs[1]!.result!.waitedMs as number) >= 7_500,
    'rank 1 should have waited in the broadcast for the sleeping root',
  );
});

test('a wrong token is refused with its message, and neither it nor garbage on the port disturbs the job', async () => {
  const good = await startJob({ worldSize: 2, scenario: 'init-only', ranks: [0] });
  try {
    // Garbage from an unauthenticated connection first.
    await new Promise<void>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: good.port }, () => {
        s.write(Buffer.from('GET / HTTP/1.0\r\n\r\n\xff\x00\x01garbage'));
        setTimeout(() => (s.destroy(), resolve()), 200);
      });
      s.on('error', () => resolve());
    });
    const intruder = await runJob({
      worldSize: 2,
      scenario: 'init-only',
      ranks: [1],
      port: good.port,
      env: { YOLO_LAUNCH_TOKEN: 'not-the-token' },
    });
    assert.equal(intruder[0]!.code, 1);
    assert.equal(intruder[0]!.error!.code, 'RENDEZVOUS');
    assert.match(intruder[0]!.error!.message, /wrong job token/);
    // The real rank 1 still gets in.
    const real = await runJob({ worldSize: 2, scenario: 'init-only', ranks: [1], port: good.port });
    assert.equal(describeFailures(real), '');
    const outs = await good.outcomes;
    assert.equal(describeFailures(outs), '');
  } finally {
    good.kill();
  }
});

test('a duplicate rank aborts the rendezvous on every rank with a message naming it', async () => {
  const outs = await runJob({ worldSize: 3, scenario: 'init-only', ranks: [0, 1, 1] });
  for (const o of outs) {
    assert.equal(o.code, 1, `rank ${o.rank} should fail`);
    assert.equal(o.error!.code, 'RENDEZVOUS');
    assert.match(o.error!.message, /duplicate rank 1/);
  }
});

test('a config digest mismatch is refused on every rank with the differing rank and digests', async () => {
  const outs = await runJob({
    worldSize: 3,
    scenario: 'init-only',
    perRankEnv: (i) => ({ TEST_DIGEST: i === 2 ? 'digest-B' : 'digest-A' }),
  });
  for (const o of outs) {
    assert.equal(o.code, 1, `rank ${o.rank} should fail`);
    assert.match(o.error!.message, /rank 2 .*config digest "digest-B" but rank 0 has "digest-A"/);
  }
});

test('a WORLD_SIZE mismatch is refused naming the rank', async () => {
  const job = await startJob({ worldSize: 2, scenario: 'init-only', ranks: [0] });
  try {
    const other = await runJob({ worldSize: 3, scenario: 'init-only', ranks: [2], port: job.port });
    assert.match(other[0]!.error!.message, /rank 2 .*WORLD_SIZE=3 but rank 0 has WORLD_SIZE=2/);
    const outs = await job.outcomes;
    assert.match(outs[0]!.error!.message, /WORLD_SIZE=3 but rank 0 has WORLD_SIZE=2/);
  } finally {
    job.kill();
  }
});

test('the optional per-call timeout fails a collective that a live peer never joins', async () => {
  const outs = await runJob({ worldSize: 2, scenario: 'timeout', env: { YOLO_COMM_OP_TIMEOUT_MS: '1000' } });
  assert.equal(describeFailures(outs), '');
  assert.equal(outs[0]!.result!.outcome, 'TIMEOUT');
  assert.match(String(outs[0]!.result!.error), /timeoutMs=1000/);
});

test('a script that ends without destroy(), or dies of an uncaught error, still exits by itself with its own code', async () => {
  const clean = await runJob({ worldSize: 2, scenario: 'no-destroy' });
  assert.deepEqual(
    clean.map((o) => [o.code, o.signal, !!o.result]),
    [
      [0, null, true],
      [0, null, true],
    ],
  );
  const thrown = await runJob({ worldSize: 2, scenario: 'no-destroy', args: ['throw'] });
  assert.equal(
    thrown[1]!.code,
    1,
    `rank 1 should exit 1 from its uncaught error, not abort: ${thrown[1]!.stderr.slice(-500)}`,
  );
  assert.match(thrown[1]!.stderr, /deliberate uncaught error/);
  assert.equal(thrown[0]!.signal, null);
});

test('ranks calling different collectives get a MISMATCH error naming both, not a hang', async () => {
  const outs = await runJob({ worldSize: 2, scenario: 'mismatch' });
  assert.equal(describeFailures(outs), '');
  const r1 = outs[1]!.result!;
  assert.equal(r1.outcome, 'MISMATCH', JSON.stringify(r1));
  assert.match(String(r1.error), /rank 0 sent broadcast #1 .* while rank 1 is in allReduce #1/);
});
