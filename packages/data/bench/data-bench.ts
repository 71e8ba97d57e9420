/**
 * Data pipeline throughput on coco128, ours against YOLOv5 v7.0's in the same run: images/s
 * and CPU-ms per image of the mosaic training pipeline (batch 16, hyp.scratch-low) at 640
 * and 320, and of the rect letterbox validation pipeline (batch 32, pad 0.5) at 640 and 320,
 * with the same number of worker threads (ours) and DataLoader worker processes (YOLOv5).
 * Each configuration is measured `repeats` times, ours then YOLOv5's, alternating; the
 * result is the median of the paired ratios.
 *
 *   YOLOV5_DIR=/path/to/yolov5-v7.0 npm run bench -w packages/data
 *   env: BENCH_DATA=<dataset.yaml> BENCH_EPOCHS=1 BENCH_REPEATS=3 (0: profile only) BENCH_RECYCLE=1
 *        BENCH_WORKERS=2 YOLOV5_PYTHON=/usr/bin/python3 BENCH_PROFILE=1 (add the per-stage split)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSplit, createDataLoader, dataPathDescription, type YoloDataset } from '../src/index.js';
import { Yolov5Reference, referenceUnavailable, type ReferenceRun, type ReferenceProfile } from './yolov5-reference.js';
import { profileOurs, type StageProfile } from './profile.js';

const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
const repoRoot = path.resolve(packageRoot, '../..');
const dataYaml = process.env.BENCH_DATA ?? path.resolve(repoRoot, '../shared/datasets/coco128.yaml');
const epochs = Number(process.env.BENCH_EPOCHS ?? 1);
const repeats = Number(process.env.BENCH_REPEATS ?? 3);
const workers = Number(process.env.BENCH_WORKERS ?? Math.min(2, os.availableParallelism()));
const profileImages = process.env.BENCH_PROFILE === '1' ? 64 : 0;
// BENCH_RECYCLE=0 measures the loader without buffer reuse (as before loader.recycle existed)
const recycle = process.env.BENCH_RECYCLE !== '0';
const WARMUP_IMAGES = 32;

interface Config extends ReferenceRun {
  cache: 'ram' | false;
}

interface Timing {
  imagesPerSecond: number;
  /** CPU time of the whole process tree per image (main, worker threads/processes, libuv pool). */
  cpuMsPerImage: number;
}

interface Row {
  pipeline: Config['pipeline'];
  imgsz: number;
  batch: number;
  workers: number;
  cache: 'ram' | 'none';
  ours: Timing[];
  yolov5: Timing[];
  /** Medians over repeats; ratios are medians of the per-repeat ratios ours / YOLOv5. */
  median: { ours: Timing; yolov5: Timing | null; speedRatio: number | null; cpuRatio: number | null };
}

const CONFIGS: Config[] = [
  { pipeline: 'mosaic', imgsz: 640, batch: 16, workers, cache: false },
  { pipeline: 'mosaic', imgsz: 320, batch: 16, workers, cache: false },
  { pipeline: 'letterbox', imgsz: 640, batch: 32, workers, cache: false },
  { pipeline: 'letterbox', imgsz: 320, batch: 32, workers, cache: false },
  { pipeline: 'mosaic', imgsz: 640, batch: 16, workers, cache: 'ram' },
];

async function timeOurs(dataset: YoloDataset, c: Config): Promise<Timing> {
  const augment = c.pipeline === 'mosaic';
  const loader = await createDataLoader({
    dataset,
    batchSize: c.batch,
    imgsz: c.imgsz,
    augment,
    rect: !augment,
    workers: c.workers,
    threadBudget: c.workers,
    localWorldSize: 1,
    seed: 0,
    cache: c.cache,
  });
  try {
    const order = [...Array(dataset.imFiles.length).keys()];
    // warm-up: worker start, sharp init, first decodes; its batch buffers are recycled like
    // those of the epochs before it in a training run
    for await (const b of loader.epoch(order.slice(0, Math.min(order.length, WARMUP_IMAGES)), 99))
      if (recycle) loader.recycle(b);
    const c0 = process.cpuUsage(); // main + worker threads + libuv pool: the whole process
    const t0 = process.hrtime.bigint();
    let images = 0;
    for (let e = 0; e < epochs; e++) {
      for await (const b of loader.epoch(order, e)) {
        images += b.shape[0];
        if (recycle) loader.recycle(b); // as the trainer does once the batch is a tensor
      }
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(c0);
    return { imagesPerSecond: images / seconds, cpuMsPerImage: (cpu.user + cpu.system) / 1000 / images };
  } finally {
    await loader.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function summarize(c: Config, ours: Timing[], yolov5: Timing[]): Row {
  const med = (ts: Timing[]): Timing => ({
    imagesPerSecond: median(ts.map((t) => t.imagesPerSecond)),
    cpuMsPerImage: median(ts.map((t) => t.cpuMsPerImage)),
  });
  const paired = (f: (o: Timing, y: Timing) => number): number | null =>
    yolov5.length ? median(ours.map((o, i) => f(o, yolov5[i]!))) : null;
  return {
    pipeline: c.pipeline,
    imgsz: c.imgsz,
    batch: c.batch,
    workers: c.workers,
    cache: c.cache || 'none',
    ours,
    yolov5,
    median: {
      ours: med(ours),
      yolov5: yolov5.length ? med(yolov5) : null,
      speedRatio: paired((o, y) => o.imagesPerSecond / y.imagesPerSecond),
      cpuRatio: paired((o, y) => o.cpuMsPerImage / y.cpuMsPerImage),
    },
  };
}

function printTable(rows: Row[], anchor: string): void {
  const f = (x: number | null | undefined, d = 1): string => (x === null || x === undefined ? '–' : x.toFixed(d));
  console.log(`\nOur pixel path: ${dataPathDescription()}`);
  console.log(
    `Same run, ${workers} worker(s) each, ${epochs} epoch(s) per measurement, medians of ${repeats}${recycle ? '' : ', batch buffers NOT recycled'}; anchor: ${anchor}`,
  );
  console.log(
    '| pipeline | imgsz | cache | ours img/s | YOLOv5 img/s | speed ratio | ours CPU-ms/img | YOLOv5 CPU-ms/img | CPU ratio |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const m = r.median;
    console.log(
      `| ${r.pipeline} | ${r.imgsz} | ${r.cache} | ${f(m.ours.imagesPerSecond)} | ${f(m.yolov5?.imagesPerSecond)} | ${f(m.speedRatio, 2)} | ${f(m.ours.cpuMsPerImage)} | ${f(m.yolov5?.cpuMsPerImage)} | ${f(m.cpuRatio, 2)} |`,
    );
  }
}

function printProfiles(ours: StageProfile[], theirs: ReferenceProfile[]): void {
  for (const p of ours) {
    console.log(`\nOurs, ${p.pipeline} ${p.imgsz}, CPU-ms per image by stage (${p.images} images, one thread):`);
    for (const [stage, ms] of Object.entries(p.msPerImage)) console.log(`  ${stage.padEnd(40)} ${ms.toFixed(2)}`);
  }
  for (const p of theirs) {
    console.log(
      `\nYOLOv5, ${p.pipeline} ${p.imgsz}, cProfile ms per image by stage (${p.images} images, one process):`,
    );
    for (const [stage, ms] of Object.entries(p.msPerImage)) console.log(`  ${stage.padEnd(40)} ${ms.toFixed(2)}`);
  }
}

async function main(): Promise<void> {
  if (!fs.existsSync(dataYaml)) {
    console.error(`benchmark dataset ${dataYaml} not found; set BENCH_DATA=<dataset.yaml>`);
    process.exitCode = 1;
    return;
  }
  const { dataset, config } = await loadSplit(dataYaml, 'train', { writeCache: false });
  const unavailable = referenceUnavailable();
  if (unavailable) console.error(`compared with nothing: ${unavailable}`);
  const reference = unavailable ? null : Yolov5Reference.start(config.path, config.train[0]!);
  const rows: Row[] = [];
  const ourProfiles: StageProfile[] = [];
  const theirProfiles: ReferenceProfile[] = [];
  try {
    for (const c of repeats > 0 ? CONFIGS : []) {
      const ours: Timing[] = [];
      const yolov5: Timing[] = [];
      for (let k = 0; k < repeats; k++) {
        ours.push(await timeOurs(dataset, c));
        if (reference) {
          const t = await reference.time(c, epochs, WARMUP_IMAGES);
          yolov5.push({ imagesPerSecond: t.images / t.seconds, cpuMsPerImage: (1000 * t.cpuSeconds) / t.images });
        }
      }
      const row = summarize(c, ours, yolov5);
      rows.push(row);
      const m = row.median;
      console.error(
        `${c.pipeline} ${c.imgsz} cache=${row.cache}: ours ${m.ours.imagesPerSecond.toFixed(1)} img/s ${m.ours.cpuMsPerImage.toFixed(1)} CPU-ms/img` +
          (m.yolov5
            ? `; YOLOv5 ${m.yolov5.imagesPerSecond.toFixed(1)} img/s ${m.yolov5.cpuMsPerImage.toFixed(1)} CPU-ms/img; ratio ${m.speedRatio!.toFixed(2)}`
            : ''),
      );
    }
    if (profileImages > 0) {
      for (const c of CONFIGS.filter((x) => !x.cache && !(x.pipeline === 'letterbox' && x.imgsz === 320))) {
        ourProfiles.push(await profileOurs(dataset, c, profileImages));
        if (reference) theirProfiles.push(await reference.profile(c, profileImages));
      }
    }
  } finally {
    await reference?.close();
  }
  const anchor = unavailable
    ? `none (compared with nothing: ${unavailable})`
    : `YOLOv5 v7.0 create_dataloader from ${process.env.YOLOV5_DIR}`;
  printTable(rows, anchor);
  printProfiles(ourProfiles, theirProfiles);
  const out = path.join(repoRoot, 'bench-results', 'data.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const machine = {
    cpus: os.availableParallelism(),
    model: os.cpus()[0]?.model ?? '',
    node: process.version,
    loadavg: os.loadavg(),
  };
  const json = {
    package: '@yolo-launch/data',
    dataset: dataYaml,
    images: dataset.imFiles.length,
    epochs,
    repeats,
    workers,
    recycle,
    anchor,
    pixelPath: dataPathDescription(),
    machine,
    date: new Date().toISOString(),
    results: rows,
    profiles: { ours: ourProfiles, yolov5: theirProfiles },
  };
  fs.writeFileSync(out, JSON.stringify(json, null, 2) + '\n');
  console.log(`\nwritten ${out}`);
}

await main();
