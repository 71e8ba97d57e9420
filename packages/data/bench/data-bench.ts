/**
 * Data pipeline throughput on coco128: images/s of the mosaic training pipeline and of the
 * letterbox (rect) validation pipeline at 640 and 320, with 1 and 2 worker threads.
 * Reference: YOLOv5's loader (OpenCV, two threads) on the same machine class:
 * mosaic 640: 93, mosaic 320: 118, letterbox 640: 462 images/s.
 *
 *   npm run bench -w packages/data      (env: BENCH_DATA=<dataset.yaml>, BENCH_EPOCHS=n)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSplit, createDataLoader } from '../src/index.js';

const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
const repoRoot = path.resolve(packageRoot, '../..');
const dataYaml = process.env.BENCH_DATA ?? path.resolve(repoRoot, '../shared/datasets/coco128.yaml');
const epochs = Number(process.env.BENCH_EPOCHS ?? 2);

const YOLOV5: Record<string, number> = { 'mosaic-640': 93, 'mosaic-320': 118, 'letterbox-640': 462 };

interface Row {
  pipeline: 'mosaic' | 'letterbox';
  imgsz: number;
  workers: number;
  cache: 'ram' | 'none';
  images: number;
  seconds: number;
  imagesPerSecond: number;
  /** CPU time of the whole process per image (less sensitive to a busy machine than wall time). */
  cpuMsPerImage: number;
  yolov5ImagesPerSecond: number | null;
}

async function main(): Promise<void> {
  if (!fs.existsSync(dataYaml)) {
    console.error(`benchmark dataset ${dataYaml} not found; set BENCH_DATA=<dataset.yaml>`);
    process.exitCode = 1;
    return;
  }
  const { dataset } = await loadSplit(dataYaml, 'train', { writeCache: false });
  const n = dataset.imFiles.length;
  const rows: Row[] = [];
  const configs: Array<{ pipeline: 'mosaic' | 'letterbox'; imgsz: number; workers: number; cache: 'ram' | false }> = [];
  for (const pipeline of ['mosaic', 'letterbox'] as const)
    for (const imgsz of [640, 320]) for (const workers of [1, 2]) configs.push({ pipeline, imgsz, workers, cache: false });
  // for information: decoded images kept in RAM (--cache ram), which YOLOv5's figures do not use
  configs.push({ pipeline: 'mosaic', imgsz: 640, workers: 2, cache: 'ram' });
  for (const { pipeline, imgsz, workers, cache } of configs) {
    const augment = pipeline === 'mosaic';
    const loader = await createDataLoader({ dataset, batchSize: augment ? 16 : 32, imgsz, augment, rect: !augment, workers, threadBudget: workers, seed: 0, cache });
    try {
      const order = [...Array(n).keys()];
      // warm-up: worker start, sharp init, first decodes
      for await (const _ of loader.epoch(order.slice(0, Math.min(n, 32)), 99)) void _;
      const c0 = process.cpuUsage(); // main + worker threads + libuv pool: the whole process
      const t0 = process.hrtime.bigint();
      let images = 0;
      for (let e = 0; e < epochs; e++) for await (const b of loader.epoch(order, e)) images += b.shape[0];
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(c0);
      const cpuMsPerImage = (cpu.user + cpu.system) / 1000 / images;
      const ref = cache ? null : (YOLOV5[`${pipeline}-${imgsz}`] ?? null);
      rows.push({ pipeline, imgsz, workers, cache: cache || 'none', images, seconds, imagesPerSecond: images / seconds, cpuMsPerImage, yolov5ImagesPerSecond: ref });
      const last = rows[rows.length - 1]!;
      console.error(`${pipeline} ${imgsz} workers=${workers} cache=${last.cache}: ${last.imagesPerSecond.toFixed(1)} img/s, ${last.cpuMsPerImage.toFixed(1)} CPU-ms/img`);
    } finally {
      await loader.close();
    }
  }
  console.log('\n| pipeline | imgsz | workers | cache | images/s | CPU-ms/img | YOLOv5 (2 threads) | ratio |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const ref = r.yolov5ImagesPerSecond;
    console.log(`| ${r.pipeline} | ${r.imgsz} | ${r.workers} | ${r.cache} | ${r.imagesPerSecond.toFixed(1)} | ${r.cpuMsPerImage.toFixed(1)} | ${ref ?? '-'} | ${ref ? (r.imagesPerSecond / ref).toFixed(2) : '-'} |`);
  }
  const out = path.join(repoRoot, 'bench-results', 'data.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    JSON.stringify(
      {
        package: '@yolo-launch/data',
        dataset: dataYaml,
        images: n,
        epochs,
        machine: { cpus: os.availableParallelism(), model: os.cpus()[0]?.model ?? '', node: process.version, loadavg: os.loadavg() },
        date: new Date().toISOString(),
        results: rows,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nwritten ${out}`);
}

await main();
