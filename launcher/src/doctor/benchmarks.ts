// The timed work `yolo-launch doctor` runs on each backend (in a child process, one backend
// each): a matMul, a conv forward + backward, and one YOLOv5n train step as train.py takes it
// (forward, ComputeLoss, gradients of every parameter). Each is warmed up once, then repeated
// until about half a second has passed; the median is reported, by wall time and CPU time.
import { tf } from '@yolo-launch/backend';
import { ComputeLoss, createModel, lossAndGradients, modelYamlPath } from '@yolo-launch/yolo';

export type BenchName = 'matmul' | 'conv' | 'train';
export const BENCH_NAMES: readonly BenchName[] = ['matmul', 'conv', 'train'];

export interface BenchResult {
  name: BenchName;
  /** what was timed, e.g. "matMul 1024x1024x1024" */
  what: string;
  ok: boolean;
  error?: string;
  /** median wall time of one repetition */
  ms?: number;
  /** median process CPU time of one repetition (the steadier figure on a busy machine) */
  cpuMs?: number;
  /** derived rate, e.g. "312 GFLOP/s" or "3.9 images/s" */
  rate?: string;
}

/** How big each benchmark is per backend: a GPU needs large work to show its speed, pure JS small. */
export interface BenchSizes {
  matMul: number;
  /** NHWC input of a 3x3 conv with as many output channels as input channels */
  conv: [number, number, number, number];
  trainImgsz: number;
  trainBatch: number;
}

/** The reference sizes on native and wasm backends; larger on a GPU, smaller in pure JS. */
export function benchSizes(backend: string, gpu: boolean): BenchSizes {
  if (gpu) return { matMul: 4096, conv: [32, 80, 80, 32], trainImgsz: 640, trainBatch: 16 };
  if (backend === 'cpu') return { matMul: 256, conv: [1, 40, 40, 16], trainImgsz: 128, trainBatch: 2 };
  return { matMul: 1024, conv: [8, 80, 80, 32], trainImgsz: 320, trainBatch: 8 };
}

const MIN_TOTAL_MS = 500;
const MAX_REPS = 10;

function cpuNow(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e3;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Warm-up, then repetitions; `once` must finish its device work before it resolves. */
async function measure(once: () => Promise<void>): Promise<{ ms: number; cpuMs: number }> {
  await once();
  const walls: number[] = [];
  const cpus: number[] = [];
  const start = performance.now();
  while (walls.length < MAX_REPS && (walls.length === 0 || performance.now() - start < MIN_TOTAL_MS)) {
    const [w0, c0] = [performance.now(), cpuNow()];
    await once();
    walls.push(performance.now() - w0);
    cpus.push(cpuNow() - c0);
  }
  return { ms: median(walls), cpuMs: median(cpus) };
}

async function guarded(
  name: BenchName,
  what: string,
  run: () => Promise<Omit<BenchResult, 'name' | 'what' | 'ok'>>,
): Promise<BenchResult> {
  try {
    return { name, what, ok: true, ...(await run()) };
  } catch (error) {
    return { name, what, ok: false, error: error instanceof Error ? error.message.split('\n')[0]! : String(error) };
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

export function benchMatMul(n: number): Promise<BenchResult> {
  return guarded('matmul', `matMul ${n}x${n}x${n} float32`, async () => {
    const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
    const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
    const t = await measure(async () => {
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
    });
    tf.dispose([a, b]);
    return {
      ms: round(t.ms),
      cpuMs: round(t.cpuMs),
      rate: `${((2 * n ** 3) / (t.ms / 1e3) / 1e9).toFixed(1)} GFLOP/s`,
    };
  });
}

/** A 3x3 'same' conv, forward and both gradients (input and filter). */
export function benchConv(shape: [number, number, number, number]): Promise<BenchResult> {
  const channels = shape[3];
  return guarded('conv', `conv2d [${shape.join(',')}] x 3x3x${channels} forward + backward`, async () => {
    const x = tf.randomNormal(shape, 0, 1, 'float32', 3) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, channels, channels], 0, 0.1, 'float32', 4) as tf.Tensor4D;
    const grads = tf.grads((input: tf.Tensor, filter: tf.Tensor) =>
      tf
        .conv2d(input as tf.Tensor4D, filter as tf.Tensor4D, 1, 'same')
        .square()
        .mean(),
    );
    const t = await measure(async () => {
      const [dx, dw] = grads([x, w]);
      await Promise.all([dx!.data(), dw!.data()]);
      tf.dispose([dx!, dw!]);
    });
    tf.dispose([x, w]);
    return { ms: round(t.ms), cpuMs: round(t.cpuMs) };
  });
}

const HYP = { box: 0.05, obj: 1.0, cls: 0.5, cls_pw: 1.0, obj_pw: 1.0, anchor_t: 4.0, label_smoothing: 0 };

/** Eight boxes per image, fixed: the step's cost does not depend on them much. */
function targets(batch: number): Float32Array {
  const rows: number[] = [];
  for (let image = 0; image < batch; image++)
    for (let k = 0; k < 8; k++)
      rows.push(image, (k * 11) % 80, 0.2 + 0.08 * k, 0.7 - 0.06 * k, 0.1 + 0.03 * k, 0.15 + 0.02 * k);
  return Float32Array.from(rows);
}

export function benchTrainStep(imgsz: number, batch: number): Promise<BenchResult> {
  return guarded('train', `YOLOv5n train step, imgsz ${imgsz}, batch ${batch}`, async () => {
    const model = createModel(modelYamlPath('yolov5n')!, { seed: 0 });
    const loss = ComputeLoss.forModel(model, HYP);
    const images = tf.randomUniform([batch, imgsz, imgsz, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const boxes = targets(batch);
    try {
      const t = await measure(async () => {
        const out = lossAndGradients(model, loss, images, boxes);
        if (!Number.isFinite(out.loss)) throw new Error(`the loss is ${out.loss}`);
        await out.grads[0]!.grad.data();
        tf.dispose(out.grads.map((g) => g.grad));
      });
      return { ms: round(t.ms), cpuMs: round(t.cpuMs), rate: `${((batch * 1000) / t.ms).toFixed(1)} images/s` };
    } finally {
      images.dispose();
      model.dispose();
    }
  });
}

export async function runBenchmarks(names: readonly BenchName[], sizes: BenchSizes): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const name of names) {
    if (name === 'matmul') results.push(await benchMatMul(sizes.matMul));
    if (name === 'conv') results.push(await benchConv(sizes.conv));
    if (name === 'train') results.push(await benchTrainStep(sizes.trainImgsz, sizes.trainBatch));
  }
  return results;
}
