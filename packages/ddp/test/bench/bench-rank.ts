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
import { initProcessGroup, type ProcessGroup } from '@yolo-launch/comm';
import { DistributedDataParallel, type DistributedDataParallelOptions } from '../../src/index.js';
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
    const flat = new Float32Array(new SharedArrayBuffer(n * 4)).fill(1);
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
    for (let it = 0; it < WARMUP + ITERS; it++) {
      for (let p = 0; p < paths.length; p++) {
        await pg.barrier();
        const t0 = performance.now();
        await paths[p]!();
        const dt = performance.now() - t0;
        if (it >= WARMUP) {
          times[p]!.push(dt);
          if (p > 0) waits[p - 1]!.push(ddps[p - 1]!.lastTimings!.allReduceWait);
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
        };
      }),
    });
    ddps.forEach((d) => d.dispose());
    tf.dispose([...params, ...Object.values(grads)]);
  }
  writeFileSync(process.env.DDP_TEST_OUT!, JSON.stringify({ rank: pg.rank, rows }));
  await pg.destroy();
}

if (process.env.DDP_TEST_OUT) {
  main().catch((err) => {
    console.error(err);
    process.exit(3);
  });
}
