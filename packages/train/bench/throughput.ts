// `npm run bench -w packages/train`: training throughput of yolov5n at imgsz 320, batch 16
// (total), one rank vs two ranks (yolo-launch --nproc 2, 8 images per rank), the per-epoch
// time split (data / compute / all-reduce / optimizer / validation) and the 2-rank scaling
// efficiency ips(2) / (2 * ips(1)). BENCH_BATCH sets the total batch.
// Each pair runs twice: with the trainer's default backward (src/recompute.ts: 8 images per
// rank keep the whole tape, 16 in one rank recompute layers at 320 px) and with recompute
// forced on both sides (YOLO_TRAIN_RECOMPUTE=1), which compares the same compute path.
// Writes a table to stdout and JSON to <repo>/bench-results/train.json.
//
// Dataset: ../shared/datasets/coco128.yaml when present (the reference numbers are on
// coco128), else the embedded synthetic dataset. BENCH_EPOCHS (default 2; the first epoch
// decodes and caches images and is reported separately), BENCH_IMGSZ, BENCH_BATCH, BENCH_CFG.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const PKG = fileURLToPath(new URL('../../', import.meta.url));
const REPO = path.resolve(PKG, '../..');
const TRAIN = path.join(PKG, 'dist', 'src', 'cli.js');
const LAUNCH = path.join(REPO, 'launcher', 'dist', 'src', 'cli.js');
const coco = path.resolve(REPO, '../shared/datasets/coco128.yaml');
const data = process.env.BENCH_DATA ?? (fs.existsSync(coco) ? coco : 'synthetic.yaml');
const epochs = Number(process.env.BENCH_EPOCHS ?? 2);
const imgsz = process.env.BENCH_IMGSZ ?? '320';
const batch = Number(process.env.BENCH_BATCH ?? 16);
const cfg = process.env.BENCH_CFG ?? 'yolov5n.yaml';

interface EpochTiming {
  train: number;
  data: number;
  compute: number;
  all_reduce: number;
  optimizer: number;
  validation: number;
  images: number;
}

function run(
  world: number,
  dir: string,
  recompute: 'auto' | '1',
): { epochs: EpochTiming[]; wall: number; mapLine: string } {
  const args = [
    '--cfg',
    cfg,
    '--weights',
    '',
    '--data',
    data,
    '--imgsz',
    imgsz,
    '--batch-size',
    String(batch),
    '--epochs',
    String(epochs),
    '--backend',
    'wasm',
    '--noplots',
    '--project',
    dir,
    '--name',
    `w${world}-${recompute}`,
    '--workers',
    '1',
  ];
  const cmd = world === 1 ? [TRAIN, ...args] : [LAUNCH, '--nproc', String(world), '--standalone', 'train', ...args];
  const t0 = Date.now();
  const r = spawnSync(process.execPath, cmd, {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: {
      ...process.env,
      ...(recompute === '1' ? { YOLO_TRAIN_RECOMPUTE: '1' } : {}),
      YOLO_LAUNCH_DATASETS: process.env.YOLO_LAUNCH_DATASETS ?? path.join(os.tmpdir(), 'yolo-launch-bench-datasets'),
    },
  });
  const wall = (Date.now() - t0) / 1000;
  if (r.status !== 0)
    throw new Error(`world ${world} failed (${r.status}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  const log = fs
    .readFileSync(path.join(dir, `w${world}-${recompute}`, 'train.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { rank: number; msg: string; timing?: EpochTiming });
  const main = world === 1 ? -1 : 0;
  const ep = log.filter((x) => x.rank === main && x.msg === 'epoch end').map((x) => x.timing!);
  const mapLine =
    r.stdout
      .split('\n')
      .filter((l) => /\ball\s+\d+/.test(l))
      .pop() ?? '';
  return { epochs: ep, wall, mapLine: mapLine.replace(/^\[rank0\]:\s*/, '').trim() };
}

function summarise(e: EpochTiming[]): EpochTiming & { ips: number } {
  const steady = e.length > 1 ? e.slice(1) : e;
  const sum = (k: keyof EpochTiming): number => steady.reduce((s, x) => s + x[k], 0) / steady.length;
  const t = {
    train: sum('train'),
    data: sum('data'),
    compute: sum('compute'),
    all_reduce: sum('all_reduce'),
    optimizer: sum('optimizer'),
    validation: sum('validation'),
    images: sum('images'),
  };
  return { ...t, ips: t.images / (t.train / 1000) };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yl-bench-train-'));
try {
  const pairs = (['auto', '1'] as const).map((recompute) => {
    const one = run(1, dir, recompute);
    const two = run(2, dir, recompute);
    const s1 = summarise(one.epochs);
    const s2 = summarise(two.epochs);
    return { recompute, one, two, s1, s2, eff: s2.ips / (2 * s1.ips) };
  });
  const row = (name: string, s: ReturnType<typeof summarise>, wall: number): string =>
    `| ${name} | ${s.ips.toFixed(2)} | ${(s.train / 1000).toFixed(1)} | ${(s.data / 1000).toFixed(1)} | ${(s.compute / 1000).toFixed(1)} | ${(s.all_reduce / 1000).toFixed(1)} | ${(s.optimizer / 1000).toFixed(1)} | ${(s.validation / 1000).toFixed(1)} | ${wall.toFixed(0)} |`;
  const label = (r: 'auto' | '1'): string => (r === 'auto' ? 'default backward' : 'recompute forced');
  const table = [
    `train throughput: ${cfg} imgsz ${imgsz} batch ${batch} (total) on ${path.basename(data)}, wasm backend (one compute thread per rank, one loader worker per rank), ${os.availableParallelism()} cores, steady-state epochs (epoch 0 excluded when >1)`,
    '| ranks | images/s | epoch train s | data s | compute s | all-reduce s | optimizer+EMA s | validation s | run wall s |',
    '|---|---|---|---|---|---|---|---|---|',
    ...pairs.flatMap((p) => [
      row(`1 rank, ${label(p.recompute)}`, p.s1, p.one.wall),
      row(`2 ranks, ${label(p.recompute)}`, p.s2, p.two.wall),
    ]),
    ...pairs.map(
      (p) =>
        `scaling efficiency ips(2) / (2 ips(1)), ${label(p.recompute)}: ${p.eff.toFixed(3)}  (target >= 0.91; PyTorch DDP reference 0.91)`,
    ),
    ...pairs.flatMap((p) => [
      `final validation 1 rank, ${label(p.recompute)}: ${p.one.mapLine}`,
      `final validation 2 ranks, ${label(p.recompute)}: ${p.two.mapLine}`,
    ]),
  ].join('\n');
  process.stdout.write(table + '\n');
  const out = path.join(REPO, 'bench-results', 'train.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    JSON.stringify(
      {
        cfg,
        imgsz: Number(imgsz),
        batch,
        data,
        epochs,
        cores: os.availableParallelism(),
        runs: pairs.map((p) => ({
          backward: label(p.recompute),
          one_rank: { ...p.s1, wall_s: p.one.wall, per_epoch: p.one.epochs },
          two_ranks: { ...p.s2, wall_s: p.two.wall, per_epoch: p.two.epochs },
          scaling_efficiency: p.eff,
        })),
        date: new Date().toISOString(),
      },
      null,
      2,
    ),
  );
  process.stdout.write(`wrote ${out}\n`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
