/**
 * One rank of the DDP benchmark (spawned by ddp-bench.ts with comm's environment). For each
 * YOLOv5 gradient it times, barrier-synchronised and round-robin (one iteration of every path
 * in turn, so that load from other processes hits all paths alike):
 *   raw        pg.allReduce of one flat shared-memory Float32Array of the whole gradient
 *              (comm alone, on its zero-copy path)
 *   ddp ...    DistributedDataParallel.reduceGradients on the real YOLOv5 tensor list (read
 *              to host, all-reduce bucket by bucket with overlap, tensors back), per bucket
 *              configuration
 *   copy only  the same reduceGradients over a pass-through group whose all-reduce returns at
 *              once: the DDP layer's own host-side cost with nothing to hide it behind
 * Each iteration's time is the max over ranks; medians and p90 over iterations. Writes
 * { rank, rows } to DDP_TEST_OUT.
 */
import { writeFileSync } from 'node:fs';
import { tf, initBackend } from '@yolo-launch/backend';
import { initProcessGroup, sharedFloat32Array, type ProcessGroup } from '@yolo-launch/comm';
import {
  DistributedDataParallel,
  localMoments,
  syncBatchNormMoments,
  type DistributedDataParallelOptions,
  type MomentsFn,
} from '../../src/index.js';
import { countParams, yolov5Shapes } from './yolov5-shapes.js';

const ITERS = Number(process.env.BENCH_ITERS ?? 20);
const WARMUP = 3;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))]!;

/** A group whose collectives do nothing: measures DDP's own cost. */
function passThrough(pg: ProcessGroup): ProcessGroup {
  return {
    rank: pg.rank,
    worldSize: pg.worldSize,
    allReduce: async (b) => b,
    allReduceSync: (b) => b,
    broadcast: async (b) => b,
    allGather: async (b) => b,
    barrier: async () => undefined,
    broadcastObject: async (v) => v,
    allGatherObject: async (v) => [v],
    destroy: async () => undefined,
  };
}

/**
 * SyncBatchNorm's communication cost per training step: every BN layer of YOLOv5n (57) runs
 * its moments forward and backward on a tiny input (compute negligible), with the synchronised
 * and with the local moments function; the difference is the 2 x 57 blocking all-reduces.
 */
async function benchSyncBn(pg: ProcessGroup): Promise<Record<string, unknown>> {
  const channels = yolov5Shapes('n')
    .filter((p) => p.name.endsWith('.bn.weight'))
    .map((p) => p.shape[0]!);
  const xs = channels.map((c, i) => tf.randomNormal([2, 4, 4, c], 0, 1, 'float32', i + 1) as tf.Tensor4D);
  const runAll = (fn: MomentsFn) => {
    for (const x of xs) {
      const g = tf.grad((xx: tf.Tensor) => {
        const m = fn(xx as tf.Tensor4D);
        return tf.add(tf.sum(m.mean), tf.sum(m.variance));
      })(x);
      g.dispose();
    }
  };
  const sync = syncBatchNormMoments(pg);
  const times: number[][] = [[], []];
  for (let it = 0; it < WARMUP + ITERS; it++) {
    for (const [k, fn] of [localMoments, sync].entries()) {
      await pg.barrier();
      const t0 = performance.now();
      runAll(fn);
      if (it >= WARMUP) times[k]!.push(performance.now() - t0);
    }
  }
  tf.dispose(xs);
  const all = await pg.allGatherObject(times);
  const worst = times.map((ts, k) => ts.map((_, i) => Math.max(...all.map((r) => r[k]![i]!))));
  return {
    layers: channels.length,
    collectivesPerStep: 2 * channels.length,
    localMs: median(worst[0]!),
    syncMs: median(worst[1]!),
    overheadMs: median(worst[1]!.map((x, i) => x - worst[0]![i]!)),
  };
}

async function main(): Promise<void> {
  const backend = (process.env.YOLO_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm';
  await initBackend({ backend });
  const pg = await initProcessGroup();
  const rows: Record<string, unknown>[] = [];
  for (const variant of ['n', 's'] as const) {
    const shapes = yolov5Shapes(variant);
    const n = countParams(shapes);
    const params = shapes.map((p) => tf.variable(tf.zeros(p.shape), true, `${variant}.${p.name}`));
    const grads: tf.NamedTensorMap = Object.fromEntries(
      params.map((v, i) => [v.name, tf.randomUniform(v.shape, -1, 1, 'float32', 1 + i + 1000 * pg.rank)]),
    );
    const flat = sharedFloat32Array(n).fill(1);
    const configs: Array<[string, DistributedDataParallelOptions, ProcessGroup]> = [
      ['ddp (25 MiB buckets, first 1 MiB)', {}, pg],
      ['ddp, one bucket', { bucketCapMb: 1024, firstBucketCapMb: 1024 }, pg],
      ['ddp, 4 MiB buckets', { bucketCapMb: 4, firstBucketCapMb: 1 }, pg],
      ['copy only (no comm, default buckets)', {}, passThrough(pg)],
    ];
    // concat/slice on the device is the GPU path; on wasm tfjs's concat and slice of ~180
    // tensors take about a second, so it is measured only on request
    if (process.env.BENCH_DEVICE === '1') configs.push(['ddp, device transfer', { transfer: 'device' }, pg]);
    const ddps: DistributedDataParallel[] = [];
    for (const [, opts, group] of configs) ddps.push(await DistributedDataParallel.create(group, params, opts));
    const paths: Array<() => Promise<void>> = [
      async () => {
        await pg.allReduce(flat, { op: 'mean' });
      },
      ...ddps.map((ddp) => async () => {
        const out = await ddp.reduceGradients(grads);
        tf.dispose(Object.values(out!));
      }),
    ];
    const times: number[][] = paths.map(() => []);
    const waits: number[][] = ddps.map(() => []);
    const dls: number[][] = ddps.map(() => []);
    const ups: number[][] = ddps.map(() => []);
    for (let it = 0; it < WARMUP + ITERS; it++) {
      for (let p = 0; p < paths.length; p++) {
        await pg.barrier();
        const t0 = performance.now();
        await paths[p]!();
        const dt = performance.now() - t0;
        if (it >= WARMUP) {
          times[p]!.push(dt);
          if (p > 0) {
            const lt = ddps[p - 1]!.lastTimings!;
            waits[p - 1]!.push(lt.allReduceWait);
            dls[p - 1]!.push(lt.download);
            ups[p - 1]!.push(lt.upload);
          }
        }
      }
    }
    // per-iteration max over ranks: a collective is as slow as its slowest rank
    const all = await pg.allGatherObject(times);
    const worst = times.map((ts, p) => ts.map((_, i) => Math.max(...all.map((r) => r[p]![i]!))));
    const raw = worst[0]!;
    rows.push({
      model: `yolov5${variant}`,
      params: n,
      tensors: shapes.length,
      megabytes: +((n * 4) / 1e6).toFixed(2),
      world: pg.worldSize,
      backend,
      rawAllReduceMs: { median: median(raw), p90: p90(raw) },
      ddp: configs.map(([label], k) => {
        const t = worst[k + 1]!;
        return {
          config: label,
          buckets: ddps[k]!.buckets.length,
          ms: { median: median(t), p90: p90(t) },
          // paired: each iteration's DDP time minus the raw all-reduce of the same round
          overheadMs: median(t.map((x, i) => x - raw[i]!)),
          allReduceWaitMs: median(waits[k]!),
          downloadMs: median(dls[k]!),
          uploadMs: median(ups[k]!),
        };
      }),
    });
    ddps.forEach((d) => d.dispose());
    tf.dispose([...params, ...Object.values(grads)]);
  }
  const syncBn = await benchSyncBn(pg);
  writeFileSync(process.env.DDP_TEST_OUT!, JSON.stringify({ rank: pg.rank, rows, syncBn }));
  await pg.destroy();
}

if (process.env.DDP_TEST_OUT) {
  main().catch((err) => {
    console.error(err);
    process.exit(3);
  });
}
