// Launcher overheads, per local world size: time from launch() to every worker running, time
// to stop a running group (SIGTERM → all exited), and how long orphans live after the launcher
// is SIGKILLed (the keepers' watchdog). Prints a table and writes bench-results/launcher.json.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { launch } from '../src/index.js';
import { cleanEnv, newMarker, processesWith, waitFor, worker, CLI } from '../test/helpers.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const reps = Number(process.env.BENCH_REPS ?? 3);
const sizes = (process.env.BENCH_NPROC ?? '1,2,4').split(',').map(Number);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function startAndStop(nproc: number): Promise<{ readyMs: number; stopMs: number }> {
  let ready = 0;
  let readyAt = 0;
  const abort = new AbortController();
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      ready += (chunk.toString().match(/ready rank=/g) ?? []).length;
      if (ready === nproc && readyAt === 0) {
        readyAt = performance.now();
        abort.abort();
      }
      cb();
    },
  });
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const t0 = performance.now();
  const result = await launch({
    command: [process.execPath, worker('behave'), 'hang'],
    nproc,
    standalone: true,
    termTimeout: 5,
    env: cleanEnv(),
    stdout: sink,
    stderr: quiet,
    signal: abort.signal,
  });
  const t1 = performance.now();
  if (readyAt === 0) throw new Error(`workers never became ready (exit ${result.exitCode})`);
  return { readyMs: readyAt - t0, stopMs: t1 - readyAt };
}

async function orphanCleanup(nproc: number): Promise<number> {
  const marker = newMarker();
  const child = spawn(
    process.execPath,
    [
      CLI,
      '--standalone',
      '--nproc',
      String(nproc),
      '--monitor-interval',
      '0.5',
      '--',
      process.execPath,
      worker('behave'),
      'hang',
      `marker=${marker}`,
    ],
    { env: cleanEnv(), stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('ready', () => (out.match(/ready rank=/g) ?? []).length === nproc, 30_000, 5);
  const closed = new Promise((r) => child.on('close', r));
  const t0 = performance.now();
  child.kill('SIGKILL');
  await closed;
  await waitFor('orphans gone', () => processesWith(marker).length === 0, 15_000, 5);
  return performance.now() - t0;
}

const rows: { nproc: number; ready_ms: number; stop_ms: number; orphans_gone_after_sigkill_ms: number }[] = [];
for (const nproc of sizes) {
  const ready: number[] = [];
  const stop: number[] = [];
  const orphan: number[] = [];
  for (let r = 0; r < reps; r++) {
    const s = await startAndStop(nproc);
    ready.push(s.readyMs);
    stop.push(s.stopMs);
    orphan.push(await orphanCleanup(nproc));
  }
  rows.push({ nproc, ready_ms: median(ready), stop_ms: median(stop), orphans_gone_after_sigkill_ms: median(orphan) });
}

console.log(`yolo-launch overheads (median of ${reps}, ${os.availableParallelism()} cores, node ${process.version})`);
console.log('nproc | launch→all ready (ms) | SIGTERM→all exited (ms) | launcher SIGKILL→orphans gone (ms)');
console.log('------|-----------------------|-------------------------|-----------------------------------');
for (const r of rows) {
  console.log(
    `${String(r.nproc).padStart(5)} | ${r.ready_ms.toFixed(0).padStart(21)} | ${r.stop_ms.toFixed(0).padStart(23)} | ${r.orphans_gone_after_sigkill_ms.toFixed(0).padStart(34)}`,
  );
}
const outDir = path.join(repoRoot, 'bench-results');
mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, 'launcher.json');
writeFileSync(
  file,
  `${JSON.stringify({ package: 'yolo-launch', cores: os.availableParallelism(), node: process.version, reps, results: rows }, null, 2)}\n`,
);
console.log(`wrote ${file}`);
