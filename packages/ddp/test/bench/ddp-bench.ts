/**
 * `npm run bench -w packages/ddp`: the bucketed gradient all-reduce of DistributedDataParallel
 * at world 2 over loopback, for the YOLOv5n (7.5 MB) and YOLOv5s (28.9 MB) gradients, against
 * comm's raw all-reduce of the same bytes. Prints a table, writes bench-results/ddp.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWorld } from '../spawn-world.js';

interface Row {
  model: string;
  params: number;
  tensors: number;
  megabytes: number;
  world: number;
  backend: string;
  rawAllReduceMs: { median: number; p90: number };
  ddp: Array<{
    config: string;
    buckets: number;
    ms: { median: number; p90: number };
    overheadMs: number;
    allReduceWaitMs: number;
    downloadMs: number;
    uploadMs: number;
  }>;
}

interface SyncBnRow {
  layers: number;
  collectivesPerStep: number;
  localMs: number;
  syncMs: number;
  overheadMs: number;
}

// References measured on this machine (issue 5): gloo all-reduce of 7.5 MB at world 2, and
// PyTorch's YOLOv5n step (imgsz 320, batch 8 per rank, one thread): 322 ms alone, 354 ms DDP.
const GLOO_7_5MB_MS = 5.0;
const TORCH_STEP_MS = 322;

const repoRoot = fileURLToPath(new URL('../../../../../', import.meta.url));

/** Our own YOLOv5n step (imgsz 320, batch 8, wasm) from the backend bench, when it has run. */
function ourStepMs(): number | null {
  const file = path.join(repoRoot, 'bench-results', 'backend.json');
  if (!existsSync(file)) return null;
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as {
      steps?: Array<{ bn?: string; imgsz?: number; batch?: number; medianMs?: number }>;
    };
    const step = j.steps?.find((s) => s.bn === 'fused' && s.imgsz === 320 && s.batch === 8) ?? j.steps?.[0];
    return typeof step?.medianMs === 'number' ? step.medianMs : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const world = Number(process.env.BENCH_WORLD ?? 2);
  const outcomes = await runWorld<{ rank: number; rows: Row[]; syncBn: SyncBnRow }>(
    '../bench/bench-rank.js',
    world,
    {},
    600_000,
  );
  for (const o of outcomes) {
    if (o.code !== 0 || !o.result)
      throw new Error(`bench rank ${o.rank} failed (${o.code ?? o.signal}): ${o.stderr.slice(-3000)}`);
  }
  const rows = outcomes[0]!.result!.rows;
  const ours = ourStepMs();
  const syncBn = outcomes[0]!.result!.syncBn;
  const f = (x: number) => x.toFixed(2);
  console.log(
    `\nDDP gradient all-reduce, world ${world}, loopback, backend ${rows[0]?.backend} (median / p90 of ${process.env.BENCH_ITERS ?? 20}, max over ranks)\n`,
  );
  console.log(
    '| model | MB | tensors | path | buckets | median ms | p90 ms | DDP overhead ms (paired median) | overhead / 322 ms step | of which: wait / to host / back (ms) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.model} | ${r.megabytes} | ${r.tensors} | raw pg.allReduce (one flat buffer) | 1 | ${f(r.rawAllReduceMs.median)} | ${f(r.rawAllReduceMs.p90)} | | | |`,
    );
    for (const d of r.ddp) {
      if (d.config.startsWith('copy only')) {
        console.log(
          `| ${r.model} | ${r.megabytes} | ${r.tensors} | ${d.config} | ${d.buckets} | ${f(d.ms.median)} | ${f(d.ms.p90)} | (${f(d.ms.median)} with no overlap) | ${f((100 * d.ms.median) / TORCH_STEP_MS)}% | ${f(d.allReduceWaitMs)} / ${f(d.downloadMs)} / ${f(d.uploadMs)} |`,
        );
        continue;
      }
      console.log(
        `| ${r.model} | ${r.megabytes} | ${r.tensors} | ${d.config} | ${d.buckets} | ${f(d.ms.median)} | ${f(d.ms.p90)} | ${f(d.overheadMs)} | ${f((100 * d.overheadMs) / TORCH_STEP_MS)}% | ${f(d.allReduceWaitMs)} / ${f(d.downloadMs)} / ${f(d.uploadMs)} |`,
      );
    }
  }
  const n = rows.find((r) => r.model === 'yolov5n');
  if (n) {
    console.log(
      `\nreference: gloo all-reduces 7.5 MB at world 2 in ${GLOO_7_5MB_MS} ms; ours (DDP, default buckets): ${f(n.ddp[0]!.ms.median)} ms; raw: ${f(n.rawAllReduceMs.median)} ms`,
    );
    console.log(
      `target: DDP adds < 5% of a step on top of the raw all-reduce (5% of ${TORCH_STEP_MS} ms = ${f(0.05 * TORCH_STEP_MS)} ms)`,
    );
    if (ours !== null) {
      const d = n.ddp[0]!;
      console.log(
        `our YOLOv5n step (backend bench, wasm, 320, batch 8): ${f(ours)} ms; bucketed all-reduce = ${f((100 * d.ms.median) / ours)}% of it, DDP overhead = ${f((100 * d.overheadMs) / ours)}%`,
      );
    }
  }
  console.log(
    `\nSyncBatchNorm, YOLOv5n's ${syncBn.layers} BN layers forward + backward (${syncBn.collectivesPerStep} blocking all-reduces) on tiny inputs: ` +
      `${f(syncBn.syncMs)} ms vs ${f(syncBn.localMs)} ms with local moments: +${f(syncBn.overheadMs)} ms per step`,
  );
  const dir = path.join(repoRoot, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'ddp.json');
  writeFileSync(
    file,
    JSON.stringify(
      {
        package: '@yolo-launch/ddp',
        date: new Date().toISOString(),
        world,
        references: { glooAllReduce7_5MBms: GLOO_7_5MB_MS, torchStepMs: TORCH_STEP_MS, ourYolov5nStepMs: ours },
        rows,
        syncBn,
      },
      null,
      2,
    ),
  );
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
