// Helpers for the cross-package tests: paths, a small synthetic dataset, running the
// `train` CLI alone or under `yolo-launch`, reading checkpoints and logs.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/ (from dist/helpers/run.js). */
export const TEST_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const REPO_ROOT = path.resolve(TEST_ROOT, '..');
export const TINY_YAML = path.join(TEST_ROOT, 'helpers', 'data', 'yolov5-tiny.yaml');
export const TRAIN_CLI = path.join(REPO_ROOT, 'packages', 'train', 'dist', 'src', 'cli.js');
export const LAUNCHER_CLI = path.join(REPO_ROOT, 'launcher', 'dist', 'src', 'cli.js');

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `yl-${prefix}-`));
}

/** hyp.scratch-low's keys with augmentation off; tests override what they need. */
const TEST_HYP_BASE: Record<string, number> = {
  lr0: 0.01,
  lrf: 0.1,
  momentum: 0.937,
  weight_decay: 0.0005,
  warmup_epochs: 0.5,
  warmup_momentum: 0.8,
  warmup_bias_lr: 0.1,
  box: 0.05,
  cls: 0.5,
  cls_pw: 1.0,
  obj: 1.0,
  obj_pw: 1.0,
  iou_t: 0.2,
  anchor_t: 4.0,
  fl_gamma: 0.0,
  hsv_h: 0.0,
  hsv_s: 0.0,
  hsv_v: 0.0,
  degrees: 0.0,
  translate: 0.0,
  scale: 0.0,
  shear: 0.0,
  perspective: 0.0,
  flipud: 0.0,
  fliplr: 0.0,
  mosaic: 0.0,
  mixup: 0.0,
  copy_paste: 0.0,
};

/** Writes `<dir>/<name>`: the test hyp base with `overrides`, one `key: value` per line. */
export function writeTestHyp(dir: string, name: string, overrides: Record<string, number>): string {
  const file = path.join(dir, name);
  const hyp = { ...TEST_HYP_BASE, ...overrides };
  // Python-style floats (0.0, 1.0) as YAML users write them in hyp files
  const fmt = (v: number): string => (Number.isInteger(v) && !String(v).includes('e') ? v.toFixed(1) : String(v));
  fs.writeFileSync(
    file,
    Object.entries(hyp)
      .map(([k, v]) => `${k}: ${fmt(v)}`)
      .join('\n') + '\n',
  );
  return file;
}

/** A fast-learning recipe for tests (use with --optimizer Adam): short warmup, flips only. */
export function writeFastHyp(dir: string): string {
  return writeTestHyp(dir, 'hyp.test.yaml', { fliplr: 0.5 });
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * TEST_TIMEOUT_SCALE (default 1) multiplies every run's kill timeout: on a machine shared with
 * other work the same runs take longer; the timeouts are guards against hangs, not assertions.
 */
const TIMEOUT_SCALE = Math.max(1, Number(process.env.TEST_TIMEOUT_SCALE) || 1);

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Run a node script to completion (killed on timeout and on test exit). */
export function runNode(
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; onStdout?: (chunk: string) => void },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    // A test's own environment must not look like a launcher's.
    for (const k of [
      'RANK',
      'LOCAL_RANK',
      'WORLD_SIZE',
      'MASTER_ADDR',
      'MASTER_PORT',
      'RESTART_COUNT',
      'YOLO_LAUNCH_RUN_ID',
    ])
      if (!opts.env || !(k in opts.env)) delete env[k];
    const child = spawn(process.execPath, args, {
      cwd: opts.cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: false,
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      opts.onStdout?.(c);
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timeoutMs = (opts.timeoutMs ?? 240_000) * TIMEOUT_SCALE;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `timed out after ${timeoutMs} ms: node ${args.join(' ')}\n--- stdout\n${stdout.slice(-3000)}\n--- stderr\n${stderr.slice(-3000)}`,
        ),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function runTrain(
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<RunResult> {
  return runNode([TRAIN_CLI, ...args], opts);
}

export function runLaunch(
  launcherArgs: string[],
  trainArgs: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; onStdout?: (chunk: string) => void },
): Promise<RunResult> {
  return runNode([LAUNCHER_CLI, ...launcherArgs, 'train', ...trainArgs], opts);
}

/** The final "all" validation line's numbers: [P, R, mAP50, mAP50-95]. */
export function lastAllRow(stdout: string): number[] | null {
  const rows = stdout.split('\n').filter((l) => /^\s*(\[rank0\]:\s*)?\s+all\s+\d+/.test(l));
  if (!rows.length) return null;
  const cells = rows[rows.length - 1]!.replace(/^.*\ball\b/, '')
    .trim()
    .split(/\s+/)
    .map(Number);
  return cells.slice(2, 6);
}

export interface LogRecord {
  rank: number;
  msg: string;
  [k: string]: unknown;
}

export function readLog(saveDir: string): LogRecord[] {
  const f = path.join(saveDir, 'train.log');
  if (!fs.existsSync(f)) return [];
  return fs
    .readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as LogRecord);
}

/** Processes whose command line mentions `needle` (orphan checks). */
export function processesMatching(needle: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle)) out.push(`${pid} ${cmd}`);
    } catch {
      // gone
    }
  }
  return out;
}
