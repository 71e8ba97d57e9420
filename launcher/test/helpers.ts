// Shared by the launcher tests: run the CLI, find processes by a marker, wait for things.
// (node --test also runs this file on its own; it only defines functions.)
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
export const WORKERS = fileURLToPath(new URL('./workers/', import.meta.url));
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function worker(name: string): string {
  return `${WORKERS}${name}.js`;
}

/** A unique string put on worker command lines so the test can find every process it made. */
export function newMarker(): string {
  return `yl-test-${randomBytes(5).toString('hex')}`;
}

/** The environment for a launcher under test: no node:test context, no stray launcher defaults. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('NODE_TEST') || k.startsWith('YOLO_LAUNCH_') || k.startsWith('SLURM_') || k.startsWith('OMPI_'))
      continue;
    if (k === 'CUDA_VISIBLE_DEVICES' || k === 'JOB_COMPLETION_INDEX' || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  done: Promise<Run>;
}

export function startLauncher(
  args: readonly string[],
  env: NodeJS.ProcessEnv = cleanEnv(),
  cwd = PACKAGE_ROOT,
): Started {
  const child = spawn(process.execPath, [CLI, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<Run>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  return { child, stdout: () => out, stderr: () => err, done };
}

/** Runs the launcher to the end (killed after timeoutMs, which fails the test through the output). */
export async function runLauncher(args: readonly string[], env?: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Run> {
  const started = startLauncher(args, env);
  const timer = setTimeout(() => started.child.kill('SIGKILL'), timeoutMs);
  try {
    return await started.done;
  } finally {
    clearTimeout(timer);
  }
}

/** pids of live processes whose command line contains `marker` (read from /proc, not trusted exit codes). */
export function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes(marker)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z') pids.push(Number(entry)); // zombies are already dead
    } catch {
      /* ended while we looked */
    }
  }
  return pids;
}

export async function waitFor(what: string, predicate: () => boolean, timeoutMs: number, stepMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Kills whatever is left with the marker: the cleanup every test runs on every path. */
export function killAll(marker: string): void {
  for (const pid of processesWith(marker)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** A marker for the test's worker processes, which are all killed when the test ends (on every path). */
export function markWorkers(t: { after: (fn: () => void) => void }): string {
  const marker = newMarker();
  t.after(() => killAll(marker));
  return marker;
}

/** The JSON objects that print-env workers wrote, keyed by rank. */
export function envLines(stdout: string): Map<number, Record<string, string | number | undefined>> {
  const out = new Map<number, Record<string, string | number | undefined>>();
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('ENV {');
    if (at < 0) continue;
    const obj = JSON.parse(line.slice(at + 4)) as Record<string, string | number | undefined>;
    out.set(Number(obj.RANK), obj);
  }
  return out;
}
