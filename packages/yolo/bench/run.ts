// npm run bench -w packages/yolo
// Forward (eval, BN folded) and forward+backward (train mode + ComputeLoss + gradients of every
// parameter) for yolov5n and yolov5s at imgsz 320 and 640, batch 8, on the wasm backend;
// images/s by wall time and by process CPU time (wasm runs on this thread, so CPU time is
// the steadier figure on a shared machine), the top kernels from tf.profile, and NMS on 25k
// candidates. Prints a table and writes <repoRoot>/bench-results/yolo.json.
// Options: --models yolov5n,yolov5s --sizes 320,640 --batch 8 --reps 1 --no-profile
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initBackend, tf } from '@yolo-launch/backend';
import { ComputeLoss, createModel, modelYamlPath, nonMaxSuppression, Rng, type YoloModel } from '../src/index.js';

const { values: opts } = parseArgs({
  options: {
    models: { type: 'string', default: process.env.BENCH_MODELS ?? 'yolov5n,yolov5s' },
    sizes: { type: 'string', default: process.env.BENCH_SIZES ?? '320,640' },
    batch: { type: 'string', default: process.env.BENCH_BATCH ?? '8' },
    reps: { type: 'string', default: '1' },
    'no-profile': { type: 'boolean', default: false },
    backend: { type: 'string', default: 'wasm' },
  },
});
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const batch = Number(opts.batch);
const reps = Number(opts.reps);

const HYP = { box: 0.05, obj: 1.0, cls: 0.5, cls_pw: 1.0, obj_pw: 1.0, anchor_t: 4.0, label_smoothing: 0 };

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
}

interface Timing {
  wallMs: number;
  cpuMs: number;
}

function time(run: () => void): Timing {
  const w0 = performance.now();
  const c0 = cpuMs();
  run();
  return { wallMs: performance.now() - w0, cpuMs: cpuMs() - c0 };
}

function best(ts: Timing[]): Timing {
  return { wallMs: Math.min(...ts.map((t) => t.wallMs)), cpuMs: Math.min(...ts.map((t) => t.cpuMs)) };
}

interface KernelRow {
  name: string;
  ms: number;
  count: number;
  share: number;
}

async function topKernels(run: () => void, n = 8): Promise<KernelRow[]> {
  const info = await tf.profile(() => {
    run();
    return [] as tf.Tensor[];
  });
  const by = new Map<string, { ms: number; count: number }>();
  let total = 0;
  const backend = tf.getBackend();
  for (const k of info.kernels) {
    // tf.profile also reports op scopes (e.g. fusedConv2d__op) around the kernels: count kernels only
    if (!tf.getKernel(k.name, backend)) continue;
    const ms = Number(await k.kernelTimeMs) || 0;
    total += ms;
    const e = by.get(k.name) ?? { ms: 0, count: 0 };
    e.ms += ms;
    e.count += 1;
    by.set(k.name, e);
  }
  return [...by.entries()]
    .map(([name, e]) => ({ name, ms: +e.ms.toFixed(1), count: e.count, share: +(e.ms / (total || 1)).toFixed(3) }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, n);
}

function syntheticTargets(bs: number, rng: Rng): Float32Array {
  const rows: number[] = [];
  for (let b = 0; b < bs; b++)
    for (let k = 0; k < 8; k++) rows.push(b, rng.int(80), rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.03, 0.5), rng.uniform(0.03, 0.5));
  return Float32Array.from(rows);
}

interface Row {
  model: string;
  imgsz: number;
  batch: number;
  mode: 'eval' | 'train';
  wallMs: number;
  cpuMs: number;
  imagesPerSecWall: number;
  imagesPerSecCpu: number;
  topKernels?: KernelRow[];
  error?: string;
}

async function benchModel(name: string, imgsz: number): Promise<Row[]> {
  const model: YoloModel = createModel(modelYamlPath(name)!, { seed: 0 });
  const loss = ComputeLoss.forModel(model, HYP);
  const rng = new Rng(1);
  const x = tf.randomUniform([batch, imgsz, imgsz, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const targets = syntheticTargets(batch, rng);
  const evalStep = (): void => {
    tf.tidy(() => model.forwardEval(x).pred.dataSync());
  };
  const trainStep = (): void => {
    const { value, grads } = tf.variableGrads(() => loss.compute(model.forwardTrain(x), targets).loss);
    // read one gradient so that asynchronous backends finish the step
    Object.values(grads)[0]!.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const rows: Row[] = [];
  for (const [mode, step] of [
    ['eval', evalStep],
    ['train', trainStep],
  ] as const) {
    try {
      step(); // warm-up (XNNPACK operator creation, grid caches)
      const t = best(Array.from({ length: reps }, () => time(step)));
      const row: Row = {
        model: name,
        imgsz,
        batch,
        mode,
        wallMs: +t.wallMs.toFixed(0),
        cpuMs: +t.cpuMs.toFixed(0),
        imagesPerSecWall: +((batch * 1000) / t.wallMs).toFixed(2),
        imagesPerSecCpu: +((batch * 1000) / t.cpuMs).toFixed(2),
      };
      if (!opts['no-profile']) row.topKernels = await topKernels(step);
      rows.push(row);
    } catch (e) {
      rows.push({ model: name, imgsz, batch, mode, wallMs: NaN, cpuMs: NaN, imagesPerSecWall: NaN, imagesPerSecCpu: NaN, error: (e as Error).message });
    }
    console.error(`  ${name} ${imgsz} ${mode}: done`);
  }
  x.dispose();
  model.dispose();
  return rows;
}

/** NMS on an imgsz-640 yolov5 output (25200 rows, 80 classes) with ~25k candidates passing conf. */
function benchNms(): { candidates: number; rows: number; mode: string; ms: number; kept: number }[] {
  const rng = new Rng(3);
  const N = 25200;
  const no = 85;
  const pred = new Float32Array(N * no);
  for (let i = 0; i < N; i++) {
    // clustered boxes like a real detector output: many overlapping candidates per object
    const cx = 40 + 560 * rng.next();
    const cy = 40 + 560 * rng.next();
    pred[i * no] = cx;
    pred[i * no + 1] = cy;
    pred[i * no + 2] = 10 + 150 * rng.next();
    pred[i * no + 3] = 10 + 150 * rng.next();
    pred[i * no + 4] = 0.3 + 0.7 * rng.next();
    for (let c = 0; c < 80; c++) pred[i * no + 5 + c] = 0.05 * rng.next();
    pred[i * no + 5 + rng.int(80)] = 0.5 + 0.5 * rng.next();
  }
  const out: { candidates: number; rows: number; mode: string; ms: number; kept: number }[] = [];
  for (const [mode, o] of [
    ['default (conf 0.25, iou 0.45)', { confThres: 0.25, iouThres: 0.45 }],
    ['agnostic', { confThres: 0.25, iouThres: 0.45, agnostic: true }],
    ['val (conf 0.001, iou 0.6, multi-label)', { confThres: 0.001, iouThres: 0.6, multiLabel: true }],
  ] as const) {
    nonMaxSuppression(pred, [1, N, no], o);
    const ts: number[] = [];
    let kept = 0;
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now();
      kept = nonMaxSuppression(pred, [1, N, no], o)[0]!.n;
      ts.push(performance.now() - t0);
    }
    let cand = 0;
    for (let i = 0; i < N; i++) {
      if (!(pred[i * no + 4]! > o.confThres)) continue;
      for (let c = 0; c < 80; c++) if (pred[i * no + 5 + c]! * pred[i * no + 4]! > o.confThres) cand++;
    }
    out.push({ candidates: cand, rows: N, mode, ms: +Math.min(...ts).toFixed(2), kept });
  }
  return out;
}

async function main(): Promise<void> {
  await initBackend({ backend: opts.backend as 'wasm' | 'cpu' });
  const rows: Row[] = [];
  for (const name of opts.models.split(','))
    for (const size of opts.sizes.split(',').map(Number)) {
      console.error(`benchmarking ${name} at ${size}, batch ${batch} ...`);
      rows.push(...(await benchModel(name, size)));
    }
  const nms = benchNms();
  console.log(`\n@yolo-launch/yolo on ${tf.getBackend()} (batch ${batch}, best of ${reps})\n`);
  console.log('model     imgsz  mode   wall ms   img/s (wall)  cpu ms   img/s (cpu)  top kernels (share of kernel time)');
  for (const r of rows) {
    const top = r.error ? `ERROR: ${r.error}` : (r.topKernels ?? []).slice(0, 4).map((k) => `${k.name} ${(k.share * 100).toFixed(0)}%`).join(', ');
    console.log(
      `${r.model.padEnd(9)} ${String(r.imgsz).padStart(5)}  ${r.mode.padEnd(5)} ${String(r.wallMs).padStart(8)} ${String(r.imagesPerSecWall).padStart(13)} ${String(r.cpuMs).padStart(8)} ${String(r.imagesPerSecCpu).padStart(12)}  ${top}`,
    );
  }
  console.log('\nNMS (host, 25200 rows x 85)');
  for (const n of nms) console.log(`  ${n.mode.padEnd(42)} candidates ${String(n.candidates).padStart(6)}  kept ${String(n.kept).padStart(4)}  ${n.ms} ms`);
  const out = { package: '@yolo-launch/yolo', backend: tf.getBackend(), date: new Date().toISOString(), batch, reps, models: rows, nms };
  const dir = path.join(repoRoot, 'bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'yolo.json'), JSON.stringify(out, null, 2));
  console.log(`\nwrote ${path.join(dir, 'yolo.json')}`);
}

await main();
