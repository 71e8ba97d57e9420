// `npm run bench:overlap -w packages/train`: what the all-reduce overlapped with the backward
// hides, and the weak scaling of the compute path, in one run of a few minutes.
//
// Rounds of: 2 ranks (yolo-launch --standalone --nproc 2 --threads 1) whose steps alternate
// overlap on / off, then 1 rank (--nproc 1 --threads 1) on the same per-rank batch; each rank
// runs bench/overlap-rank.ts (yolov5n, BENCH_BATCH=8 random images per rank at BENCH_IMGSZ=160,
// the recomputing backward, ddp's reduceGradients; no data loader, no optimizer). Reported,
// as medians over BENCH_ROUNDS (3) x BENCH_STEPS (10) steps per mode:
// - the all-reduce left visible after the backward per step: the wait of the rank that
//   finished its backward last (the min over ranks; the other rank also waits for it, which is
//   imbalance, not communication), and rank 0's wait as the trainer's epoch split shows it;
// - its drop with overlap against without (target >= 80%), over same-run medians;
// - weak scaling efficiency = step ms at 1 rank / step ms at 2 ranks (the slower rank's step,
//   8 images per rank either way: ips(2) / (2 ips(1))), target >= 0.95; against 1 rank alone
//   on the machine (its helper threads get the idle second core) and against 1 rank pinned to
//   one core (taskset -c 0; BENCH_PIN=0 skips it), where each rank has one core on both sides;
// - CPU ms per step (process: main thread, comm's engine, ZeroMQ, V8) and CPU per thread.
// BENCH_ONE_RANK=0 skips the 1-rank runs (overlap figures only). BENCH_DISTILL_FEAT=new|old
// trains with the --distill-feat loss and adapters (bench/overlap-distill.ts). Writes
// bench-results/train-overlap.json (train-overlap-distill-<order>.json with BENCH_DISTILL_FEAT).

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OverlapMode, RankReport } from './overlap-rank.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const REPO = path.resolve(HERE, '../../../..');
const LAUNCH = path.join(REPO, 'launcher', 'dist', 'src', 'cli.js');
const RANK_SCRIPT = path.join(HERE, 'overlap-rank.js');
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const withOneRank = process.env.BENCH_ONE_RANK !== '0'; // 0: overlap only, no weak scaling
// the 1-rank run once more on one core (BENCH_PIN=0 skips it; needs Linux's taskset)
const pinOneRank = process.env.BENCH_PIN !== '0' && os.platform() === 'linux';

const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * One launch of `world` ranks; every rank's report. `oneCore`: the whole job pinned to CPU 0
 * (taskset), so that a single rank has one core as each of 2 ranks on 2 cores has, instead of
 * a second core for its helper threads (V8's GC and compiler, comm, ZeroMQ).
 */
function launch(world: number, dir: string, oneCore = false): RankReport[] {
  const out = path.join(dir, `w${world}.json`);
  const launcher = [process.execPath, LAUNCH, '--standalone', '--nproc', String(world), '--threads', '1', RANK_SCRIPT];
  const cmd = oneCore ? ['taskset', '-c', '0', ...launcher] : launcher;
  const r = spawnSync(cmd[0]!, cmd.slice(1), {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
    env: { ...process.env, BENCH_OVERLAP_OUT: out },
    timeout: 900_000,
  });
  if (r.status !== 0 || !fs.existsSync(out))
    throw new Error(
      `world ${world} failed (${r.status ?? r.signal}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-3000)}`,
    );
  const reports = JSON.parse(fs.readFileSync(out, 'utf8')) as RankReport[];
  fs.rmSync(out);
  return reports;
}

/** Per step (matched by index across ranks): the visible wait, rank 0's wait, the slower rank's step. */
interface StepView {
  mode: OverlapMode;
  visibleWaitMs: number;
  rank0WaitMs: number;
  stepMs: number;
  backwardMs: number;
  cpuMs: number;
  mainCpuMs: number;
}

function stepViews(reports: readonly RankReport[]): StepView[] {
  return reports[0]!.steps.map((s0, i) => {
    const at = reports.map((r) => r.steps[i]!);
    return {
      mode: s0.mode,
      visibleWaitMs: Math.min(...at.map((s) => s.waitMs)),
      rank0WaitMs: s0.waitMs,
      stepMs: Math.max(...at.map((s) => s.stepMs)),
      backwardMs: Math.max(...at.map((s) => s.backwardMs)),
      cpuMs: median(at.map((s) => s.cpuMs)),
      mainCpuMs: median(at.map((s) => s.mainCpuMs)),
    };
  });
}

interface ModeSummary {
  mode: OverlapMode;
  steps: number;
  visibleWaitMs: number;
  rank0WaitMs: number;
  stepMs: number;
  backwardMs: number;
  cpuMsPerRank: number;
  mainCpuMsPerRank: number;
}

function summarise(mode: OverlapMode, views: readonly StepView[]): ModeSummary {
  const of = views.filter((v) => v.mode === mode);
  const m = (k: keyof Omit<StepView, 'mode'>) => median(of.map((v) => v[k]));
  return {
    mode,
    steps: of.length,
    visibleWaitMs: m('visibleWaitMs'),
    rank0WaitMs: m('rank0WaitMs'),
    stepMs: m('stepMs'),
    backwardMs: m('backwardMs'),
    cpuMsPerRank: m('cpuMs'),
    mainCpuMsPerRank: m('mainCpuMs'),
  };
}

/**
 * CPU ms per rank and run of the busiest threads: the main (compute) thread, then the others
 * by rank within their process (thread ids differ between runs): `node#1` is each process's
 * busiest other thread named node (comm's engine, the V8 platform threads share that name).
 */
function threadTable(reports: readonly RankReport[][]): Record<string, number> {
  const sum: Record<string, number> = {};
  const runs = reports.reduce((n, r) => n + r.length, 0);
  for (const r of reports.flat()) {
    const byName = new Map<string, number[]>();
    for (const [key, ms] of Object.entries(r.threadCpuMs)) {
      const name = key === 'main' ? 'main' : key.slice(0, key.lastIndexOf('/'));
      byName.set(name, [...(byName.get(name) ?? []), ms]);
    }
    for (const [name, list] of byName)
      list
        .sort((a, b) => b - a)
        .forEach((ms, i) => {
          const label = name === 'main' ? name : `${name}#${i + 1}`;
          sum[label] = (sum[label] ?? 0) + ms / runs;
        });
  }
  return Object.fromEntries(Object.entries(sum).sort((a, b) => b[1] - a[1]));
}

interface Measured {
  two: RankReport[][];
  one: RankReport[][];
  /** The same single rank pinned to one core. */
  oneCore: RankReport[][];
  loadBefore: number;
  seconds: number;
}

/** The rounds: 2 ranks, then 1 rank (unless skipped), so that drifting load hits both. */
function measure(): Measured {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yl-bench-overlap-'));
  const loadBefore = os.loadavg()[0]!;
  const two: RankReport[][] = [];
  const one: RankReport[][] = [];
  const oneCore: RankReport[][] = [];
  const t0 = Date.now();
  try {
    for (let r = 0; r < rounds; r++) {
      two.push(launch(2, dir));
      if (!withOneRank) continue;
      one.push(launch(1, dir));
      if (pinOneRank) oneCore.push(launch(1, dir, true));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { two, one, oneCore, loadBefore, seconds: (Date.now() - t0) / 1000 };
}

const setup = {
  cfg: process.env.BENCH_CFG ?? 'yolov5n',
  distillFeat: process.env.BENCH_DISTILL_FEAT || null,
  imgsz: Number(process.env.BENCH_IMGSZ ?? 160),
  batchPerRank: Number(process.env.BENCH_BATCH ?? 8),
};

interface Figures {
  single: ModeSummary;
  singleOneCore: ModeSummary;
  overlap: ModeSummary;
  plain: ModeSummary;
  /** 1 - visible wait with overlap / without (last rank's wait, medians). */
  drop: number;
  dropRank0: number;
  efficiency: { overlap: number; plain: number };
  /** Against the single rank pinned to one core: one core per rank on both sides. */
  efficiencyPerCore: { overlap: number; plain: number };
}

function figures(m: Measured): Figures {
  const views2 = m.two.flatMap(stepViews);
  const single = summarise('single', m.one.flatMap(stepViews));
  const singleOneCore = summarise('single', m.oneCore.flatMap(stepViews));
  const overlap = summarise('overlap', views2);
  const plain = summarise('plain', views2);
  return {
    single,
    singleOneCore,
    overlap,
    plain,
    drop: 1 - overlap.visibleWaitMs / plain.visibleWaitMs,
    dropRank0: 1 - overlap.rank0WaitMs / plain.rank0WaitMs,
    efficiency: { overlap: single.stepMs / overlap.stepMs, plain: single.stepMs / plain.stepMs },
    efficiencyPerCore: {
      overlap: singleOneCore.stepMs / overlap.stepMs,
      plain: singleOneCore.stepMs / plain.stepMs,
    },
  };
}

function threadLine(name: string, reports: RankReport[][]): string {
  const top = Object.entries(threadTable(reports)).slice(0, 6);
  return `CPU ms per rank by thread, ${name} (all steps): ${top.map(([n, ms]) => `${n} ${ms.toFixed(0)}`).join(', ')}`;
}

function tableLines(m: Measured, fig: Figures): string[] {
  const f = (x: number) => x.toFixed(1);
  const first = m.two[0]![0]!;
  const row = (name: string, s: ModeSummary, eff: number | null) =>
    `| ${name} | ${s.steps} | ${f(s.stepMs)} | ${f(s.backwardMs)} | ${eff === null ? '' : f(s.visibleWaitMs)} | ${eff === null ? '' : f(s.rank0WaitMs)} | ${f(s.cpuMsPerRank)} | ${f(s.mainCpuMsPerRank)} | ${eff === null ? '' : eff.toFixed(3)} |`;
  const eff = (e: { overlap: number; plain: number }) =>
    `${e.overlap.toFixed(3)} with overlap, ${e.plain.toFixed(3)} without`;
  return [
    `overlap bench: ${setup.cfg}${setup.distillFeat ? ` --distill-feat (${setup.distillFeat} order)` : ''} imgsz ${setup.imgsz}, ${setup.batchPerRank} images per rank, recomputing backward, wasm ` +
      `(threads in wasm: ${first.wasmThreads ? 'yes' : 'no'}), buckets ${first.buckets.map((b) => (b / 1024).toFixed(0) + ' KiB').join(' / ')}, ` +
      `${rounds} rounds, ${os.availableParallelism()} cores, load average ${m.loadBefore.toFixed(1)} -> ${os.loadavg()[0]!.toFixed(1)}, ${m.seconds.toFixed(0)} s`,
    '| run | steps | step ms (slower rank) | backward ms | visible wait ms (last rank) | rank 0 wait ms | CPU ms / step / rank | of which main thread | efficiency vs 1 rank |',
    '|---|---|---|---|---|---|---|---|---|',
    ...(withOneRank ? [row('1 rank', fig.single, null)] : []),
    ...(m.oneCore.length ? [row('1 rank on one core (taskset -c 0)', fig.singleOneCore, null)] : []),
    row('2 ranks, overlap', fig.overlap, fig.efficiency.overlap),
    row('2 ranks, no overlap', fig.plain, fig.efficiency.plain),
    `visible all-reduce wait after the backward: ${f(fig.plain.visibleWaitMs)} -> ${f(fig.overlap.visibleWaitMs)} ms, ` +
      `drop ${(100 * fig.drop).toFixed(0)}% (target >= 80%); rank 0: ${(100 * fig.dropRank0).toFixed(0)}%`,
    ...(withOneRank
      ? [
          `weak scaling efficiency (${setup.batchPerRank} images per rank, same backward) against 1 rank on the machine: ${eff(fig.efficiency)} (target >= 0.95)`,
          threadLine('1 rank', m.one),
        ]
      : []),
    ...(m.oneCore.length
      ? [
          `weak scaling efficiency against 1 rank on one core (one core per rank on both sides): ${eff(fig.efficiencyPerCore)}`,
        ]
      : []),
    threadLine('2 ranks', m.two),
  ];
}

function main(): void {
  const m = measure();
  const fig = figures(m);
  process.stdout.write(tableLines(m, fig).join('\n') + '\n');
  const name = setup.distillFeat ? `train-overlap-distill-${setup.distillFeat}.json` : 'train-overlap.json';
  const file = path.join(REPO, 'bench-results', name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const json = {
    ...setup,
    rounds,
    cores: os.availableParallelism(),
    loadAverage: [m.loadBefore, os.loadavg()[0]],
    seconds: m.seconds,
    buckets: m.two[0]![0]!.buckets,
    summary: fig,
    threadCpuMsPerRank: { one: threadTable(m.one), oneCore: threadTable(m.oneCore), two: threadTable(m.two) },
    steps: { two: m.two.flatMap(stepViews), one: m.one.flatMap(stepViews), oneCore: m.oneCore.flatMap(stepViews) },
    date: new Date().toISOString(),
  };
  fs.writeFileSync(file, JSON.stringify(json, null, 2));
  process.stdout.write(`wrote ${file}\n`);
}

main();
