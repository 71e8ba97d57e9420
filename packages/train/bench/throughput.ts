// `npm run bench -w packages/train`: training throughput of yolov5n at imgsz 320, weak
// scaling: one rank on BENCH_BATCH / 2 = 8 images vs two ranks (yolo-launch --nproc 2) on
// BENCH_BATCH = 16 in total, 8 images per rank, so both sides run the same per-rank batch and
// hence the same backward; the per-epoch time split (data / compute / all-reduce, of which the
// wait left after the backward / optimizer / validation) and the 2-rank scaling efficiency
// ips(2) / (2 * ips(1)). One loader worker per rank on both sides.
// Each pair runs with the trainer's default backward (src/recompute.ts: the whole tape at 8
// images per rank) and with recompute forced (YOLO_TRAIN_RECOMPUTE=1: the layer-by-layer
// backward, whose gradients DDP all-reduces while the backward runs); BENCH_BACKWARD=auto or
// =recompute runs one of them. With recompute forced the 2-rank run is repeated with
// YOLO_TRAIN_OVERLAP=0 (BENCH_OVERLAP_OFF=0 skips it) for the epoch split's wait after backward.
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
  all_reduce_wait: number;
  optimizer: number;
  validation: number;
  images: number;
}

function run(
  world: number,
  dir: string,
  recompute: 'auto' | '1',
  overlap = true,
): { epochs: EpochTiming[]; wall: number; mapLine: string; minWait: number } {
  const name = `w${world}-${recompute}${overlap ? '' : '-no-overlap'}`;
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
    String(world === 1 ? batch / 2 : batch),
    '--epochs',
    String(epochs),
    '--backend',
    'wasm',
    '--noplots',
    '--project',
    dir,
    '--name',
    name,
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
      ...(overlap ? {} : { YOLO_TRAIN_OVERLAP: '0' }),
      YOLO_LAUNCH_DATASETS: process.env.YOLO_LAUNCH_DATASETS ?? path.join(os.tmpdir(), 'yolo-launch-bench-datasets'),
    },
  });
  const wall = (Date.now() - t0) / 1000;
  if (r.status !== 0)
    throw new Error(`world ${world} failed (${r.status}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  const log = fs
    .readFileSync(path.join(dir, name, 'train.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { rank: number; msg: string; timing?: EpochTiming });
  const main = world === 1 ? -1 : 0;
  const ep = log.filter((x) => x.rank === main && x.msg === 'epoch end').map((x) => x.timing!);
  // the steady epochs' wait after the backward of the rank that waited least: the other
  // rank's extra wait is imbalance between the ranks, not communication
  const waits = Array.from({ length: world }, (_, rank) =>
    log
      .filter((x) => x.rank === (world === 1 ? -1 : rank) && x.msg === 'epoch end')
      .slice(ep.length > 1 ? 1 : 0)
      .reduce((sum, x) => sum + x.timing!.all_reduce_wait, 0),
  );
  const mapLine =
    r.stdout
      .split('\n')
      .filter((l) => /\ball\s+\d+/.test(l))
      .pop() ?? '';
  return { epochs: ep, wall, mapLine: mapLine.replace(/^\[rank0\]:\s*/, '').trim(), minWait: Math.min(...waits) };
}

function summarise(e: EpochTiming[]): EpochTiming & { ips: number } {
  const steady = e.length > 1 ? e.slice(1) : e;
  const sum = (k: keyof EpochTiming): number => steady.reduce((s, x) => s + x[k], 0) / steady.length;
  const t = {
    train: sum('train'),
    data: sum('data'),
    compute: sum('compute'),
    all_reduce: sum('all_reduce'),
    all_reduce_wait: sum('all_reduce_wait'),
    optimizer: sum('optimizer'),
    validation: sum('validation'),
    images: sum('images'),
  };
  return { ...t, ips: t.images / (t.train / 1000) };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yl-bench-train-'));
try {
  const which = process.env.BENCH_BACKWARD;
  const backwards = (['auto', '1'] as const).filter(
    (b) => !which || (which === 'auto' ? b === 'auto' : which === 'recompute' && b === '1'),
  );
  const pairs = backwards.map((recompute) => {
    const one = run(1, dir, recompute);
    const two = run(2, dir, recompute);
    const s1 = summarise(one.epochs);
    const s2 = summarise(two.epochs);
    // the recomputing backward overlaps the all-reduce: the same 2-rank run without it
    const plain = recompute === '1' && process.env.BENCH_OVERLAP_OFF !== '0' ? run(2, dir, recompute, false) : null;
    const sPlain = plain ? summarise(plain.epochs) : null;
    return { recompute, one, two, s1, s2, eff: s2.ips / (2 * s1.ips), plain, sPlain };
  });
  const row = (name: string, s: ReturnType<typeof summarise>, wall: number): string =>
    `| ${name} | ${s.ips.toFixed(2)} | ${(s.train / 1000).toFixed(1)} | ${(s.data / 1000).toFixed(1)} | ${(s.compute / 1000).toFixed(1)} | ${(s.all_reduce / 1000).toFixed(1)} | ${(s.all_reduce_wait / 1000).toFixed(2)} | ${(s.optimizer / 1000).toFixed(1)} | ${(s.validation / 1000).toFixed(1)} | ${wall.toFixed(0)} |`;
  const label = (r: 'auto' | '1'): string => (r === 'auto' ? 'default backward' : 'recompute forced');
  const table = [
    `train throughput (weak scaling): ${cfg} imgsz ${imgsz}, ${batch / 2} images per rank (batch ${batch / 2} at 1 rank, ${batch} at 2) on ${path.basename(data)}, wasm backend (one compute thread per rank, one loader worker per rank), ${os.availableParallelism()} cores, load average ${os.loadavg()[0]!.toFixed(1)}, steady-state epochs (epoch 0 excluded when >1)`,
    '| ranks | images/s | epoch train s | data s | compute s | all-reduce s | of which wait after backward s | optimizer+EMA s | validation s | run wall s |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...pairs.flatMap((p) => [
      row(`1 rank, ${label(p.recompute)}`, p.s1, p.one.wall),
      row(`2 ranks, ${label(p.recompute)}`, p.s2, p.two.wall),
      ...(p.plain && p.sPlain
        ? [row(`2 ranks, ${label(p.recompute)}, YOLO_TRAIN_OVERLAP=0`, p.sPlain, p.plain.wall)]
        : []),
    ]),
    ...pairs.map(
      (p) =>
        `weak scaling efficiency ips(2) / (2 ips(1)), ${label(p.recompute)}: ${p.eff.toFixed(3)}  (target >= 0.95)`,
    ),
    ...pairs.flatMap((p) =>
      p.sPlain
        ? [
            `epoch split, wait after backward (rank 0, incl. waiting for the slower rank): ${(p.sPlain.all_reduce_wait / 1000).toFixed(2)} s without overlap, ${(p.s2.all_reduce_wait / 1000).toFixed(2)} s with (drop ${(100 * (1 - p.s2.all_reduce_wait / p.sPlain.all_reduce_wait)).toFixed(0)}%)`,
            `epoch split, wait after backward of the rank that waited least (steady epochs, total): ${(p.plain!.minWait / 1000).toFixed(2)} s without overlap, ${(p.two.minWait / 1000).toFixed(2)} s with (drop ${(100 * (1 - p.two.minWait / p.plain!.minWait)).toFixed(0)}%; per step: npm run bench:overlap -w packages/train)`,
          ]
        : [],
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
        batch_per_rank: batch / 2,
        data,
        epochs,
        cores: os.availableParallelism(),
        runs: pairs.map((p) => ({
          backward: label(p.recompute),
          one_rank: { ...p.s1, wall_s: p.one.wall, per_epoch: p.one.epochs },
          two_ranks: { ...p.s2, wall_s: p.two.wall, per_epoch: p.two.epochs, least_rank_wait: p.two.minWait },
          ...(p.plain && p.sPlain
            ? {
                two_ranks_no_overlap: {
                  ...p.sPlain,
                  wall_s: p.plain.wall,
                  per_epoch: p.plain.epochs,
                  least_rank_wait: p.plain.minWait,
                },
              }
            : {}),
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
