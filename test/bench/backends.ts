// `npm run bench -w test` (part of `npm run bench`): the tensorflow backend (tfjs-node, CPU)
// next to wasm and PyTorch CPU, measured in the same run:
//   1. one training step (forward + ComputeLoss + backward, no optimizer) of YOLOv5n and YOLOv5s
//      at imgsz 320, batch 8 — ours through packages/yolo's bench child; PyTorch through
//      test/bench/torch_train_step.py (same shapes, same YAML, stand-in loss) with 1 and all threads
//   2. one coco128 epoch (train CLI, imgsz 320, batch 16) at 1 rank and at 2 ranks (yolo-launch
//      --nproc 2) per backend: the epoch's training time from train.log, and images/s.
// tensorflow uses TF_NUM_INTRAOP_THREADS = the launcher's budget (all cores at 1 rank, one per
// rank at 2); wasm computes on one thread per rank. Median of BENCH_REPS steps; timings are
// noisy on a shared machine, compare within one run. Writes bench-results/backends.json.
// Env: BENCH_MODELS (yolov5n,yolov5s), BENCH_IMGSZ (320), BENCH_REPS (3), BENCH_EPOCH_RANKS
// (1,2; empty skips the epochs), BENCH_DATA (coco128 when ../shared has it, else synthetic).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backendsUnderTest } from '../helpers/backends.js';
import { LAUNCHER_CLI, REPO_ROOT, TRAIN_CLI, tmpDir } from '../helpers/run.js';

const models = (process.env.BENCH_MODELS ?? 'yolov5n,yolov5s').split(',');
const imgsz = Number(process.env.BENCH_IMGSZ ?? 320);
const reps = Number(process.env.BENCH_REPS ?? 3);
const epochRanks = (process.env.BENCH_EPOCH_RANKS ?? '1,2').split(',').filter(Boolean).map(Number);
const coco = path.resolve(REPO_ROOT, '../shared/datasets/coco128.yaml');
const data = process.env.BENCH_DATA ?? (fs.existsSync(coco) ? coco : 'synthetic.yaml');
const YOLO_BENCH = path.join(REPO_ROOT, 'packages', 'yolo', 'dist', 'bench', 'run.js');
const TORCH_SCRIPT = path.join(REPO_ROOT, 'test', 'bench', 'torch_train_step.py');
const PYTHON = '/usr/bin/python3';

interface StepRow {
  engine: string;
  model: string;
  wallMs: number;
  cpuMs: number;
  error?: string;
}
interface EpochRow {
  backend: string;
  ranks: number;
  trainS: number;
  imagesPerS: number;
  wallS: number;
  error?: string;
}

function lastJsonLine<T>(stdout: string): T | null {
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  return line ? (JSON.parse(line) as T) : null;
}

/** Median step of `reps` (packages/yolo's bench child: best of reps is its own rule, so ask for 1 rep, reps times). */
function ourStep(backend: string, model: string): StepRow {
  const runs: Array<{ wallMs: number; cpuMs: number }> = [];
  for (let i = 0; i < reps; i++) {
    const child = spawnSync(
      process.execPath,
      [
        YOLO_BENCH,
        '--child',
        `${model},${imgsz},train`,
        '--micro-batch',
        '8',
        '--batch',
        '8',
        '--reps',
        '1',
        '--backend',
        backend,
        '--no-profile',
      ],
      { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' }, maxBuffer: 16 << 20 },
    );
    const row = lastJsonLine<{ wallMs: number; cpuMs: number; error?: string }>(child.stdout);
    if (!row || row.error)
      return { engine: backend, model, wallMs: NaN, cpuMs: NaN, error: row?.error ?? child.stderr.slice(-300) };
    runs.push(row);
  }
  const median = (k: 'wallMs' | 'cpuMs'): number =>
    runs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  return { engine: backend, model, wallMs: median('wallMs'), cpuMs: median('cpuMs') };
}

function torchStep(model: string, threads: number): StepRow {
  const yaml = path.join(REPO_ROOT, 'packages', 'yolo', 'models', `${model}.yaml`);
  const child = spawnSync(PYTHON, [TORCH_SCRIPT, yaml, String(imgsz), '8', String(threads), String(reps)], {
    encoding: 'utf8',
  });
  const row = lastJsonLine<{ wallMs: number; cpuMs: number }>(child.stdout ?? '');
  const engine = `pytorch-cpu (${threads} thread${threads > 1 ? 's' : ''})`;
  return row
    ? { engine, model, ...row }
    : { engine, model, wallMs: NaN, cpuMs: NaN, error: (child.stderr ?? String(child.error)).slice(-300) };
}

function torchPresent(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch, yaml'], { encoding: 'utf8' }).status === 0;
}

function epoch(backend: string, ranks: number): EpochRow {
  const dir = tmpDir(`bench-epoch-${backend}-${ranks}`);
  try {
    const args = [
      '--cfg',
      'yolov5n.yaml',
      '--weights',
      '',
      '--data',
      data,
      '--imgsz',
      String(imgsz),
      '--batch-size',
      '16',
      '--epochs',
      '1',
      '--backend',
      backend,
      '--noplots',
      '--project',
      dir,
      '--name',
      'run',
      '--workers',
      '1',
    ];
    const cmd =
      ranks === 1 ? [TRAIN_CLI, ...args] : [LAUNCHER_CLI, '--nproc', String(ranks), '--standalone', 'train', ...args];
    const t0 = Date.now();
    const run = spawnSync(process.execPath, cmd, {
      cwd: dir,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      env: {
        ...process.env,
        TF_CPP_MIN_LOG_LEVEL: '2',
        YOLO_LAUNCH_DATASETS: process.env.YOLO_LAUNCH_DATASETS ?? path.join(os.tmpdir(), 'yolo-launch-bench-datasets'),
      },
    });
    const wallS = (Date.now() - t0) / 1000;
    if (run.status !== 0) return { backend, ranks, trainS: NaN, imagesPerS: NaN, wallS, error: run.stderr.slice(-300) };
    const log = fs
      .readFileSync(path.join(dir, 'run', 'train.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { rank: number; msg: string; timing?: { train: number; images: number } });
    const end = log.filter((r) => r.rank === (ranks === 1 ? -1 : 0) && r.msg === 'epoch end').pop()!.timing!;
    return { backend, ranks, trainS: end.train / 1000, imagesPerS: end.images / (end.train / 1000), wallS };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (v: number, d = 0): string => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');

async function main(): Promise<void> {
  const backends = (await backendsUnderTest()).filter((b) => !b.skip).map((b) => b.backend);
  const steps: StepRow[] = [];
  const progress = (row: object): void => console.log(`measured: ${JSON.stringify(row)}`);
  for (const model of models) {
    for (const backend of backends) steps.push(ourStep(backend, model));
    if (torchPresent()) for (const threads of [1, os.availableParallelism()]) steps.push(torchStep(model, threads));
    steps.filter((s) => s.model === model).forEach(progress);
  }
  const epochs: EpochRow[] = [];
  for (const backend of backends)
    for (const ranks of epochRanks) progress(epochs[epochs.push(epoch(backend, ranks)) - 1]!);

  console.log(
    `\ntraining step, imgsz ${imgsz}, batch 8, forward + loss + backward (median of ${reps}; ${os.availableParallelism()} cores; ratio = CPU ms / wasm's)`,
  );
  console.log('| model | engine | wall ms | CPU ms | CPU vs wasm |\n|---|---|--:|--:|--:|');
  for (const row of steps) {
    const wasm = steps.find((s) => s.model === row.model && s.engine === 'wasm');
    console.log(
      `| ${row.model} | ${row.engine} | ${fmt(row.wallMs)} | ${fmt(row.cpuMs)} | ${wasm ? fmt(row.cpuMs / wasm.cpuMs, 2) : ''} |${row.error ? ` ${row.error.split('\n')[0]}` : ''}`,
    );
  }
  if (epochs.length) {
    console.log(
      `\none epoch of ${path.basename(data)}, yolov5n, imgsz ${imgsz}, batch 16 (total), first epoch (includes image decoding)`,
    );
    console.log('| backend | ranks | epoch train s | images/s | run wall s |\n|---|--:|--:|--:|--:|');
    for (const row of epochs)
      console.log(
        `| ${row.backend} | ${row.ranks} | ${fmt(row.trainS, 1)} | ${fmt(row.imagesPerS, 2)} | ${fmt(row.wallS, 0)} |${row.error ? ` ${row.error.split('\n')[0]}` : ''}`,
      );
  }
  const out = path.join(REPO_ROOT, 'bench-results', 'backends.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    JSON.stringify(
      { date: new Date().toISOString(), cores: os.availableParallelism(), imgsz, reps, data, steps, epochs },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nwrote ${out}`);
}

await main();
