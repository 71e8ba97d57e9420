/**
 * One rank of the DDP benchmark (spawned by ddp-bench.ts with comm's environment). For each
 * gradient size it times, barrier-synchronised, median over iterations:
 *   raw   pg.allReduce of one flat Float32Array of the whole gradient (what comm alone costs)
 *   ddp   DistributedDataParallel.reduceGradients on the real YOLOv5 tensor list (buckets of
 *         25 MiB, first 1 MiB; read to host, all-reduce, tensors back), per configuration
 * and writes { rows } to DDP_TEST_OUT. Times are the max over ranks of each iteration.
 */
import { writeFileSync } from 'node:fs';
import { tf, initBackend } from '@yolo-launch/backend';
import { initProcessGroup, type ProcessGroup } from '@yolo-launch/comm';
import { DistributedDataParallel, type DistributedDataParallelOptions } from '../../src/index.js';
import { countParams, yolov5Shapes } from './yolov5-shapes.js';

const ITERS = Number(process.env.BENCH_ITERS ?? 15);
const WARMUP = 3;

async function timeIt(pg: ProcessGroup, fn: () => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < WARMUP + ITERS; i++) {
    await pg.barrier();
    const t0 = performance.now();
    await fn();
    const dt = performance.now() - t0;
    if (i >= WARMUP) times.push(dt);
  }
  // per-iteration max over ranks: a collective is as slow as its slowest rank
  const all = await pg.allGatherObject(times);
  return times.map((_, i) => Math.max(...all.map((t) => t[i]!)));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))]!;

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
      params.map((v, i) => [v.name, tf.randomUniform(v.shape, -1, 1, 'float32', i + 1000 * pg.rank)]),
    );
    const flat = new Float32Array(n).fill(1);
    const raw = await timeIt(pg, async () => {
      await pg.allReduce(flat, { op: 'mean' });
    });
    const configs: Array<[string, DistributedDataParallelOptions]> = [
      ['ddp (25 MiB buckets, first 1 MiB)', {}],
      ['ddp, one bucket', { bucketCapMb: 1024, firstBucketCapMb: 1024 }],
      ['ddp, 4 MiB buckets', { bucketCapMb: 4, firstBucketCapMb: 1 }],
      ['ddp, device transfer', { transfer: 'device' }],
    ];
    const result: Record<string, unknown> = {
      model: `yolov5${variant}`,
      params: n,
      tensors: shapes.length,
      megabytes: +((n * 4) / 1e6).toFixed(2),
      world: pg.worldSize,
      backend,
      rawAllReduceMs: { median: median(raw), p90: p90(raw) },
      ddp: [] as unknown[],
    };
    for (const [label, opts] of configs) {
      const ddp = await DistributedDataParallel.create(pg, params, opts);
      let waits: number[] = [];
      const t = await timeIt(pg, async () => {
        const out = await ddp.reduceGradients(grads);
        waits.push(ddp.lastTimings!.allReduceWait);
        tf.dispose(Object.values(out!));
      });
      waits = waits.slice(WARMUP);
      (result.ddp as unknown[]).push({
        config: label,
        buckets: ddp.buckets.length,
        ms: { median: median(t), p90: p90(t) },
        overheadMs: median(t) - median(raw),
        allReduceWaitMs: median(waits),
      });
      ddp.dispose();
    }
    rows.push(result);
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
