/** How many workers `--nproc` means on this machine. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { UsageError } from './errors.js';

export type NprocSpec = number | 'gpu' | 'auto';

/** GPU indices nvidia-smi reports, [] when it is missing, fails or hangs (5 s). */
export function detectGpus(): number[] {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^\d+$/.test(l))
      .map(Number);
  } catch {
    return [];
  }
}

export function parseNproc(value: string | number): NprocSpec {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1)
      throw new UsageError(`--nproc must be a positive integer, "gpu" or "auto"; got ${value}`);
    return value;
  }
  const v = value.trim().toLowerCase();
  if (v === 'gpu' || v === 'auto') return v;
  if (/^\d+$/.test(v) && Number(v) >= 1) return Number(v);
  throw new UsageError(`--nproc must be a positive integer, "gpu" or "auto"; got "${value}"`);
}

/**
 * `gpu`: one worker per GPU the user made visible (CUDA_VISIBLE_DEVICES) or nvidia-smi sees.
 * `auto`: the same when there are GPUs, else one worker per CPU core: the wasm backend
 * computes on one thread per process, so that is how a CPU machine is used fully.
 */
export function resolveNproc(spec: NprocSpec, env: NodeJS.ProcessEnv, gpus: () => number[] = detectGpus): number {
  if (typeof spec === 'number') return spec;
  const userList = env.CUDA_VISIBLE_DEVICES?.trim();
  const hidden = userList === '' || userList === '-1';
  const count = hidden
    ? 0
    : userList !== undefined
      ? userList.split(',').filter((d) => d.trim() !== '').length
      : gpus().length;
  if (count > 0) return count;
  if (spec === 'gpu') {
    throw new UsageError(
      '--nproc gpu: no GPU found (nvidia-smi reports none, or CUDA_VISIBLE_DEVICES hides them); use --nproc auto or a number',
    );
  }
  return os.availableParallelism();
}
