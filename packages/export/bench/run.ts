// npm run bench -w packages/export
// For yolov5n and yolov5s at imgsz 320 and 640 (batch 1, seeded weights): the export time of
// each format (graph build + encode + atomic write), then inference ms/image of our forward
// (model.predict, wasm: the anchor), the exported ONNX in onnxruntime-node (CPU, one intra-op
// thread like the wasm backend, and its default threads), and the TF.js graph model through
// tf.loadGraphModel on the same wasm backend. Medians of --reps runs after one warm-up, wall
// and process CPU time; ratios are against our forward in the same run. Prints a table and
// writes <repoRoot>/bench-results/export.json.
// Options: --models yolov5n,yolov5s --sizes 320,640 --reps 5 (or BENCH_MODELS, BENCH_SIZES, BENCH_REPS)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import ort from 'onnxruntime-node';
import { initBackend, tf } from '@yolo-launch/backend';
import { createModel, modelYamlPath, type YoloModel } from '@yolo-launch/yolo';
import {
  buildExportGraph,
  fileSystemHandler,
  graphModelFiles,
  toNchw,
  toOnnx,
  toTfjsGraph,
  writeDirAtomic,
  writeFileAtomic,
} from '../src/index.js';

const { values: opts } = parseArgs({
  options: {
    models: { type: 'string', default: process.env.BENCH_MODELS ?? 'yolov5n,yolov5s' },
    sizes: { type: 'string', default: process.env.BENCH_SIZES ?? '320,640' },
    reps: { type: 'string', default: process.env.BENCH_REPS ?? '5' },
  },
});
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const reps = Number(opts.reps);

interface Timing {
  wallMs: number;
  cpuMs: number;
}

const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};

async function timed(run: () => Promise<void> | void): Promise<Timing> {
  const [w0, c0] = [performance.now(), cpuNow()];
  await run();
  return { wallMs: performance.now() - w0, cpuMs: cpuNow() - c0 };
}

/** One warm-up, then the median of `reps` runs (wall and CPU separately). */
async function median(run: () => Promise<void> | void): Promise<Timing> {
  await run();
  const runs: Timing[] = [];
  for (let i = 0; i < reps; i++) runs.push(await timed(run));
  const mid = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { wallMs: mid(runs.map((r) => r.wallMs)), cpuMs: mid(runs.map((r) => r.cpuMs)) };
}

interface Row {
  model: string;
  imgsz: number;
  exportOnnxMs: number;
  exportTfjsMs: number;
  onnxMB: number;
  ours: Timing;
  onnxruntime1: Timing;
  onnxruntime: Timing;
  tfjsGraph: Timing;
}

async function benchOne(name: string, size: number, dir: string): Promise<Row> {
  const model: YoloModel = createModel(modelYamlPath(name)!, { nc: 80, seed: 0 });
  const onnxFile = path.join(dir, `${name}-${size}.onnx`);
  const webDir = path.join(dir, `${name}-${size}_web_model`);
  let onnxBytes = 0;
  const exportOnnx = await timed(() => {
    const bytes = toOnnx(buildExportGraph(model), {
      height: size,
      width: size,
      batch: 1,
      dynamic: false,
      opset: 12,
      metadata: {},
      producerVersion: 'bench',
    });
    writeFileAtomic(onnxFile, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    onnxBytes = bytes.byteLength;
  });
  const exportTfjs = await timed(() => {
    writeDirAtomic(
      webDir,
      graphModelFiles(
        toTfjsGraph(buildExportGraph(model), {
          height: size,
          width: size,
          batch: 1,
          metadata: {},
          convertedBy: 'bench',
        }),
      ),
    );
  });
  const x = tf.randomUniform([1, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const nchw = toNchw((await x.data()) as Float32Array, size, size);
  const ours = await median(async () => {
    const y = model.predict(x);
    await y.data();
    y.dispose();
  });
  const ortRun = async (threads: number | undefined): Promise<Timing> => {
    const session = await ort.InferenceSession.create(onnxFile, {
      executionProviders: ['cpu'],
      ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
    });
    const feeds = { images: new ort.Tensor('float32', nchw, [1, 3, size, size]) };
    const t = await median(async () => void (await session.run(feeds)));
    await session.release();
    return t;
  };
  const onnxruntime1 = await ortRun(1);
  const onnxruntime = await ortRun(undefined);
  const graphModel = await loadGraphModel(fileSystemHandler(webDir));
  const tfjsGraph = await median(async () => {
    const y = graphModel.execute(x) as tf.Tensor;
    await y.data();
    y.dispose();
  });
  graphModel.dispose();
  x.dispose();
  model.dispose();
  return {
    model: name,
    imgsz: size,
    exportOnnxMs: exportOnnx.wallMs,
    exportTfjsMs: exportTfjs.wallMs,
    onnxMB: onnxBytes / 1e6,
    ours,
    onnxruntime1,
    onnxruntime,
    tfjsGraph,
  };
}

function table(rows: Row[]): string {
  const r1 = (v: number) => v.toFixed(1);
  const ratio = (t: Timing, anchor: Timing) =>
    `${r1(t.wallMs)} / ${r1(t.cpuMs)} (${(anchor.cpuMs / t.cpuMs).toFixed(2)}x)`;
  const lines = [
    '| model | imgsz | export onnx ms | export tfjs ms | onnx MB | our forward ms wall / CPU | onnxruntime 1 thread ms wall / CPU (speed-up by CPU) | onnxruntime default threads ms wall / CPU | tfjs graph model ms wall / CPU |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows)
    lines.push(
      `| ${r.model} | ${r.imgsz} | ${r1(r.exportOnnxMs)} | ${r1(r.exportTfjsMs)} | ${r1(r.onnxMB)} | ${r1(r.ours.wallMs)} / ${r1(r.ours.cpuMs)} | ${ratio(r.onnxruntime1, r.ours)} | ${ratio(r.onnxruntime, r.ours)} | ${ratio(r.tfjsGraph, r.ours)} |`,
    );
  return lines.join('\n');
}

await initBackend({ backend: 'wasm' });
const dir = mkdtempSync(path.join(os.tmpdir(), 'yl-export-bench-'));
const rows: Row[] = [];
try {
  for (const name of opts.models.split(','))
    for (const size of opts.sizes.split(',').map(Number)) {
      rows.push(await benchOne(name, size, dir));
      console.error(`done ${name} ${size}`);
    }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const out = table(rows);
console.log(
  `\nexport and inference, batch 1, ${tf.getBackend()} backend, median of ${reps} after a warm-up (ratios: our forward's CPU time / theirs)\n\n${out}`,
);
mkdirSync(path.join(repoRoot, 'bench-results'), { recursive: true });
writeFileSync(
  path.join(repoRoot, 'bench-results', 'export.json'),
  JSON.stringify(
    { date: new Date().toISOString(), backend: tf.getBackend(), reps, cores: os.cpus().length, rows },
    null,
    2,
  ),
);
