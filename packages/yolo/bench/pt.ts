// npm run bench -w packages/yolo (second part): reading and writing a yolov5s-sized .pt.
// A yolov5s (nc 80) checkpoint is written by our writer (model + EMA in fp16, as YOLOv5's
// unstripped files) into a temp folder; then timed, median of --reps: reading the bytes, our
// reader (zip + pickle + fp16 decode), building our model from the file's yaml and loading the
// weights, and encoding. The anchor, in the same run, is createModel('yolov5s') alone (what
// any start costs). PT_BENCH_FILE=<a torch-written .pt> times that file's read as well.
// Writes <repoRoot>/bench-results/yolo-pt.json.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@yolo-launch/backend';
import { createModel, modelYamlPath } from '../src/index.js';
import { encodeYolov5Checkpoint, modelFromCheckpoint, readPt } from '../src/pt/index.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const reps = Number(process.env.BENCH_PT_REPS ?? 5);

interface Timing {
  wallMs: number;
  cpuMs: number;
}

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e3;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function timeIt(run: () => void): Timing {
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let k = 0; k < reps; k++) {
    const w0 = performance.now();
    const c0 = cpuMs();
    run();
    walls.push(performance.now() - w0);
    cpus.push(cpuMs() - c0);
  }
  return { wallMs: median(walls), cpuMs: median(cpus) };
}

await initBackend({ backend: 'wasm' });
const yamlPath = modelYamlPath('yolov5s')!;
const source = createModel(yamlPath, { nc: 80, seed: 0 });
const stateDict = source.stateDict();
const names = Array.from({ length: 80 }, (_, k) => `class${k}`);
const encode = (): Buffer =>
  encodeYolov5Checkpoint({
    yaml: source.yaml,
    yamlFile: 'yolov5s.yaml',
    names,
    stride: source.stride,
    model: stateDict,
    ema: stateDict,
    epoch: 0,
    bestFitness: 0,
    updates: 0,
    opt: {},
    date: new Date().toISOString(),
    archiveName: 'yolov5s',
  });
const dir = mkdtempSync(path.join(tmpdir(), 'pt-bench-'));
const file = path.join(dir, 'yolov5s.pt');
writeFileSync(file, encode());
const bytes = readFileSync(file);

const rows: Record<string, Timing & { ratio: number }> = {};
const anchor = timeIt(() => createModel(yamlPath, { nc: 80, seed: 0 }).dispose());
const add = (name: string, run: () => void): void => {
  const t = timeIt(run);
  rows[name] = { ...t, ratio: t.wallMs / anchor.wallMs };
};
rows['createModel yolov5s (anchor)'] = { ...anchor, ratio: 1 };
add('read file bytes', () => readFileSync(file));
add('readPt (zip + pickle + fp16 -> fp32)', () => readPt(bytes, file));
add('readPt + build model + load weights', () => modelFromCheckpoint(readPt(readFileSync(file), file)).dispose());
add('encode (model + EMA, fp16)', () => encode());
const external = process.env.PT_BENCH_FILE;
if (external) {
  const other = readFileSync(external);
  add(`readPt ${path.basename(external)}`, () => readPt(other, external));
}
source.dispose();
rmSync(dir, { recursive: true, force: true });

console.log(`yolov5s .pt (${(bytes.length / 1e6).toFixed(1)} MB, model + EMA fp16), median of ${reps}, wasm backend`);
console.log(`${'step'.padEnd(44)}${'wall ms'.padStart(10)}${'cpu ms'.padStart(10)}${'x anchor'.padStart(10)}`);
for (const [name, t] of Object.entries(rows))
  console.log(
    `${name.padEnd(44)}${t.wallMs.toFixed(0).padStart(10)}${t.cpuMs.toFixed(0).padStart(10)}${t.ratio.toFixed(2).padStart(10)}`,
  );
mkdirSync(path.join(repoRoot, 'bench-results'), { recursive: true });
writeFileSync(
  path.join(repoRoot, 'bench-results', 'yolo-pt.json'),
  JSON.stringify({ date: new Date().toISOString(), fileBytes: bytes.length, reps, rows }, null, 2),
);
