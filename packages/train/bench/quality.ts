// `npm run bench:quality -w packages/train` (not in CI; long): the quality recipe
// through `yolo-launch --nproc 2 train`: yolov5n from scratch on ../shared/datasets/shapes.yaml,
// imgsz 160, batch 16, 150 epochs, hyp.scratch-low, seed 0, wasm. YOLOv5 v7.0's own train.py
// ends at mAP50 0.861 / mAP50-95 0.649 here (target: mAP50-95 >= 0.617).
//
// Validation runs every epoch (not --noval) so the mAP-per-epoch curve can be reported; it
// does not change training. Writes bench-results/train-quality.json with the curve.
// Env: BENCH_QUALITY_EPOCHS (150), BENCH_QUALITY_NPROC (2), BENCH_QUALITY_DATA;
// BENCH_QUALITY=0 skips it (it is part of `npm run bench` and takes ~35 min on 2 cores).

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const PKG = fileURLToPath(new URL('../../', import.meta.url));
const REPO = path.resolve(PKG, '../..');
const LAUNCH = path.join(REPO, 'launcher', 'dist', 'src', 'cli.js');
if (process.env.BENCH_QUALITY === '0') {
  process.stdout.write('shapes quality recipe skipped (BENCH_QUALITY=0)\n');
  process.exit(0);
}
const data = process.env.BENCH_QUALITY_DATA ?? path.resolve(REPO, '../shared/datasets/shapes.yaml');
const epochs = process.env.BENCH_QUALITY_EPOCHS ?? '150';
const nproc = process.env.BENCH_QUALITY_NPROC ?? '2';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yl-bench-quality-'));
const t0 = Date.now();
const r = spawnSync(
  process.execPath,
  [
    LAUNCH,
    '--nproc',
    nproc,
    '--standalone',
    'train',
    '--cfg',
    'yolov5n.yaml',
    '--weights',
    '',
    '--data',
    data,
    '--imgsz',
    '160',
    '--batch-size',
    '16',
    '--epochs',
    epochs,
    '--hyp',
    'hyp.scratch-low.yaml',
    '--seed',
    '0',
    '--backend',
    'wasm',
    '--project',
    dir,
    '--name',
    'shapes',
  ],
  { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] },
);
const wall = (Date.now() - t0) / 1000;
const csv = path.join(dir, 'shapes', 'results.csv');
const rows = fs.existsSync(csv)
  ? fs
      .readFileSync(csv, 'utf8')
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((l) => l.split(',').map((c) => Number(c.trim())))
  : [];
const curve = rows.map((c) => ({ epoch: c[0], p: c[4], r: c[5], map50: c[6], map: c[7] }));
const last = curve[curve.length - 1];
const out = path.join(REPO, 'bench-results', 'train-quality.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(
  out,
  JSON.stringify(
    {
      recipe: {
        cfg: 'yolov5n.yaml',
        imgsz: 160,
        batch: 16,
        epochs: Number(epochs),
        hyp: 'hyp.scratch-low.yaml',
        seed: 0,
        nproc: Number(nproc),
      },
      exit: r.status,
      wall_s: wall,
      final: last,
      target_map: 0.617,
      reference: { map50: 0.861, map: 0.649, wall_s: 431 },
      curve,
    },
    null,
    2,
  ),
);
process.stdout.write(
  `\nshapes quality: final mAP50 ${last?.map50} mAP50-95 ${last?.map} (target >= 0.617), wall ${wall.toFixed(0)} s; wrote ${out}\n`,
);
process.exitCode = r.status ?? 1;
