// npm run bench -w packages/yolo
// Forward (eval, BN folded) and forward+backward (train mode + ComputeLoss + gradients of every
// parameter, via lossAndGradients with its recomputing backward) for yolov5n and yolov5s at imgsz 320 and 640, batch 8, on the wasm backend;
// images/s by wall time and by process CPU time (wasm runs on this thread, so CPU time is
// the steadier figure on a shared machine), the top kernels from tf.profile, and NMS on 25k
// candidates. Prints a table and writes <repoRoot>/bench-results/yolo.json.
// Options: --models yolov5n,yolov5s --sizes 320,640 --modes eval,train --batch 8 --reps 1 --no-profile
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initBackend, tf } from '@yolo-launch/backend';
import {
  ComputeLoss,
  createModel,
  lossAndGradients,
  modelYamlPath,
  nonMaxSuppression,
  Rng,
  type YoloModel,
} from '../src/index.js';

const { values: opts } = parseArgs({
  options: {
    models: { type: 'string', default: process.env.BENCH_MODELS ?? 'yolov5n,yolov5s' },
    sizes: { type: 'string', default: process.env.BENCH_SIZES ?? '320,640' },
    batch: { type: 'string', default: process.env.BENCH_BATCH ?? '8' },
    reps: { type: 'string', default: '1' },
    modes: { type: 'string', default: process.env.BENCH_MODES ?? 'eval,train' },
    'no-profile': { type: 'boolean', default: false },
    backend: { type: 'string', default: 'wasm' },
    // internal: run one (model, imgsz, mode) in this process and print its row as JSON
    child: { type: 'string' },
    'micro-batch': { type: 'string' },
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
    for (let k = 0; k < 8; k++)
      rows.push(
        b,
        rng.int(80),
        rng.uniform(0.1, 0.9),
        rng.uniform(0.1, 0.9),
        rng.uniform(0.03, 0.5),
        rng.uniform(0.03, 0.5),
      );
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
  rssMB?: number;
  microBatch?: number;
  topKernels?: KernelRow[];
  error?: string;
}

/**
 * One (model, imgsz, mode) measurement, run in a child process: the wasm heap never shrinks
 * and tfjs-backend-wasm fails with "memory access out of bounds" once it passes ~2-4 GB, so
 * every configuration gets a fresh heap. `microBatch` < batch splits the training batch
 * into micro-batches whose gradients are summed (gradient accumulation; same images per step).
 */
async function benchOne(name: string, imgsz: number, mode: 'eval' | 'train', microBatch: number): Promise<Row> {
  const model: YoloModel = createModel(modelYamlPath(name)!, { seed: 0 });
  const loss = ComputeLoss.forModel(model, HYP);
  const rng = new Rng(1);
  const mb = Math.min(microBatch, batch);
  const chunks = Math.ceil(batch / mb);
  const xs = Array.from(
    { length: mode === 'eval' ? 1 : chunks },
    (_, k) =>
      tf.randomUniform(
        [mode === 'eval' ? batch : Math.min(mb, batch - k * mb), imgsz, imgsz, 3],
        0,
        1,
        'float32',
        7 + k,
      ) as tf.Tensor4D,
  );
  const targets = xs.map((x) => syntheticTargets(x.shape[0], rng));
  const evalStep = (): void => {
    // never return a typed array from tf.tidy: tidy walks returned containers element by
    // element looking for tensors (seconds for a [8, 25200, 85] prediction)
    const pred = model.predict(xs[0]!);
    pred.dataSync();
    pred.dispose();
  };
  const trainStep = (): void => {
    // what train.py does per batch minus the optimizer: lossAndGradients (recomputing backward);
    // micro-batches sum their gradients (gradient accumulation)
    let acc: tf.Tensor[] | null = null;
    xs.forEach((x, k) => {
      const out = lossAndGradients(model, loss, x, targets[k]!);
      const gs = out.grads.map((g) => g.grad);
      if (!acc) acc = gs;
      else {
        const prev: tf.Tensor[] = acc;
        acc = gs.map((g, n) => tf.tidy(() => tf.add(prev[n]!, g)));
        tf.dispose([...prev, ...gs]);
      }
    });
    const done = acc as unknown as tf.Tensor[];
    done[0]!.dataSync(); // asynchronous backends: finish the step
    tf.dispose(done);
  };
  const step = mode === 'eval' ? evalStep : trainStep;
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
    rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
  if (mode === 'train' && chunks > 1) row.microBatch = mb;
  if (!opts['no-profile']) row.topKernels = await topKernels(step);
  tf.dispose(xs);
  model.dispose();
  return row;
}

/** Run benchOne in a child process; on a crash retry training with smaller micro-batches. */
function benchInChild(name: string, imgsz: number, mode: 'eval' | 'train'): Row {
  const script = fileURLToPath(import.meta.url);
  let lastErr = '';
  for (const mb of mode === 'eval' ? [batch] : [batch, Math.ceil(batch / 2), Math.ceil(batch / 4)]) {
    const args = [
      script,
      '--child',
      `${name},${imgsz},${mode}`,
      '--micro-batch',
      String(mb),
      '--batch',
      String(batch),
      '--reps',
      String(reps),
      '--backend',
      opts.backend,
    ];
    if (opts['no-profile']) args.push('--no-profile');
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
    const last = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status === 0 && last.startsWith('{')) return JSON.parse(last) as Row;
    lastErr = (r.stderr.split('\n').find((l) => /Error|error/.test(l)) ?? `exit ${r.status}`).trim();
    console.error(`  ${name} ${imgsz} ${mode} (micro-batch ${mb}) failed: ${lastErr}`);
  }
  return {
    model: name,
    imgsz,
    batch,
    mode,
    wallMs: NaN,
    cpuMs: NaN,
    imagesPerSecWall: NaN,
    imagesPerSecCpu: NaN,
    error: lastErr,
  };
}

/** NMS on an imgsz-640 yolov5 output (25200 rows, 80 classes) with ~25k candidates passing conf. */
function benchNms(): { candidates: number; rows: number; mode: string; ms: number; cpuMs: number; kept: number }[] {
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
  const out: { candidates: number; rows: number; mode: string; ms: number; cpuMs: number; kept: number }[] = [];
  for (const [mode, o] of [
    ['default (conf 0.25, iou 0.45)', { confThres: 0.25, iouThres: 0.45 }],
    ['agnostic', { confThres: 0.25, iouThres: 0.45, agnostic: true }],
    ['val (conf 0.001, iou 0.6, multi-label)', { confThres: 0.001, iouThres: 0.6, multiLabel: true }],
  ] as const) {
    nonMaxSuppression(pred, [1, N, no], o);
    const ts: Timing[] = [];
    let kept = 0;
    for (let r = 0; r < 7; r++) ts.push(time(() => (kept = nonMaxSuppression(pred, [1, N, no], o)[0]!.n)));
    let cand = 0;
    for (let i = 0; i < N; i++) {
      if (!(pred[i * no + 4]! > o.confThres)) continue;
      for (let c = 0; c < 80; c++) if (pred[i * no + 5 + c]! * pred[i * no + 4]! > o.confThres) cand++;
    }
    const b = best(ts);
    out.push({ candidates: cand, rows: N, mode, ms: +b.wallMs.toFixed(2), cpuMs: +b.cpuMs.toFixed(2), kept });
  }
  return out;
}

async function main(): Promise<void> {
  if (opts.child) {
    await initBackend({ backend: opts.backend as 'wasm' | 'cpu' });
    const [name, size, mode] = opts.child.split(',');
    const row = await benchOne(name!, Number(size), mode as 'eval' | 'train', Number(opts['micro-batch'] ?? batch));
    console.log(JSON.stringify(row));
    return;
  }
  const rows: Row[] = [];
  for (const name of opts.models.split(','))
    for (const size of opts.sizes.split(',').map(Number))
      for (const mode of opts.modes.split(',') as ('eval' | 'train')[]) {
        console.error(`benchmarking ${name} ${mode} at ${size}, batch ${batch} ...`);
        rows.push(benchInChild(name, size, mode));
      }
  const nms = benchNms();
  console.log(
    `\n@yolo-launch/yolo on ${opts.backend} (batch ${batch}, best of ${reps}; img/s by wall time and by process CPU time)\n`,
  );
  console.log(
    'model     imgsz  mode   wall ms   img/s (wall)  cpu ms   img/s (cpu)  rss MB  top kernels (share of kernel time)',
  );
  for (const r of rows) {
    const top = r.error
      ? `ERROR: ${r.error}`
      : (r.topKernels ?? [])
          .slice(0, 4)
          .map((k) => `${k.name} ${(k.share * 100).toFixed(0)}%`)
          .join(', ');
    const mode = r.microBatch ? `${r.mode}*` : r.mode;
    console.log(
      `${r.model.padEnd(9)} ${String(r.imgsz).padStart(5)}  ${mode.padEnd(6)}${String(r.wallMs).padStart(8)} ${String(r.imagesPerSecWall).padStart(13)} ${String(r.cpuMs).padStart(8)} ${String(r.imagesPerSecCpu).padStart(12)} ${String(r.rssMB ?? '').padStart(7)}  ${top}`,
    );
  }
  if (rows.some((r) => r.microBatch))
    console.log(
      '  * training batch run as micro-batches with summed gradients (see microBatch in the JSON): the full batch did not fit the wasm heap',
    );
  console.log('\nNMS (host, 25200 rows x 85, best of 7 runs)');
  for (const n of nms)
    console.log(
      `  ${n.mode.padEnd(42)} candidates ${String(n.candidates).padStart(7)}  kept ${String(n.kept).padStart(4)}  ${n.ms} ms wall, ${n.cpuMs} ms cpu`,
    );
  const out = {
    package: '@yolo-launch/yolo',
    backend: opts.backend,
    date: new Date().toISOString(),
    batch,
    reps,
    models: rows,
    nms,
  };
  const dir = path.join(repoRoot, 'bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'yolo.json'), JSON.stringify(out, null, 2));
  console.log(`\nwrote ${path.join(dir, 'yolo.json')}`);
}

await main();
