// Correctness of every collective across real processes, world sizes 1-6.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeFailures, runJob } from './harness.js';

const LENGTHS = '0,1,7,1000,1000003';

for (const worldSize of [1, 2, 3, 4, 5, 6]) {
  test(`world ${worldSize}: all-reduce (sum, mean, sync) of lengths ${LENGTHS} matches float64 and is identical on every rank; broadcast, allGather, barrier, objects, store`, async () => {
    const outs = await runJob({ worldSize, scenario: 'basic', args: [LENGTHS], timeoutMs: 120_000 });
    assert.equal(describeFailures(outs), '');
    const first = outs[0]!.result!.hashes as Record<string, string>;
    assert.ok(Object.keys(first).length >= 10);
    for (const o of outs)
      assert.deepEqual(o.result!.hashes, first, `rank ${o.rank} differs from rank 0 (bit-identical results expected)`);
  });
}

test('world 3 over tcp on YOLO_SOCKET_IFNAME=lo with 4 KiB segments gives the same bits as over ipc', async () => {
  const [ipc, tcp] = [
    await runJob({ worldSize: 3, scenario: 'basic', args: ['1000,65537'] }),
    await runJob({
      worldSize: 3,
      scenario: 'basic',
      args: ['1000,65537'],
      env: { YOLO_COMM_TRANSPORT: 'tcp', YOLO_COMM_SEGMENT_BYTES: '4096', YOLO_SOCKET_IFNAME: 'lo' },
    }),
  ];
  assert.equal(describeFailures(ipc) + describeFailures(tcp), '');
  assert.equal(ipc[0]!.result!.transport, 'ipc');
  assert.equal(tcp[0]!.result!.transport, 'tcp');
  assert.deepEqual(tcp[1]!.result!.hashes, ipc[1]!.result!.hashes);
});

for (const worldSize of [2, 3]) {
  test(`world ${worldSize}: a buffer overwritten the moment its all-reduce returns corrupts no peer's result (64 KiB to 1 MiB segments, shared and plain buffers)`, async () => {
    const outs = await runJob({
      worldSize,
      scenario: 'reuse',
      args: ['70001,300001,2000003'],
      env: { YOLO_COMM_SEGMENT_BYTES: '1048576', YOLO_COMM_MIN_SEGMENT: '65536' },
      timeoutMs: 180_000,
    });
    assert.equal(describeFailures(outs), '');
    for (const o of outs)
      assert.deepEqual(o.result!.hashes, outs[0]!.result!.hashes, `rank ${o.rank} differs from rank 0`);
  });
}

for (const worldSize of [2, 3]) {
  test(`world ${worldSize}: all-reduce with fp16 and bf16 on the wire: within 16-bit rounding, identical on every rank`, async () => {
    const outs = await runJob({
      worldSize,
      scenario: 'compressed',
      args: ['1,7,1000,300001'],
      env: { YOLO_COMM_SEGMENT_BYTES: '65536', YOLO_COMM_MIN_SEGMENT: '65536' },
    });
    assert.equal(describeFailures(outs), '');
    for (const o of outs)
      assert.deepEqual(o.result!.hashes, outs[0]!.result!.hashes, `rank ${o.rank} differs from rank 0`);
  });
}

test('allReduceSync inside a tfjs customGrad gradient function', async () => {
  const outs = await runJob({ worldSize: 2, scenario: 'tfjs' });
  assert.equal(describeFailures(outs), '');
  // x_r = [r+1, 2(r+1), 3]; local gradient 2x; mean over the two ranks.
  for (const o of outs) assert.deepEqual(o.result!.grad, [3, 6, 6]);
});
