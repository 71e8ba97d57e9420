import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '@yolo-launch/backend';
import type { ProcessGroup } from '@yolo-launch/comm';
import {
  DistributedDataParallel,
  ReplicaMismatchError,
  fingerprint,
  rankZeroFirst,
  syncBuffers,
} from '../src/index.js';
import { createFakeWorld } from './fake-group.js';

before(async () => {
  await initBackend({ backend: 'cpu' });
});

let uid = 0;
/** One rank's tiny "model": three variables, initialised differently per rank. */
function makeVars(rank: number) {
  const id = uid++;
  const v = (name: string, shape: number[], seed: number) =>
    tf.variable(tf.randomNormal(shape, 0, 1, 'float32', seed + 100 * rank), true, `m${id}/${name}`);
  return [v('w0', [3, 3, 2, 4], 1), v('b0', [4], 2), v('w1', [5, 4], 3)];
}

async function onAllRanks<T>(groups: ProcessGroup[], fn: (pg: ProcessGroup) => Promise<T>): Promise<T[]> {
  return Promise.all(groups.map(fn));
}

test('construction broadcasts rank 0 parameters and buffers; replicas check passes', async () => {
  const { groups } = createFakeWorld(3);
  const vars = groups.map((pg) => makeVars(pg.rank));
  const bufs = groups.map((pg) => [tf.variable(tf.fill([4], pg.rank + 1), false, `bn${uid++}/running_mean`)]);
  const rank0 = vars[0]!.map((v) => fingerprint(v.dataSync() as Float32Array));
  await onAllRanks(groups, (pg) => DistributedDataParallel.create(pg, vars[pg.rank]!, { buffers: bufs[pg.rank] }));
  for (const vs of vars)
    assert.deepEqual(
      vs.map((v) => fingerprint(v.dataSync() as Float32Array)),
      rank0,
    );
  for (const b of bufs) assert.deepEqual([...b[0]!.dataSync()], [1, 1, 1, 1]);
});

test('construction refuses ranks with different models', async () => {
  const { groups } = createFakeWorld(2);
  const vars = groups.map((pg) => makeVars(pg.rank));
  vars[1]!.pop();
  const results = await Promise.allSettled(groups.map((pg) => DistributedDataParallel.create(pg, vars[pg.rank]!)));
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.match(
      String((r as PromiseRejectedResult).reason),
      /rank 1 holds a different model than rank 0: 2 vs 3 variables/,
    );
  }
});

test('construction refuses ranks with different bucket options', async () => {
  const { groups } = createFakeWorld(2);
  const vars = groups.map((pg) => makeVars(pg.rank));
  const results = await Promise.allSettled(
    groups.map((pg) =>
      DistributedDataParallel.create(
        pg,
        vars[pg.rank]!,
        pg.rank === 0 ? {} : { bucketCapMb: 100 / 2 ** 20, firstBucketCapMb: 20 / 2 ** 20 },
      ),
    ),
  );
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.match(String((r as PromiseRejectedResult).reason), /rank 1 planned different gradient buckets than rank 0/);
  }
});

for (const transfer of ['host', 'device'] as const) {
  test(`reduceGradients averages over ranks in tiny buckets (${transfer} transfer), missing gradients count as zero`, async () => {
    const { groups } = createFakeWorld(2);
    const vars = groups.map((pg) => makeVars(pg.rank));
    const ddps = await onAllRanks(groups, (pg) =>
      DistributedDataParallel.create(pg, vars[pg.rank]!, {
        bucketCapMb: 100 / 2 ** 20,
        firstBucketCapMb: 20 / 2 ** 20,
        transfer,
      }),
    );
    assert.ok(ddps[0]!.buckets.length >= 2);
    const grads = groups.map((pg) => {
      const vs = vars[pg.rank]!;
      const g: tf.NamedTensorMap = {};
      vs.forEach((v, i) => {
        if (!(pg.rank === 1 && i === 1)) g[v.name] = tf.fill(v.shape, (pg.rank + 1) * (i + 1));
      });
      return g;
    });
    const reduced = await onAllRanks(groups, (pg) => ddps[pg.rank]!.reduceGradients(grads[pg.rank]!));
    for (const pg of groups) {
      const out = reduced[pg.rank]!;
      assert.ok(out);
      const vs = vars[pg.rank]!;
      // mean of (1*(i+1), 2*(i+1)) = 1.5 (i+1); param 1 missing on rank 1: (2 + 0) / 2
      assert.deepEqual([...new Set(out[vs[0]!.name]!.dataSync())], [1.5]);
      assert.deepEqual([...new Set(out[vs[1]!.name]!.dataSync())], [1]);
      assert.deepEqual([...new Set(out[vs[2]!.name]!.dataSync())], [4.5]);
      assert.deepEqual(out[vs[0]!.name]!.shape, vs[0]!.shape);
      assert.ok(ddps[pg.rank]!.lastTimings!.buckets >= 2);
    }
    tf.dispose(reduced.flatMap((r) => Object.values(r!)));
    tf.dispose(grads.flatMap((g) => Object.values(g)));
  });
}

test('noSync accumulates locally; the next synchronised call averages the sum', async () => {
  const { groups } = createFakeWorld(2);
  const vars = groups.map((pg) => makeVars(pg.rank));
  const ddps = await onAllRanks(groups, (pg) => DistributedDataParallel.create(pg, vars[pg.rank]!));
  const results = await onAllRanks(groups, async (pg) => {
    const ddp = ddps[pg.rank]!;
    const name = vars[pg.rank]![2]!.name;
    const mk = (k: number) => ({ [name]: tf.fill([5, 4], k * (pg.rank + 1)) });
    const inside = await ddp.noSync(async () => {
      assert.ok(ddp.isSyncDisabled);
      const a = await ddp.reduceGradients(mk(1));
      const b = await ddp.reduceGradients(mk(2));
      return [a, b];
    });
    assert.deepEqual(inside, [null, null]);
    assert.ok(!ddp.isSyncDisabled);
    const out = (await ddp.reduceGradients(mk(3)))!;
    // rank r contributed (1+2+3)(r+1); mean over r in {0,1}: 6 * 1.5 = 9
    const v = [...new Set(out[name]!.dataSync())];
    const second = (await ddp.reduceGradients(mk(1)))!; // accumulator was cleared
    return { v, second: [...new Set(second[name]!.dataSync())] };
  });
  for (const r of results) {
    assert.deepEqual(r.v, [9]);
    assert.deepEqual(r.second, [1.5]);
  }
});

test('reduceGradients refuses gradients of variables it does not manage', async () => {
  const { groups } = createFakeWorld(1);
  const ddp = await DistributedDataParallel.create(groups[0]!, makeVars(0));
  await assert.rejects(ddp.reduceGradients({ stranger: tf.zeros([1]) }), /not a parameter/);
});

test('step() applies the averaged gradient and the debug check catches diverged replicas', async () => {
  const { groups } = createFakeWorld(2);
  const vars = groups.map((pg) => makeVars(pg.rank));
  const ddps = await onAllRanks(groups, (pg) =>
    DistributedDataParallel.create(pg, vars[pg.rank]!, { checkReplicasEveryStep: true }),
  );
  const opts = groups.map(() => tf.train.sgd(0.1));
  await onAllRanks(groups, async (pg) => {
    const g = Object.fromEntries(vars[pg.rank]!.map((v) => [v.name, tf.onesLike(v)]));
    assert.equal(await ddps[pg.rank]!.step(opts[pg.rank]!, g), true);
  });
  // now corrupt rank 1's second variable
  vars[1]![1]!.assign(tf.add(vars[1]![1]!, 1e-3));
  const settled = await Promise.allSettled(
    groups.map(async (pg) => {
      const g = Object.fromEntries(vars[pg.rank]!.map((v) => [v.name, tf.onesLike(v)]));
      await ddps[pg.rank]!.step(opts[pg.rank]!, g);
    }),
  );
  for (const s of settled) {
    assert.equal(s.status, 'rejected');
    const err = (s as PromiseRejectedResult).reason;
    assert.ok(err instanceof ReplicaMismatchError);
    assert.match(err.message, /rank 1: 1 differ \(m\d+\/b0\)/);
  }
});

test('a peer failure during reduceGradients rejects with the group error', async () => {
  const world = createFakeWorld(2);
  const vars = world.groups.map((pg) => makeVars(pg.rank));
  const ddp0 = (await onAllRanks(world.groups, (pg) => DistributedDataParallel.create(pg, vars[pg.rank]!)))[0]!;
  const g = Object.fromEntries(vars[0]!.map((v) => [v.name, tf.onesLike(v)]));
  const p = ddp0.reduceGradients(g);
  setTimeout(() => world.kill(1), 10);
  await assert.rejects(p, /rank 1 died/);
});

test('syncBuffers: broadcast from rank 0 by default, or the average', async () => {
  const { groups } = createFakeWorld(2);
  const bufs = groups.map((pg) => [
    tf.variable(tf.fill([3], pg.rank * 2 + 1), false, `rb${uid++}`),
    tf.variable(tf.fill([1], pg.rank + 7, 'int32'), false, `rb${uid++}`),
  ]);
  await onAllRanks(groups, (pg) => syncBuffers(pg, bufs[pg.rank]!, 'average'));
  for (const b of bufs) {
    assert.deepEqual([...b[0]!.dataSync()], [2, 2, 2]);
    assert.deepEqual([...b[1]!.dataSync()], [7]);
  }
  bufs[1]![0]!.assign(tf.fill([3], 5));
  await onAllRanks(groups, (pg) => syncBuffers(pg, bufs[pg.rank]!));
  assert.deepEqual([...bufs[1]![0]!.dataSync()], [2, 2, 2]);
});

test('rankZeroFirst: local rank 0 finishes before the others start, results returned', async () => {
  const { groups } = createFakeWorld(3);
  const log: string[] = [];
  const results = await onAllRanks(groups, (pg) =>
    rankZeroFirst(
      pg,
      async () => {
        log.push(`start ${pg.rank}`);
        await new Promise((r) => setTimeout(r, pg.rank === 0 ? 30 : 1));
        log.push(`end ${pg.rank}`);
        return pg.rank * 10;
      },
      { localRank: pg.rank },
    ),
  );
  assert.deepEqual(results, [0, 10, 20]);
  assert.deepEqual(log.slice(0, 2), ['start 0', 'end 0']);
  // a failure on local rank 0 does not hang the others
  const w2 = createFakeWorld(2);
  const settled = await Promise.allSettled(
    w2.groups.map((pg) =>
      rankZeroFirst(
        pg,
        () => {
          if (pg.rank === 0) throw new Error('cache build failed');
          return 'ok';
        },
        { localRank: pg.rank },
      ),
    ),
  );
  assert.equal(settled[0]!.status, 'rejected');
  assert.deepEqual(settled[1], { status: 'fulfilled', value: 'ok' });
});

test('reduceGradientsToHost gives the same averages as host arrays (world 2 and world 1)', async () => {
  const { groups } = createFakeWorld(2);
  const vars = groups.map((pg) => makeVars(pg.rank));
  const ddps = await onAllRanks(groups, (pg) =>
    DistributedDataParallel.create(pg, vars[pg.rank]!, { bucketCapMb: 100 / 2 ** 20, firstBucketCapMb: 20 / 2 ** 20 }),
  );
  const outs = await onAllRanks(groups, async (pg) => {
    const vs = vars[pg.rank]!;
    const g = Object.fromEntries(vs.map((v, i) => [v.name, tf.fill(v.shape, (pg.rank + 1) * (i + 1))]));
    const inside = await ddps[pg.rank]!.noSync(() => ddps[pg.rank]!.reduceGradientsToHost(g));
    assert.equal(inside, null);
    const host = (await ddps[pg.rank]!.reduceGradientsToHost(g))!;
    tf.dispose(Object.values(g));
    return vs.map((v) => {
      assert.equal(host[v.name]!.length, v.size);
      return [...new Set(host[v.name]!)];
    });
  });
  // twice the gradient (once accumulated under noSync), mean over ranks: 2 * 1.5 (i + 1)
  for (const o of outs) assert.deepEqual(o, [[3], [6], [9]]);
  const solo = createFakeWorld(1).groups[0]!;
  const v1 = makeVars(0);
  const d1 = await DistributedDataParallel.create(solo, v1);
  const h1 = (await d1.reduceGradientsToHost({ [v1[0]!.name]: tf.fill(v1[0]!.shape, 2) }))!;
  assert.deepEqual([...new Set(h1[v1[0]!.name]!)], [2]);
  assert.deepEqual([...new Set(h1[v1[1]!.name]!)], [0]);
});

test('no tensor leaks across reduce, noSync accumulation, step and the replica check', async () => {
  const { groups } = createFakeWorld(2);
  const vars = groups.map((pg) => makeVars(pg.rank));
  const ddps = await onAllRanks(groups, (pg) =>
    DistributedDataParallel.create(pg, vars[pg.rank]!, {
      checkReplicasEveryStep: true,
      transfer: pg.rank === 0 ? 'host' : 'device',
    }),
  );
  const opts = groups.map(() => tf.train.momentum(0.01, 0.9));
  const round = () =>
    onAllRanks(groups, async (pg) => {
      const ddp = ddps[pg.rank]!;
      for (let m = 0; m < 3; m++) {
        const g = Object.fromEntries(vars[pg.rank]!.map((v) => [v.name, tf.onesLike(v)]));
        if (m < 2) await ddp.noSync(() => ddp.reduceGradients(g));
        else await ddp.step(opts[pg.rank]!, g);
        tf.dispose(Object.values(g));
      }
    });
  await round(); // the optimizer creates its slots on the first step
  const before = tf.memory().numTensors;
  await round();
  await round();
  assert.equal(tf.memory().numTensors, before);
});

/** `pg` with every allReduce's element count recorded when it is issued. */
function countingAllReduces(pg: ProcessGroup): { pg: ProcessGroup; issued: number[] } {
  const issued: number[] = [];
  const wrapped = new Proxy(pg, {
    get(target, key) {
      if (key === 'allReduce')
        return (buf: Float32Array, options?: Parameters<ProcessGroup['allReduce']>[1]) => {
          issued.push(buf.length);
          return target.allReduce(buf, options);
        };
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { pg: wrapped, issued };
}

test('overlapped reduction: each bucket is issued as soon as it is complete, in plan order; only the last (first layers) waits for the end', async () => {
  const { groups } = createFakeWorld(2);
  const counted = groups.map(countingAllReduces);
  const B = 1 / 2 ** 20; // one byte in MiB
  const id = uid++;
  const outs = await onAllRanks(
    counted.map((c) => c.pg),
    async (pg) => {
      const { issued } = counted[pg.rank]!;
      const vs = [8, 64, 64, 8].map((n, i) => tf.variable(tf.zeros([n]), true, `ov${id}-${pg.rank}/p${i}`));
      // buckets [p3], [p2], [p1], [p0]: the last one holds the first parameter (32 B <= 64 B)
      const ddp = await DistributedDataParallel.create(pg, vs, {
        bucketCapMb: 256 * B,
        firstBucketCapMb: 256 * B,
        lastBucketCapMb: 64 * B,
      });
      const plan = ddp.buckets.map((b) => b.entries.map((e) => e.index));
      const grads = vs.map((v, i) => tf.fill(v.shape, (pg.rank + 1) * (i + 1)));
      const counts: number[][] = [];
      const values: number[][][] = [];
      // as a backward hands them over (last layer first), then p1 before p2 (p1's bucket must wait)
      for (const order of [
        [3, 2, 1],
        [3, 1, 2],
      ]) {
        const hook = ddp.beginOverlappedReduction()!;
        const start = issued.length;
        const seen: number[] = [];
        for (const i of order) {
          hook(vs[i]!.name, grads[i]!);
          seen.push(issued.length - start);
        }
        const reduced = (await ddp.reduceGradients({ [vs[0]!.name]: grads[0]! }))!; // p0 at the end
        seen.push(issued.length - start);
        counts.push(seen);
        values.push(vs.map((v) => [...new Set(reduced[v.name]!.dataSync())]));
        tf.dispose(Object.values(reduced));
      }
      tf.dispose([...grads, ...vs]);
      return { plan, counts, values, issued: [...issued] };
    },
  );
  for (const o of outs) {
    assert.deepEqual(o.plan, [[3], [2], [1], [0]]);
    assert.deepEqual(o.counts, [
      [1, 2, 3, 4],
      [1, 1, 3, 4],
    ]);
    assert.deepEqual(o.issued, [8, 64, 64, 8, 8, 64, 64, 8]);
    // mean over ranks of (rank + 1)(i + 1): 1.5 (i + 1)
    for (const v of o.values) assert.deepEqual(v, [[1.5], [3], [4.5], [6]]);
  }
});
