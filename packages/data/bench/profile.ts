/**
 * Where our pipeline's CPU time goes per image, in one thread (workers 0), for the README's
 * split next to YOLOv5's cProfile split:
 *
 * - decode + resize (libjpeg-turbo through the addon, or libvips; on libuv's pool, invisible to
 *   a JS profiler): the process CPU of
 *   a cold pass minus that of the same pass with every image already in the RAM cache;
 * - the rest: the cached pass under V8's sampling profiler, self time by function, grouped
 *   into stages (GC is V8's "(garbage collector)" node);
 * - transfer between threads: structured cloning a batch with its buffers in the transfer
 *   list, which is what the worker's postMessage does.
 */
import { Session } from 'node:inspector/promises';
import type { Profiler } from 'node:inspector';
import { createDataLoader, type YoloDataset, type LoadedBatch } from '../src/index.js';
import type { ReferenceRun } from './yolov5-reference.js';

export interface StageProfile {
  pipeline: string;
  imgsz: number;
  images: number;
  msPerImage: Record<string, number>;
}

// function name -> stage; JS functions under none of them count as "other"
const STAGES: Array<[string, RegExp]> = [
  ['warp (random_perspective)', /^(warpImage|randomPerspective|randomPerspectiveMatrix|boxCandidate|blendRgb)$/],
  ['HSV', /^augmentHsv/],
  ['flips', /^flip(Lr|Ud)$/],
  ['mosaic canvas + placement', /^(loadMosaic|blit|newImage|composeCanvas|fillUncovered|rowGaps)$/],
  ['letterbox', /^letterbox/],
  ['collate', /^collate/],
  ['GC', /^\(garbage collector\)$/],
];
const OTHER = 'other (labels, RNG, JS glue)';
const IGNORED = new Set(['(idle)', '(program)', '(root)']);

function namedStage(functionName: string): string | null {
  for (const [stage, re] of STAGES) if (re.test(functionName)) return stage;
  return null;
}

async function pipelineCpuMs(
  dataset: YoloDataset,
  c: ReferenceRun,
  images: number,
  cache: 'ram' | false,
  session?: Session,
): Promise<{ cpuMs: number; batches: LoadedBatch[] }> {
  const augment = c.pipeline === 'mosaic';
  const loader = await createDataLoader({
    dataset,
    batchSize: c.batch,
    imgsz: c.imgsz,
    augment,
    rect: !augment,
    workers: 0,
    seed: 0,
    cache,
  });
  try {
    const order = [...Array(Math.min(images, dataset.imFiles.length)).keys()];
    let last: LoadedBatch | null = null; // kept for the transfer measurement, the others recycled
    await session?.post('Profiler.start');
    const c0 = process.cpuUsage();
    for await (const b of loader.epoch(order, 0)) {
      if (last) loader.recycle(last);
      last = b;
    }
    const cpu = process.cpuUsage(c0);
    return { cpuMs: (cpu.user + cpu.system) / 1000, batches: last ? [last] : [] };
  } finally {
    await loader.close();
  }
}

/**
 * Sampled time by stage: each sample goes to the innermost function on its stack that names
 * a stage (so TypedArray.fill inside letterbox counts as letterbox), else to "other".
 */
function stageTimes(profile: Profiler.Profile): Map<string, number> {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOfNode = (id: number): string | null => {
    const name = byNode.get(id)?.callFrame.functionName ?? '';
    if (IGNORED.has(name)) return null;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const stage = namedStage(byNode.get(at)?.callFrame.functionName ?? '');
      if (stage) return stage;
    }
    return OTHER;
  };
  const out = new Map<string, number>();
  const deltas = profile.timeDeltas ?? [];
  (profile.samples ?? []).forEach((id, k) => {
    const stage = stageOfNode(id);
    if (stage) out.set(stage, (out.get(stage) ?? 0) + (deltas[k + 1] ?? 0) / 1000);
  });
  return out;
}

function transferMsPerImage(batches: LoadedBatch[]): number {
  const t0 = performance.now();
  let n = 0;
  for (const b of batches) {
    structuredClone(b, { transfer: [b.images.buffer as ArrayBuffer, b.targets.buffer as ArrayBuffer] });
    n += b.shape[0];
  }
  return (performance.now() - t0) / n;
}

export async function profileOurs(dataset: YoloDataset, c: ReferenceRun, images: number): Promise<StageProfile> {
  const cold = await pipelineCpuMs(dataset, c, images, false);
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  const cached = await pipelineCpuMs(dataset, c, images, 'ram', session);
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  const n = Math.min(images, dataset.imFiles.length);
  const stages = stageTimes(profile);
  const profiled = [...stages.values()].reduce((s, x) => s + x, 0);
  const msPerImage: Record<string, number> = {
    'decode + resize': Math.max(0, cold.cpuMs - cached.cpuMs) / n,
  };
  // scale the sampled split to the measured CPU of the cached pass
  for (const [stage, ms] of [...stages].sort((a, b) => b[1] - a[1]))
    msPerImage[stage] = (ms / profiled) * (cached.cpuMs / n);
  msPerImage['transfer between threads'] = transferMsPerImage(cached.batches);
  return { pipeline: c.pipeline, imgsz: c.imgsz, images: n, msPerImage };
}
