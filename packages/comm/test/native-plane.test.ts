// The native data plane (native/*.c) against the TypeScript Ring it ports: the same bits for
// every size class, wire compatibility with a TS rank over real sockets, the JS frame routing,
// and every failure path. In one process, planes joined over ipc:// and tcp://127.0.0.1.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Pull, Push } from 'zeromq';
import { commNative, commNativeWhy } from '../src/native.js';
import { Ring } from '../src/ring.js';
import {
  SESSION,
  SIZES,
  addon,
  bindAddress,
  nativeWorld,
  planeOptions,
  randomData,
  rejection,
  sameBits,
  sleep,
  tsRings,
  until,
} from './native-helpers.js';

const skip = commNative ? false : `native plane not built: ${commNativeWhy}`;
const MI = 1024 * 1024;

/** What the TS Ring gives for these inputs (in-memory links). */
async function reference(inputs: Float32Array[], mean: boolean): Promise<Float32Array[]> {
  const rings = tsRings(inputs.length);
  const outs = inputs.map((d) => d.slice());
  await Promise.all(rings.map((ring, r) => ring.handshake().then(() => ring.allReduce(1, outs[r]!, mean))));
  return outs;
}

for (const [world, transport] of [
  [2, 'ipc'],
  [3, 'tcp'],
  [4, 'ipc'],
] as const) {
  const lengths = [0, 1, 3, world - 1, 16383, 16384, 300_001, 4 * MI];
  test(
    `world ${world} over ${transport}: all-reduce sum and mean give the TS Ring's bits (lengths ${lengths.join(', ')})`,
    { skip },
    async () => {
      const N = addon();
      const w = await nativeWorld(world, transport);
      let seq = 0;
      try {
        for (const L of lengths)
          for (const mean of [false, true]) {
            const inputs = Array.from({ length: world }, (_, r) => randomData(L, 1 + r + L * 7 + (mean ? 99 : 0)));
            const want = await reference(inputs, mean);
            const got = inputs.map((d) => d.slice());
            seq++;
            await Promise.all(w.ids.map((id, r) => N.allReduce(id, seq, got[r]!, mean)));
            for (let r = 0; r < world; r++)
              assert.ok(sameBits(got[r]!, want[r]!), `rank ${r}, L=${L}, mean=${mean}: bits differ`);
          }
        assert.equal(N.collectives(w.ids[0]!), seq);
        assert.deepEqual(w.failures.flat(), []);
        assert.equal(N.stats(w.ids[0]!).dropped, 0);
      } finally {
        await w.close();
      }
    },
  );
}

/** A TS Ring on zeromq.js sockets as rank 1, the native plane as rank 0. */
async function mixedWorld(): Promise<{ id: number; ring: Ring; close: () => Promise<void> }> {
  const N = addon();
  const id = N.create(planeOptions(0, 2));
  const pull = new Pull({ receiveHighWaterMark: 32, linger: 0 });
  await pull.bind('tcp://127.0.0.1:*');
  const push = new Push({ sendHighWaterMark: 32, linger: 0 });
  push.connect(N.bind(id, bindAddress('ipc')));
  N.connect(id, pull.lastEndpoint!);
  const ring = new Ring(1, 2, SESSION, SIZES, pull, push);
  await Promise.all([
    N.start(
      id,
      SESSION,
      () => undefined,
      () => undefined,
    ),
    ring.handshake(),
  ]);
  const close = async (): Promise<void> => {
    ring.close();
    await N.close(id, 0);
    pull.close();
    push.close();
  };
  return { id, ring, close };
}

test(
  'a native rank and a TS rank over real sockets: same bits as the TS Ring, and a barrier across them',
  { skip },
  async () => {
    const N = addon();
    const { id, ring, close } = await mixedWorld();
    try {
      let seq = 0;
      for (const L of [1, 16384, 300_001, MI])
        for (const mean of [false, true]) {
          const inputs = [randomData(L, L + 1), randomData(L, L + 2)];
          const want = await reference(inputs, mean);
          const got = inputs.map((d) => d.slice());
          seq++;
          await Promise.all([N.allReduce(id, seq, got[0]!, mean), ring.allReduce(seq, got[1]!, mean)]);
          assert.ok(sameBits(got[0]!, want[0]!) && sameBits(got[1]!, want[1]!), `L=${L} mean=${mean}: bits differ`);
        }
      await Promise.all([N.barrier(id, ++seq), ring.allGather(seq, new Uint8Array(0), () => new Uint8Array(0))]);
      assert.equal(ring.collectives, seq);
    } finally {
      await close();
    }
  },
);

test('allReduceSync, a non-shared Float32Array and a subarray at an offset', { skip }, async () => {
  const N = addon();
  const w = await nativeWorld(2, 'tcp');
  try {
    const L = 300_001;
    const inputs = [randomData(L, 5), randomData(L, 6)];
    const want = await reference(inputs, true);
    const big = new Float32Array(L + 10).fill(7);
    big.set(inputs[0]!, 3);
    const sub = big.subarray(3, 3 + L);
    const other = inputs[1]!.slice();
    const peer = N.allReduce(w.ids[1]!, 1, other, true); // its thread runs while this one blocks
    N.allReduceSync(w.ids[0]!, 1, sub, true);
    await peer;
    assert.ok(sameBits(sub, want[0]!) && sameBits(other, want[1]!));
    assert.deepEqual([...big.subarray(0, 3), ...big.subarray(3 + L)], new Array<number>(10).fill(7));
  } finally {
    await w.close();
  }
});

const frameOf = (seq: number, index: number, text: string): [Uint8Array, Uint8Array] => {
  const h = Buffer.alloc(32);
  [SESSION, seq, 4, 0, index, 1, text.length, 0].forEach((v, i) => h.writeUInt32LE(v, i * 4));
  return [h, Buffer.from(text)];
};

test(
  'beginJs/endJs: frames of that seq reach onFrame in order; a later seq is held until its beginJs',
  { skip },
  async () => {
    const N = addon();
    const w = await nativeWorld(2, 'ipc');
    const [a, b] = w.ids as [number, number];
    const got = (): string[] =>
      w.frames[0]!.map(([h, p]) => `${h.readUInt32LE(4)}:${h.readUInt32LE(16)}:${p.toString()}`);
    try {
      // b's TS messages leave once b's thread has reached their collective: b is at #2.
      N.beginJs(b, 1);
      N.endJs(b, 1);
      N.beginJs(b, 2);
      for (const [seq, index, text] of [
        [2, 0, 'later'],
        [1, 0, 'first'],
        [1, 1, 'second'],
      ] as const)
        N.send(b, ...frameOf(seq, index, text));
      await until(() => N.stats(a).messagesReceived >= 4); // the Hello and our three
      await sleep(20);
      assert.deepEqual(got(), [], 'nothing is delivered before beginJs');
      N.beginJs(a, 1);
      await until(() => got().length === 2);
      assert.deepEqual(got(), ['1:0:first', '1:1:second']);
      N.endJs(a, 1);
      N.beginJs(a, 2);
      await until(() => got().length === 3);
      assert.equal(got()[2], '2:0:later');
      N.endJs(a, 2);
      N.endJs(b, 2);
      const d = [new Float32Array([1, 2]), new Float32Array([3, 4])];
      await Promise.all([N.allReduce(a, 3, d[0]!, false), N.allReduce(b, 3, d[1]!, false)]);
      assert.deepEqual([...d[0]!], [4, 6], 'a native op after JS ops');
      assert.equal(N.collectives(a), 3);
    } finally {
      await w.close();
    }
  },
);

test(
  'MISMATCH: allReduce against barrier, and buffers of different lengths, with the TS Ring texts',
  { skip },
  async () => {
    const N = addon();
    const w = await nativeWorld(2, 'ipc');
    try {
      const [e0, e1] = await Promise.all([
        rejection(N.allReduce(w.ids[0]!, 1, new Float32Array(4), false)),
        rejection(N.barrier(w.ids[1]!, 1)),
      ]);
      const order = 'every rank must call the same collectives in the same order';
      assert.equal(
        e0.message,
        `collective mismatch: rank 1 sent allGather/barrier #1 (step 0, segment 0) while rank 0 is in allReduce #1 (step 0, segment 0); ${order}`,
      );
      assert.equal(
        e1.message,
        `collective mismatch: rank 0 sent allReduce (small) #1 (step 0, segment 0) while rank 1 is in barrier #1 (step 0, segment 0); ${order}`,
      );
      assert.deepEqual([e0.code, e0.peerRank, e1.code, e1.peerRank], ['MISMATCH', 1, 'MISMATCH', 0]);
      await until(() => w.failures.every((f) => f.length === 1));
      assert.equal(w.failures[0]![0]!.message, e0.message, 'onFailure gets the same error');
      const later = await rejection(N.barrier(w.ids[0]!, 2));
      assert.equal(later.message, e0.message, 'a failed plane rejects later ops at once');
    } finally {
      await w.close();
    }
    for (const lengths of [
      [4, 5],
      [300_001, 300_005],
    ]) {
      const rings = tsRings(2);
      // Rank 0 receives rank 1's longer chunk; rank 1 (same chunk 0 on both) then waits forever.
      const runs = rings.map((ring, r) => rejection(ring.allReduce(1, new Float32Array(lengths[r]!), false)));
      runs[1]!.catch(() => undefined);
      const want = await runs[0]!;
      const v = await nativeWorld(2, 'tcp');
      try {
        const got = v.ids.map((id, r) => rejection(N.allReduce(id, 1, new Float32Array(lengths[r]!), false)));
        got[1]!.catch(() => undefined);
        const e = await got[0]!;
        assert.equal(e.message, want.message);
        assert.match(
          e.message,
          /^allReduce: received \d+ bytes where rank 0 expected \d+; every rank must pass buffers of the same length$/,
        );
        assert.deepEqual([e.code, e.peerRank], ['MISMATCH', -1]);
      } finally {
        await v.close();
      }
    }
  },
);

test('fail() rejects the running and the queued ops, and later ones at once, without onFailure', { skip }, async () => {
  const N = addon();
  const w = await nativeWorld(2, 'ipc');
  try {
    const a = w.ids[0]!;
    const running = rejection(N.allReduce(a, 1, new Float32Array(300_001), false)); // rank 1 never joins
    const queued = rejection(N.barrier(a, 2));
    await sleep(20);
    N.fail(a, 'PEER_DEAD', 'rank 1 stopped heartbeating', 1);
    for (const e of [await running, await queued, await rejection(N.allReduce(a, 3, new Float32Array(1), false))])
      assert.deepEqual([e.code, e.message, e.peerRank], ['PEER_DEAD', 'rank 1 stopped heartbeating', 1]);
    assert.deepEqual(w.failures[0], []);
  } finally {
    await w.close();
  }
});

test('timeoutMs fails the plane with the TIMEOUT text and calls onFailure once', { skip }, async () => {
  const N = addon();
  const w = await nativeWorld(2, 'tcp', { timeoutMs: 300 });
  try {
    const started = Date.now();
    const e = await rejection(N.barrier(w.ids[0]!, 1));
    assert.ok(Date.now() - started >= 250, 'not before the deadline');
    assert.deepEqual(
      [e.code, e.message],
      ['TIMEOUT', 'barrier did not complete within timeoutMs=300; the process group is unusable now'],
    );
    await until(() => w.failures[0]!.length === 1);
    assert.equal(w.failures[0]![0]!.code, 'TIMEOUT');
  } finally {
    await w.close();
  }
});

test('peerLeft: a later op rejects without failing the plane; a running one fails it', { skip }, async () => {
  const N = addon();
  const w = await nativeWorld(2, 'ipc');
  try {
    const [a, b] = w.ids as [number, number];
    N.peerLeft(a, 1, 1);
    const d = [new Float32Array([1]), new Float32Array([2])];
    await Promise.all([N.allReduce(a, 1, d[0]!, false), N.allReduce(b, 1, d[1]!, false)]);
    assert.equal(d[0]![0], 3, 'collective #1 still completes');
    const e = await rejection(N.allReduce(a, 2, d[0]!, false));
    assert.deepEqual([e.code, e.peerRank], ['PEER_DEAD', 1]);
    assert.equal(
      e.message,
      "rank 1 left the process group (destroy()) after 1 collectives; this rank's collective #2 (allReduce) needs it",
    );
    N.beginJs(a, 2); // the plane is not failed
    N.endJs(a, 2);
    const running = rejection(N.allReduce(b, 2, d[1]!, false));
    await sleep(20);
    N.peerLeft(b, 0, 1);
    const r = await running;
    assert.equal(
      r.message,
      "rank 0 left the process group (destroy()) after 1 collectives; this rank's collective #2 (allReduce) needs it",
    );
    assert.equal((await rejection(N.barrier(b, 3))).message, r.message, 'the plane failed');
  } finally {
    await w.close();
  }
});

test('close() rejects a pending op DESTROYED and returns; every later call throws DESTROYED', { skip }, async () => {
  const N = addon();
  const w = await nativeWorld(2, 'tcp');
  const a = w.ids[0]!;
  const pending = rejection(N.allReduce(a, 1, new Float32Array(300_001), true));
  await sleep(20);
  await N.close(a, 50);
  const e = await pending;
  assert.deepEqual([e.code, e.message], ['DESTROYED', 'the process group was destroyed']);
  assert.throws(() => N.collectives(a), { code: 'DESTROYED' });
  assert.throws(() => N.send(a, new Uint8Array(32), new Uint8Array(0)), { code: 'DESTROYED' });
  N.closeSync(w.ids[1]!, 0);
  assert.throws(() => N.stats(w.ids[1]!), { code: 'DESTROYED' });
});

const here = path.dirname(fileURLToPath(import.meta.url));

test('planes never closed leave no thread behind: the process exits by itself', { skip }, () => {
  const script = `import { nativeWorld, addon } from ${JSON.stringify(path.join(here, 'native-helpers.js'))};
    const w = await nativeWorld(2, 'ipc');
    const d = [new Float32Array(100000).fill(1), new Float32Array(100000).fill(2)];
    await Promise.all(w.ids.map((id, r) => addon().allReduce(id, 1, d[r], false)));
    console.log('done', d[0][0]);`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), 'done 3');
});

test('the module reports why it is off: YOLO_COMM_NATIVE=0, and a missing .node', () => {
  const src = path.join(here, '..', 'src', 'native.js');
  // A copy two levels below dist/ looks for dist/native/build/, which the build never makes.
  const absent = fs.mkdtempSync(path.join(here, '..', 'native-absent-'));
  fs.mkdirSync(path.join(absent, 'src'));
  fs.copyFileSync(src, path.join(absent, 'src', 'native.js'));
  const probe = (file: string, env: NodeJS.ProcessEnv): [boolean, string] => {
    const script = `const m = await import(${JSON.stringify(file)}); console.log(JSON.stringify([m.commNative === null, m.commNativeWhy]));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env });
    assert.equal(run.status, 0, run.stderr);
    return JSON.parse(run.stdout) as [boolean, string];
  };
  try {
    assert.deepEqual(probe(src, { ...process.env, YOLO_COMM_NATIVE: '0' }), [true, 'YOLO_COMM_NATIVE=0']);
    const [off, why] = probe(path.join(absent, 'src', 'native.js'), { ...process.env, YOLO_COMM_NATIVE: '1' });
    assert.ok(off && /^not built \(.*yolo_comm_native\.node missing/.test(why), why);
  } finally {
    fs.rmSync(absent, { recursive: true, force: true });
  }
});
