// `npm run bench -w packages/comm`: all-reduce time / algbw / busbw at world sizes 2 and 4,
// 4 KB and barrier latency, what each engineering choice is worth (staging copies, tcp vs
// ipc, segment size), the raw ZeroMQ PUSH/PULL ceiling, and gloo side by side when a python3
// with torch is installed. Prints a table and writes <repo>/bench-results/comm.json.
//
// Options: --quick (fewer configurations), --only=<name,...>, --sizes=<16MB,256MB,...> and
// --worlds=<2,4> (the main and gloo rows: one size or world for a targeted measurement).
// `--only=...,ts` adds the TS ring (YOLO_COMM_NATIVE=0) beside the main rows, which use the
// native data plane when its addon is built.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALLOCATOR_ENV, getFreePort } from '../src/index.js';
import { LINK_IFNAME, LINK_PROFILES, ShapedLink, shapedLinkUnavailable } from './shaped-link.js';
import { issueTargets, targetLines } from './targets.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkgRoot = path.resolve(here, '../..');
const repoRoot = path.resolve(pkgRoot, '../..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = listOption('only');
/** --baseline=<another build's dist/bench/bench-rank.js>: a 'before' row set in the same run. */
const baseline = args.find((a) => a.startsWith('--baseline='))?.slice(11);

const KB = 1024;
const MB = 1024 * 1024;
const SIZES = [4 * KB, 64 * KB, 1 * MB, 7_500_000, 16 * MB, 64 * MB, 256 * MB];
const fmtBytes = (b: number): string => (b === 7_500_000 ? '7.5 MB' : b >= MB ? `${b / MB} MB` : `${b / KB} KB`);

/** The values of a `--name=a,b` option, or undefined when it is absent. */
function listOption(name: string): string[] | undefined {
  return args
    .find((a) => a.startsWith(`--${name}=`))
    ?.slice(name.length + 3)
    .split(',');
}

/** --sizes=16MB,256MB: sizes of the table, as the table writes them (without the space). */
function sizesOption(): number[] | undefined {
  const labels = listOption('sizes');
  if (!labels) return undefined;
  return labels.map((label) => {
    const bytes = SIZES.find((b) => fmtBytes(b).replace(' ', '') === label);
    if (bytes === undefined)
      throw new Error(
        `--sizes: unknown size ${label}; use ${SIZES.map((b) => fmtBytes(b).replace(' ', '')).join(',')}`,
      );
    return bytes;
  });
}

const worlds = (listOption('worlds') ?? ['2', '4']).map(Number);

interface Row {
  config: string;
  impl: 'yolo-comm' | 'gloo';
  world: number;
  transport: string;
  op: string;
  bytes: number;
  iters: number;
  medianMs: number;
  p90Ms: number;
  algbwGBs: number;
  busbwGBs: number;
  /** CPU time (all threads) of the slowest rank per call: robust when the machine is busy. */
  cpuMsPerCall?: number;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))]!;
}

function rowsFrom(
  config: string,
  impl: Row['impl'],
  world: number,
  transport: string,
  times: Record<string, number[]>,
): Row[] {
  return Object.entries(times)
    .filter(([key]) => !key.startsWith('cpu:'))
    .map(([key, ts]) => {
      const [op, b] = key.split(':');
      const bytes = Number(b ?? 0);
      const med = quantile(ts, 0.5);
      const alg = bytes ? bytes / (med / 1e3) / 1e9 : 0;
      const cpu = times[`cpu:${bytes}`]?.[0];
      return {
        config,
        impl,
        world,
        transport,
        op: op!,
        bytes,
        iters: ts.length,
        medianMs: med,
        p90Ms: quantile(ts, 0.9),
        algbwGBs: alg,
        busbwGBs: (alg * 2 * (world - 1)) / world,
        ...(op === 'allreduce' && cpu !== undefined ? { cpuMsPerCall: cpu } : {}),
      };
    });
}

/** Where ranks run: by default on loopback; with a shaped link, rank r in namespace r. */
interface Placement {
  link?: ShapedLink;
}

function runRanks(
  cmd: string,
  argv: string[],
  world: number,
  env: Record<string, string>,
  timeoutMs: number,
  where: Placement = {},
): Promise<string> {
  const link = where.link;
  if (link && world !== 2) return Promise.reject(new Error('a shaped link joins exactly two ranks'));
  // Over a shaped link the liveness connection queues behind the data on a 2-core machine
  // that also runs the veth's packet processing: a longer heartbeat timeout for the bench.
  const linkEnv: Record<string, string> = link
    ? {
        MASTER_ADDR: link.addresses[0],
        YOLO_COMM_TRANSPORT: 'tcp',
        YOLO_SOCKET_IFNAME: LINK_IFNAME,
        GLOO_SOCKET_IFNAME: LINK_IFNAME,
        YOLO_COMM_HEARTBEAT_TIMEOUT_MS: '30000',
      }
    : {};
  return new Promise((resolve, reject) => {
    void getFreePort().then((port) => {
      const procs = Array.from({ length: world }, (_, r) => {
        const [exe, ...pre] = link ? [...link.wrap(r), cmd] : [cmd];
        return spawn(exe!, [...pre, ...argv], {
          env: {
            ...process.env,
            RANK: String(r),
            WORLD_SIZE: String(world),
            MASTER_ADDR: '127.0.0.1',
            MASTER_PORT: String(port),
            ...env,
            ...linkEnv,
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
      });
      let out = '';
      procs[0]!.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      for (const p of procs.slice(1)) p.stdout!.resume();
      const timer = setTimeout(() => {
        for (const p of procs) p.kill('SIGKILL');
        reject(new Error(`${path.basename(argv[0] ?? cmd)} world ${world} timed out`));
      }, timeoutMs);
      let left = world;
      for (const p of procs)
        p.on('exit', () => {
          if (--left === 0) {
            clearTimeout(timer);
            resolve(out);
          }
        });
    }, reject);
  });
}

interface OursPlan {
  env?: Record<string, string>;
  shared?: boolean;
  latencyIters?: number;
  /** Iterations per size (default: by size, in bench-rank.ts). */
  iters?: number;
  /** All-reduce wire compression ('fp16' / 'bf16'), see ring.ts. */
  compression?: string;
  /** Another build's bench-rank.js (--baseline), run with the same environment (ALLOCATOR_ENV included). */
  rankScript?: string;
}

async function ours(
  config: string,
  world: number,
  sizes: number[],
  plan: OursPlan = {},
  where: Placement = {},
): Promise<Row[]> {
  const rankPlan = {
    sizes,
    shared: plan.shared ?? true,
    latencyIters: plan.latencyIters ?? 200,
    iters: plan.iters,
    compression: plan.compression,
  };
  // The environment the launcher gives every worker (ALLOCATOR_ENV), then the variant's own;
  // a --baseline build gets the same, so before and after differ only in the code.
  const script = plan.rankScript ?? path.join(here, 'bench-rank.js');
  const out = await runRanks(
    process.execPath,
    [script],
    world,
    { ...ALLOCATOR_ENV, BENCH_PLAN: JSON.stringify(rankPlan), ...plan.env },
    20 * 60_000,
    where,
  );
  const line = out.split('\n').find((l) => l.startsWith('BENCH '));
  if (!line) throw new Error(`${config}: no result (output: ${out.slice(-500)})`);
  const r = JSON.parse(line.slice(6)) as { transport: string; times: Record<string, number[]> };
  return rowsFrom(config, 'yolo-comm', world, r.transport, r.times);
}

/** A python with torch and gloo: BENCH_PYTHON, else python3 on PATH, else Debian's /usr/bin/python3. */
function torchPython(): string | null {
  for (const py of [process.env.BENCH_PYTHON, 'python3', '/usr/bin/python3']) {
    if (!py) continue;
    const r = spawnSync(py, ['-c', 'import torch, torch.distributed as d; print(d.is_gloo_available())'], {
      encoding: 'utf8',
    });
    if (r.status === 0 && r.stdout.trim() === 'True') return py;
  }
  return null;
}

async function gloo(
  python: string,
  world: number,
  sizes: number[],
  config = 'gloo',
  where: Placement = {},
  iters?: number,
): Promise<Row[]> {
  const script = path.join(pkgRoot, 'bench', 'gloo.py');
  const env = { BENCH_SIZES: sizes.join(','), OMP_NUM_THREADS: '1', ...(iters ? { BENCH_ITERS: String(iters) } : {}) };
  const out = await runRanks(python, [script], world, env, 20 * 60_000, where);
  const line = out.split('\n').find((l) => l.startsWith('BENCH '));
  if (!line) throw new Error(`gloo world ${world}: no result`);
  const r = JSON.parse(line.slice(6)) as { times: Record<string, number[]> };
  return rowsFrom(config, 'gloo', world, where.link ? 'tcp (veth)' : 'tcp', r.times);
}

interface Ceiling {
  transport: string;
  bytes: number;
  count: number;
  gbps: number;
}

async function ceiling(transport: 'tcp' | 'ipc', bytes: number, count: number): Promise<Ceiling> {
  const script = path.join(here, 'zmq-ceiling.js');
  const endpoint =
    transport === 'tcp'
      ? 'tcp://127.0.0.1:*'
      : `ipc://${path.join(os.tmpdir(), `yolo-comm-bench-${process.pid}.sock`)}`;
  const pull = spawn(process.execPath, [script, 'pull', endpoint, String(bytes), String(count)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const bound = await new Promise<string>((resolve) =>
    pull.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /BOUND (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    }),
  );
  const push = spawn(process.execPath, [script, 'push', bound, String(bytes), String(count)], { stdio: 'inherit' });
  await new Promise((r) => pull.on('exit', r));
  push.kill();
  if (transport === 'ipc') fs.rmSync(endpoint.slice('ipc://'.length), { force: true });
  const m = /RATE (\{.*\})/.exec(out);
  return { transport, bytes, count, gbps: m ? (JSON.parse(m[1]!) as { gbps: number }).gbps : NaN };
}

function table(rows: Row[]): string {
  const head = [
    'config',
    'impl',
    'world',
    'transport',
    'op',
    'size',
    'median ms',
    'p90 ms',
    'algbw GB/s',
    'busbw GB/s',
    'cpu ms/call',
  ];
  const body = rows.map((r) => [
    r.config,
    r.impl,
    String(r.world),
    r.transport,
    r.op,
    r.bytes ? fmtBytes(r.bytes) : '-',
    r.medianMs.toFixed(3),
    r.p90Ms.toFixed(3),
    r.bytes ? r.algbwGBs.toFixed(2) : '-',
    r.bytes ? r.busbwGBs.toFixed(2) : '-',
    r.cpuMsPerCall?.toFixed(2) ?? '-',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => c.padEnd(w[i]!)).join(' | ') + ' |';
  return [line(head), '|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|', ...body.map(line)].join('\n');
}

/**
 * World 2 over a veth pair between two network namespaces, shaped by tc (shaped-link.ts):
 * ours over tcp and gloo over the very same link, one profile at a time.
 */
async function shapedLinkRows(python: string | null, notes: string[], log: (s: string) => void): Promise<Row[]> {
  const rows: Row[] = [];
  const sizes = [1 * MB, 16 * MB, 64 * MB];
  for (const profile of LINK_PROFILES) {
    const link = ShapedLink.create(profile);
    if (profile.delayMs > 0 && !link.delayApplied)
      notes.push(
        `shaped link ${profile.name}: this kernel has no sch_netem, so the link is ${profile.rate} by ${link.qdisc} without the ${profile.delayMs} ms delay`,
      );
    try {
      log(`shaped link ${profile.name}: ours, world 2`);
      rows.push(...(await ours(`link-${profile.name}`, 2, sizes, { iters: 5, latencyIters: 50 }, { link })));
      for (const compression of profile.lineGBs < 1 ? ['fp16', 'bf16'] : []) {
        log(`shaped link ${profile.name}: ours with ${compression} on the wire, world 2`);
        rows.push(
          ...(await ours(
            `link-${profile.name}-${compression}`,
            2,
            sizes.slice(1),
            { iters: 5, latencyIters: 10, compression },
            { link },
          )),
        );
      }
      if (python) {
        log(`shaped link ${profile.name}: gloo, world 2`);
        rows.push(...(await gloo(python, 2, sizes, `link-${profile.name}`, { link }, 5)));
      }
    } catch (e) {
      notes.push(`shaped link ${profile.name} failed: ${(e as Error).message}`);
    } finally {
      link.close();
    }
  }
  return rows;
}

/** One line per shaped-link configuration and size: ours against gloo and the line rate. */
function linkTable(rows: Row[]): string[] {
  const out: string[] = [];
  for (const profile of LINK_PROFILES) {
    const config = `link-${profile.name}`;
    for (const r of rows.filter((x) => x.config.startsWith(config) && x.impl === 'yolo-comm' && x.op === 'allreduce')) {
      const g = rows.find(
        (x) => x.config === config && x.impl === 'gloo' && x.op === 'allreduce' && x.bytes === r.bytes,
      );
      const vsGloo = g ? `, gloo ${g.busbwGBs.toFixed(3)} GB/s (${(r.busbwGBs / g.busbwGBs).toFixed(2)}x)` : '';
      out.push(
        `${r.config} ${fmtBytes(r.bytes)}: ours ${r.busbwGBs.toFixed(3)} GB/s busbw, ${((100 * r.busbwGBs) / profile.lineGBs).toFixed(0)}% of ${profile.rate}${vsGloo}; median ${r.medianMs.toFixed(1)} ms (p90 ${r.p90Ms.toFixed(1)})`,
      );
    }
  }
  return out;
}

/** Markdown rows: each world and size, the baseline, this build and gloo of the same run. */
function beforeAfterTable(rows: Row[]): string[] {
  const out = [
    '| op | world | before | after | gloo | after / gloo | after p90 / median | CPU ms/call before → after (gloo) |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const pick = (config: string, impl: Row['impl'], w: number, op: string, b: number): Row | undefined =>
    rows.find((r) => r.config === config && r.impl === impl && r.world === w && r.op === op && r.bytes === b);
  for (const world of [2, 4]) {
    for (const r of rows.filter(
      (x) => x.config === 'main' && x.world === world && (x.op === 'allreduce' || x.op === 'barrier'),
    )) {
      const before = pick('before', 'yolo-comm', world, r.op, r.bytes);
      const g = pick('gloo', 'gloo', world, r.op, r.bytes);
      const latency = r.op === 'barrier' || r.bytes <= 64 * KB;
      const fig = (x: Row | undefined): string =>
        x ? (latency ? `${x.medianMs.toFixed(3)} ms` : x.busbwGBs.toFixed(3)) : '-';
      const ratio = g ? (latency ? g.medianMs / r.medianMs : r.busbwGBs / g.busbwGBs).toFixed(2) : '-';
      const cpu = (x: Row | undefined): string => x?.cpuMsPerCall?.toFixed(2) ?? '-';
      const cpuCell = r.op === 'barrier' ? '' : `${cpu(before)} → ${cpu(r)} (${cpu(g)})`;
      out.push(
        `| ${r.op === 'barrier' ? 'barrier' : fmtBytes(r.bytes)} | ${world} | ${fig(before)} | ${fig(r)} | ${fig(g)} | ${ratio}x | ${(r.p90Ms / r.medianMs).toFixed(2)} | ${cpuCell} |`,
      );
    }
  }
  return out;
}

async function main(): Promise<void> {
  const want = (name: string): boolean => !only || only.includes(name);
  const loadAtStart = os.loadavg();
  const rows: Row[] = [];
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const sizes = sizesOption() ?? (quick ? [4 * KB, 1 * MB, 7_500_000, 16 * MB, 64 * MB] : SIZES);
  // gloo runs right after ours at each world size, so both see the same machine.
  const python = want('gloo') ? torchPython() : null;
  let glooNote = python
    ? 'gloo measured in this run, right after ours at each world size'
    : 'python3 with torch not installed (Debian python3-torch): gloo not run, so every target below reads n/a';
  const glooRows: Row[] = [];
  for (const world of worlds) {
    if (want('main')) {
      log(`main: world ${world}`);
      rows.push(...(await ours('main', world, sizes)));
    }
    if (only?.includes('ts')) {
      log(`the TS ring (YOLO_COMM_NATIVE=0): world ${world}`);
      rows.push(...(await ours('ts-plane', world, sizes, { env: { YOLO_COMM_NATIVE: '0' } })));
    }
    if (baseline) {
      log(`baseline ${baseline}: world ${world}`);
      rows.push(...(await ours('before', world, sizes, { rankScript: path.resolve(baseline) })));
    }
    if (python) {
      log(`gloo (torch.distributed via ${python}), world ${world}`);
      try {
        glooRows.push(...(await gloo(python, world, sizes)));
      } catch (e) {
        glooNote = `gloo failed: ${(e as Error).message}`;
      }
    }
  }
  if (want('plain')) {
    log('plain Float32Array buffers (staging copies), world 2');
    rows.push(
      ...(await ours('plain-buffers', 2, [4 * KB, 1 * MB, 16 * MB, 64 * MB], { shared: false, latencyIters: 100 })),
    );
  }
  if (want('tcp')) {
    log('tcp instead of ipc, world 2');
    rows.push(
      ...(await ours('tcp', 2, [4 * KB, 1 * MB, 16 * MB, 64 * MB], {
        env: { YOLO_COMM_TRANSPORT: 'tcp' },
        latencyIters: 100,
      })),
    );
  }
  if (want('segments') && !quick) {
    for (const seg of [256 * KB, 512 * KB, 1 * MB, 4 * MB]) {
      log(`segment ${fmtBytes(seg)}, world 2`);
      rows.push(
        ...(await ours(`segment-${fmtBytes(seg).replace(' ', '')}`, 2, [7_500_000, 64 * MB], {
          env: { YOLO_COMM_SEGMENT_BYTES: String(seg) },
          latencyIters: 20,
        })),
      );
    }
  }
  if (want('hwm') && !quick) {
    for (const hwm of [4, 128]) {
      log(`high-water mark ${hwm}, world 2`);
      rows.push(...(await ours(`hwm-${hwm}`, 2, [64 * MB], { env: { YOLO_COMM_HWM: String(hwm) }, latencyIters: 20 })));
    }
  }
  const linkNotes: string[] = [];
  if (want('link')) {
    const why = shapedLinkUnavailable();
    if (why) linkNotes.push(`shaped-link rows skipped: ${why}`);
    else rows.push(...(await shapedLinkRows(python ?? torchPython(), linkNotes, log)));
  }
  const ceilings: Ceiling[] = [];
  if (want('ceiling')) {
    log('raw zmq PUSH/PULL ceiling');
    for (const t of ['tcp', 'ipc'] as const) {
      ceilings.push(await ceiling(t, 1 * MB, 1000));
      ceilings.push(await ceiling(t, 16 * MB, 60));
      ceilings.push(await ceiling(t, 64 * MB, 15));
    }
  }
  rows.push(...glooRows);

  // Issue 16's targets, beside what we measured (targets.ts).
  const targets = issueTargets(rows);

  const print = (s: string): void => void process.stdout.write(s + '\n');
  print(table(rows));
  print('');
  if (ceilings.length) {
    print('raw ZeroMQ PUSH/PULL (one direction, two processes):');
    for (const c of ceilings) print(`  ${c.transport} ${fmtBytes(c.bytes)} messages: ${c.gbps.toFixed(2)} GB/s`);
    print('');
  }
  if (baseline) {
    print('before / after / gloo, same run (busbw GB/s; for 4 KB and barrier the median ms):');
    for (const l of beforeAfterTable(rows)) print(`  ${l}`);
    print('');
  }
  const linkRows = linkTable(rows);
  if (linkRows.length) {
    print(
      'shaped links (world 2, two network namespaces joined by a veth pair, tc netem on both sides; ours and gloo over the same link):',
    );
    for (const l of linkRows) print(`  ${l}`);
    print('');
  }
  for (const n of linkNotes) print(n);
  print(
    `load average at the start of this run: ${loadAtStart.map((x) => x.toFixed(1)).join(' ')} (on ${os.cpus().length} CPUs)`,
  );
  print(`targets of issue 16 (${glooNote}):`);
  for (const line of targetLines(targets)) print(line);

  const result = {
    package: '@yolo-launch/comm',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg() },
    quick,
    glooNote,
    linkNotes,
    rows,
    ceilings,
    targets,
  };
  fs.mkdirSync(path.join(repoRoot, 'bench-results'), { recursive: true });
  const file = path.join(repoRoot, 'bench-results', 'comm.json');
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  print(`\nwrote ${path.relative(process.cwd(), file) || file}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
