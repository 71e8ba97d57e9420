// npm run bench -w packages/backend
// Per-conv-shape forward / input-gradient / filter-gradient timings for every distinct
// convolution of YOLOv5n at imgsz 320 batch 8 on wasm (one thread), and a whole
// YOLOv5n-shaped training step (forward + backward + SGD). Prints a table, writes
// <repoRoot>/bench-results/backend.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tf, initBackend, backendChoice, replacedWasmKernel } from '../src/index.js';
import { YoloV5Shaped, YOLOV5N, type ConvShape, type NetConfig } from '../test/yolov5n_shaped.js';

const { values: opts } = parseArgs({
  options: {
    imgsz: { type: 'string', default: '320' },
    batch: { type: 'string', default: '8' },
    reps: { type: 'string', default: '3' },
    steps: { type: 'string', default: '5' },
    'leak-steps': { type: 'string', default: '100' },
    'compare-builtin': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'skip-layers': { type: 'boolean', default: false },
  },
});
const imgsz = Number(opts.imgsz),
  batch = Number(opts.batch),
  reps = Number(opts.reps);
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Process CPU time (user+sys) in ms. wasm runs on this one thread, so on a shared, loaded
 * machine CPU time tracks the work done far better than wall time does.
 */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
}

/**
 * Best-of-reps CPU time of a synchronous kernel run (wasm kernels are synchronous), each rep
 * on FRESH copies of the inputs (copied outside the timing). tfjs-wasm caches XNNPACK
 * operators, including their re-laid-out ("packed") filter, per filter tensor; in training
 * every filter and activation is new each step, so re-running on the same tensors would
 * skip the packing and flatter every kernel whose filter operand is big (the 1x1 filter
 * gradient by up to 5x).
 */
function timeKernel(inputs: tf.Tensor[], run: (fresh: tf.Tensor[]) => tf.Tensor): number {
  const times: number[] = [];
  for (let i = 0; i <= reps; i++) {
    const fresh = inputs.map((t) => tf.add(t, 0)); // a real copy: new buffer, new id
    const t0 = cpuMs();
    const out = run(fresh);
    out.dataSync(); // wasm: no-op wait, but keeps the measurement honest on async backends
    const dt = cpuMs() - t0;
    tf.dispose([out, ...fresh]);
    if (i > 0) times.push(dt); // first run: one-off set-up (heap growth, code paths)
  }
  return Math.min(...times);
}

interface LayerRow {
  shape: string;
  count: number;
  gflop: number;
  fwdMs: number;
  dxMs: number;
  dwMs: number;
  builtinDxMs?: number;
  fwdGflops: number;
  dxGflops: number;
  dwGflops: number;
  dxRatio: number;
  dwRatio: number;
}

function benchLayer(cs: ConvShape, count: number): LayerRow {
  const info = tf.backend_util.computeConv2DInfo(
    [batch, cs.inH, cs.inW, cs.cin],
    [cs.k, cs.k, cs.cin, cs.cout],
    cs.s,
    1,
    cs.p,
    undefined,
    false,
    'channelsLast',
  );
  const x = tf.randomNormal([batch, cs.inH, cs.inW, cs.cin]);
  const w = tf.randomNormal([cs.k, cs.k, cs.cin, cs.cout]);
  const dy = tf.randomNormal([batch, info.outHeight, info.outWidth, cs.cout]);
  const common = {
    strides: cs.s,
    pad: cs.p,
    dataFormat: 'NHWC',
    dimRoundingMode: undefined,
  } as unknown as tf.NamedAttrMap;
  const e = tf.engine();
  const fwdMs = timeKernel(
    [x, w],
    ([xx, ww]) => e.runKernel('Conv2D', { x: xx, filter: ww }, { ...common, dilations: 1 }) as tf.Tensor,
  );
  const dxMs = timeKernel(
    [dy, w],
    ([dd, ww]) =>
      e.runKernel('Conv2DBackpropInput', { dy: dd, filter: ww }, { ...common, inputShape: x.shape }) as tf.Tensor,
  );
  const dwMs = timeKernel(
    [x, dy],
    ([xx, dd]) =>
      e.runKernel('Conv2DBackpropFilter', { x: xx, dy: dd }, { ...common, filterShape: w.shape }) as tf.Tensor,
  );
  let builtinDxMs: number | undefined;
  const builtin = replacedWasmKernel('Conv2DBackpropInput');
  if (opts['compare-builtin'] && builtin != null) {
    const backend = tf.backend();
    // It was unregistered before the backend initialised, so its setup never ran.
    builtin.setupFunc?.(backend);
    builtinDxMs = timeKernel([dy, w], ([dd, ww]) => {
      const out = builtin.kernelFunc({
        inputs: { dy: dd, filter: ww },
        backend,
        attrs: { ...common, inputShape: x.shape },
      }) as tf.TensorInfo;
      return e.makeTensorFromTensorInfo(out);
    });
  }
  tf.dispose([x, w, dy]);
  const gflop = (2 * batch * info.outHeight * info.outWidth * cs.cout * cs.k * cs.k * cs.cin) / 1e9;
  return {
    shape: `${cs.inH}x${cs.inW}x${cs.cin}->${cs.cout} k${cs.k} s${cs.s} p${cs.p}`,
    count,
    gflop,
    fwdMs,
    dxMs,
    dwMs,
    builtinDxMs,
    fwdGflops: gflop / (fwdMs / 1e3),
    dxGflops: gflop / (dxMs / 1e3),
    dwGflops: gflop / (dwMs / 1e3),
    dxRatio: dxMs / fwdMs,
    dwRatio: dwMs / fwdMs,
  };
}

interface StepResult {
  bn: NetConfig['bn'];
  imgsz: number;
  batch: number;
  firstStepMs: number;
  /** CPU ms per step (one thread: the compute time); wall ms is inflated on a shared machine */
  stepMs: number[];
  medianMs: number;
  wallMs: number[];
  medianWallMs: number;
  tensorsBefore: number;
  tensorsAfter: number;
}

function benchStep(bn: NetConfig['bn'], size: number, n: number, steps: number): StepResult {
  const net = new YoloV5Shaped(tf, { ...YOLOV5N, bn });
  const optimizer = tf.train.sgd(0.01);
  const x = tf.randomUniform([n, size, size, 3]) as tf.Tensor4D;
  const wallMs: number[] = [];
  const once = () => {
    const t0 = cpuMs(),
      w0 = performance.now();
    const loss = net.step(x, optimizer);
    loss.dataSync();
    loss.dispose();
    wallMs.push(performance.now() - w0);
    return cpuMs() - t0;
  };
  const firstStepMs = once();
  wallMs.length = 0;
  const tensorsBefore = tf.memory().numTensors;
  const stepMs: number[] = [];
  for (let i = 0; i < steps; i++) stepMs.push(once());
  const tensorsAfter = tf.memory().numTensors;
  if (opts.profile && size === imgsz) profileStep(net, x, optimizer);
  tf.dispose(x);
  net.dispose();
  optimizer.dispose();
  return {
    bn,
    imgsz: size,
    batch: n,
    firstStepMs,
    stepMs,
    medianMs: median(stepMs),
    wallMs,
    medianWallMs: median(wallMs),
    tensorsBefore,
    tensorsAfter,
  };
}

function profileStep(net: YoloV5Shaped, x: tf.Tensor4D, optimizer: tf.Optimizer): void {
  void tf
    .profile(() => {
      net.step(x, optimizer).dispose();
    })
    .then((info) => {
      const agg = new Map<string, { ms: number; n: number }>();
      for (const k of info.kernels) {
        const a = agg.get(k.name) ?? { ms: 0, n: 0 };
        a.ms += Number(k.kernelTimeMs);
        a.n++;
        agg.set(k.name, a);
      }
      console.log('\nkernel time in one step:');
      for (const [name, a] of [...agg].sort((p, q) => q[1].ms - p[1].ms).slice(0, 20)) {
        console.log(`  ${name.padEnd(28)} ${a.ms.toFixed(1).padStart(8)} ms  x${a.n}`);
      }
    });
}

const f = (v: number, d = 1) => v.toFixed(d);

async function main(): Promise<void> {
  await initBackend({ backend: 'wasm' });
  const layers: LayerRow[] = [];
  if (!opts['skip-layers']) {
    const probe = new YoloV5Shaped(tf, YOLOV5N);
    tf.tidy(() => {
      probe.forward(tf.zeros([1, imgsz, imgsz, 3]) as tf.Tensor4D);
    });
    const counts = new Map<string, { cs: ConvShape; count: number }>();
    for (const cs of probe.convLog) {
      const key = JSON.stringify(cs);
      const hit = counts.get(key);
      if (hit) hit.count++;
      else counts.set(key, { cs, count: 1 });
    }
    probe.dispose();
    console.log(
      `YOLOv5n convolutions at imgsz ${imgsz}, batch ${batch}, wasm one thread: ${counts.size} distinct shapes (best-of-${reps} CPU ms, fresh tensors each rep)\n`,
    );
    const header = `${'shape (HxWxCin->Cout k s p)'.padEnd(34)} ${'n'.padStart(2)} ${'GFLOP'.padStart(6)} ${'fwd ms'.padStart(7)} ${'dx ms'.padStart(7)} ${'dw ms'.padStart(7)} ${'fwd GF/s'.padStart(8)} ${'dx GF/s'.padStart(8)} ${'dw GF/s'.padStart(8)} ${'dx/fwd'.padStart(6)} ${'dw/fwd'.padStart(6)}${opts['compare-builtin'] ? ' wasm-dx ms' : ''}`;
    console.log(header);
    for (const { cs, count } of counts.values()) {
      const r = benchLayer(cs, count);
      layers.push(r);
      console.log(
        `${r.shape.padEnd(34)} ${String(count).padStart(2)} ${f(r.gflop, 3).padStart(6)} ${f(r.fwdMs).padStart(7)} ${f(r.dxMs).padStart(7)} ${f(r.dwMs).padStart(7)} ${f(r.fwdGflops).padStart(8)} ${f(r.dxGflops).padStart(8)} ${f(r.dwGflops).padStart(8)} ${f(r.dxRatio, 2).padStart(6)} ${f(r.dwRatio, 2).padStart(6)}${r.builtinDxMs != null ? f(r.builtinDxMs).padStart(11) : ''}`,
      );
    }
    const tot = (key: 'fwdMs' | 'dxMs' | 'dwMs') => layers.reduce((a, r) => a + r[key] * r.count, 0);
    console.log(
      `\nall convs of one step (weighted by count): fwd ${f(tot('fwdMs'))} ms, dx ${f(tot('dxMs'))} ms, dw ${f(tot('dwMs'))} ms; worst dx/fwd ${f(Math.max(...layers.map((r) => r.dxRatio)), 2)}, worst dw/fwd ${f(Math.max(...layers.map((r) => r.dwRatio)), 2)} (target <= 2.5)`,
    );
  }

  const steps = Number(opts.steps);
  const stepResults: StepResult[] = [];
  for (const bn of ['fused', 'moments'] as const) {
    const r = benchStep(bn, imgsz, batch, steps);
    stepResults.push(r);
    console.log(
      `\ntraining step (YOLOv5n-shaped, BN=${bn}) imgsz ${imgsz} batch ${batch}: median ${f(r.medianMs, 0)} ms CPU (${f(r.medianWallMs, 0)} ms wall) over ${steps} (first ${f(r.firstStepMs, 0)} ms); tensors ${r.tensorsBefore} -> ${r.tensorsAfter} (target <= ~1000 ms, zero leaks)`,
    );
  }
  // The 100-step leak check runs small so that it finishes in seconds.
  const leakSteps = Number(opts['leak-steps']);
  const leak = benchStep('fused', 64, 2, leakSteps);
  console.log(
    `leak check: ${leakSteps} steps at imgsz 64 batch 2: tensors ${leak.tensorsBefore} -> ${leak.tensorsAfter} (leaked per step: ${(leak.tensorsAfter - leak.tensorsBefore) / leakSteps})`,
  );

  const out = {
    package: '@yolo-launch/backend',
    date: new Date().toISOString(),
    backend: backendChoice(),
    node: process.version,
    imgsz,
    batch,
    reps,
    note: 'wasm, one thread (WASM_HAS_MULTITHREAD_SUPPORT is false in Node). Times are process CPU ms (best of reps for kernels, median for steps), which track compute on a shared machine; wall times are in wallMs.',
    layers,
    steps: stepResults,
    leak,
    targets: { backwardOverForward: 2.5, stepMs: 1000, leakedTensorsPerStep: 0, pytorchOneThreadStepMs: 322 },
  };
  const dir = path.join(repoRoot, 'bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'backend.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwrote ${path.join(dir, 'backend.json')}`);
}

await main();
