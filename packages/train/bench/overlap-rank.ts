// One rank of bench/overlap.ts, run under `yolo-launch --standalone --nproc N --threads 1`.
// The trainer's compute path without its data loader and optimizer: yolov5n (BENCH_CFG), a
// fixed batch of BENCH_BATCH random images per rank at BENCH_IMGSZ, the layer-recomputing
// backward (yolo's lossAndGradients) and ddp's reduceGradients, as src/step.ts does on an
// optimizer step. At world 2 the steps alternate between the overlapped reduction
// (beginOverlappedReduction's hook fed by the backward) and the plain one (YOLO_TRAIN_OVERLAP=0),
// so load from elsewhere hits both alike. Each step starts after a barrier. Per step and rank:
// backward ms, the wait after the backward (ddp's lastTimings.allReduceWait), step ms and the
// process's CPU ms. At the end: CPU ms per thread name (/proc/self/task) and whether tfjs-wasm
// runs threads. Rank 0 writes every rank's records to BENCH_OVERLAP_OUT. BENCH_LAST_BUCKET_MB
// sets ddp's lastBucketCapMb (0: no small last bucket, torch's plan). BENCH_DISTILL_FEAT=new|old:
// the --distill-feat loss and adapters, registered in the trainer's order or the old one
// (bench/overlap-distill.ts).

import * as fs from 'node:fs';
import { initBackend, tf } from '@yolo-launch/backend';
import { initProcessGroup, type ProcessGroup } from '@yolo-launch/comm';
import { DistributedDataParallel } from '@yolo-launch/ddp';
import { ComputeLoss, createModel, lossAndGradients, modelYamlPath, Rng } from '@yolo-launch/yolo';
import { LocalProcessGroup } from '../src/dist.js';
import { distillBench, distillOrder } from './overlap-distill.js';

export type OverlapMode = 'overlap' | 'plain' | 'single';

export interface StepRecord {
  mode: OverlapMode;
  backwardMs: number;
  waitMs: number;
  stepMs: number;
  /** CPU of the whole process during the step (all threads), and of the main thread alone. */
  cpuMs: number;
  mainCpuMs: number;
}

export interface RankReport {
  rank: number;
  world: number;
  buckets: number[];
  wasmThreads: boolean;
  steps: StepRecord[];
  threadCpuMs: Record<string, number>;
}

const HYP = { box: 0.05, obj: 1.0, cls: 0.5, cls_pw: 1.0, obj_pw: 1.0, anchor_t: 4.0, label_smoothing: 0 };

/** Eight boxes per image, the same for every run. */
function syntheticTargets(images: number): Float32Array {
  const rng = new Rng(1);
  const rows: number[] = [];
  for (let b = 0; b < images; b++)
    for (let k = 0; k < 8; k++)
      rows.push(
        b,
        rng.int(80),
        rng.uniform(0.2, 0.8),
        rng.uniform(0.2, 0.8),
        rng.uniform(0.05, 0.4),
        rng.uniform(0.05, 0.4),
      );
  return Float32Array.from(rows);
}

/** CPU ms of one thread of this process (utime + stime of /proc/self/task/<tid>/stat), and its name. */
function threadCpu(tid: string): { name: string; ms: number } | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  } catch {
    return null; // not Linux, or the thread ended meanwhile
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = 10; // USER_HZ 100
  return {
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    ms: (Number(fields[11]) + Number(fields[12])) * tick, // stat fields 14 and 15
  };
}

/** CPU ms per thread: `main` (the compute thread), the others by name and thread id. */
function threadCpuMs(): Record<string, number> {
  const out: Record<string, number> = {};
  const tids = fs.existsSync('/proc/self/task') ? fs.readdirSync('/proc/self/task') : [];
  for (const tid of tids) {
    const t = threadCpu(tid);
    if (t) out[tid === String(process.pid) ? 'main' : `${t.name}/${tid}`] = t.ms;
  }
  return out;
}

const mainThreadMs = (): number => threadCpu(String(process.pid))?.ms ?? NaN;

const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};

async function main(): Promise<void> {
  const world = Number(process.env.WORLD_SIZE ?? 1);
  const imgsz = Number(process.env.BENCH_IMGSZ ?? 160);
  const batch = Number(process.env.BENCH_BATCH ?? 8);
  const stepsPerMode = Number(process.env.BENCH_STEPS ?? 10);
  const cfg = process.env.BENCH_CFG ?? 'yolov5n';
  await initBackend({ backend: 'wasm' });
  const pg: ProcessGroup = world > 1 ? await initProcessGroup() : new LocalProcessGroup();
  const model = createModel(modelYamlPath(cfg) ?? cfg, { seed: 0 });
  const detection = ComputeLoss.forModel(model, HYP);
  const images = tf.randomUniform([batch, imgsz, imgsz, 3], 0, 1, 'float32', 7 + pg.rank) as tf.Tensor4D;
  const order = distillOrder(process.env.BENCH_DISTILL_FEAT);
  const distill = order ? distillBench(model, detection, images, order) : null;
  const loss = distill?.loss ?? detection;
  const lastBucket = process.env.BENCH_LAST_BUCKET_MB; // 0: torch's plan, to compare
  const ddp = await DistributedDataParallel.create(
    pg,
    distill?.variables ?? model.trainableParameters().map((p) => p.variable),
    lastBucket ? { lastBucketCapMb: Number(lastBucket) } : {},
  );
  const targets = syntheticTargets(batch);
  const modes: OverlapMode[] = world > 1 ? ['overlap', 'plain'] : ['single'];
  const warmup = modes.length; // the first step of each mode allocates and compiles: not recorded
  const steps: StepRecord[] = [];
  const threadsBefore = threadCpuMs();
  for (let s = 0; s < warmup + stepsPerMode * modes.length; s++) {
    const mode = modes[s % modes.length]!;
    await pg.barrier();
    const c0 = cpuNow();
    const m0 = mainThreadMs();
    const t0 = performance.now();
    const hook = mode === 'overlap' ? ddp.beginOverlappedReduction() : null;
    const r = lossAndGradients(model, loss, images, targets, {
      recompute: true,
      onGradient: hook
        ? (variable, grad) => (distill && !distill.handOver(variable) ? undefined : hook(variable.name, grad))
        : undefined,
    });
    const t1 = performance.now();
    const grads: tf.NamedTensorMap = Object.fromEntries(r.grads.map((g) => [g.variable.name, g.grad]));
    const reduced = (await ddp.reduceGradients(grads))!;
    tf.dispose([...Object.values(grads), ...Object.values(reduced)]);
    const t2 = performance.now();
    if (s >= warmup)
      steps.push({
        mode,
        backwardMs: t1 - t0,
        waitMs: ddp.lastTimings?.allReduceWait ?? 0,
        stepMs: t2 - t0,
        cpuMs: cpuNow() - c0,
        mainCpuMs: mainThreadMs() - m0,
      });
  }
  const threadsAfter = threadCpuMs();
  const threadDelta = Object.fromEntries(
    Object.entries(threadsAfter).map(([name, ms]) => [name, ms - (threadsBefore[name] ?? 0)]),
  );
  const report: RankReport = {
    rank: pg.rank,
    world,
    buckets: ddp.buckets.map((b) => b.size * 4),
    wasmThreads: tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'),
    steps,
    threadCpuMs: threadDelta,
  };
  const reports = await pg.allGatherObject(report);
  if (pg.rank === 0) fs.writeFileSync(process.env.BENCH_OVERLAP_OUT!, JSON.stringify(reports));
  images.dispose();
  distill?.dispose();
  await pg.destroy();
}

await main();
