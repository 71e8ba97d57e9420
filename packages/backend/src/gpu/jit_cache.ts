// GPUs newer than TensorFlow 2.9.1's build: libtensorflow carries machine code (SASS) for
// sm_35 ... sm_75 and PTX for compute_80 only (TF_CUDA_COMPUTE_CAPABILITIES of TF's release
// builds, 2.5 to 2.11). On any GPU without matching machine code (A100 8.0, A10/RTX 30 8.6,
// L4/L40 8.9, H100/H200 9.0) the driver JIT-compiles the PTX of every kernel at start-up: tens
// of minutes (tensorflow issues 60739, 62320), then cached in CUDA_CACHE_PATH (default
// ~/.nv/ComputeCache, at most CUDA_CACHE_MAXSIZE bytes). A container loses that cache when it
// ends unless it is on a volume.
import path from 'node:path';
import type { GpuInfo } from './nvidia_smi.js';
import type { FactSources } from './sources.js';

export const LIBTENSORFLOW_CUDA_ARCHS: readonly string[] = ['sm_35', 'sm_50', 'sm_60', 'sm_70', 'sm_75', 'compute_80'];
/** The CUDA maximum (4 GiB): TF's kernels JIT-compiled for one GPU model take over 1 GiB. */
export const RECOMMENDED_CACHE_BYTES = 4 * 1024 ** 3;

function capability(text: string): [number, number] {
  const [major, minor] = text.split('.').map(Number);
  return [major ?? 0, minor ?? 0];
}

/**
 * True when no machine code in the build runs on this compute capability, so the driver must
 * JIT-compile PTX: SASS for sm_XY runs on devices X.Z with Z >= Y, never across majors.
 */
export function needsPtxJit(computeCapability: string, archs: readonly string[] = LIBTENSORFLOW_CUDA_ARCHS): boolean {
  const [major, minor] = capability(computeCapability);
  return !archs.some((arch) => {
    const m = /^sm_(\d+)(\d)$/.exec(arch);
    return m !== null && Number(m[1]) === major && Number(m[2]) <= minor;
  });
}

export interface JitCacheState {
  path: string;
  /** entries in the cache directory (0: empty or missing) */
  entries: number;
  disabled: boolean;
  maxSizeBytes: number | null;
}

export function jitCacheState(env: Record<string, string | undefined>, sources: FactSources): JitCacheState {
  const dir = env.CUDA_CACHE_PATH || path.join(env.HOME || '/root', '.nv', 'ComputeCache');
  const maxSize = Number(env.CUDA_CACHE_MAXSIZE);
  return {
    path: dir,
    entries: sources.listDir(dir).length,
    disabled: env.CUDA_CACHE_DISABLE === '1',
    maxSizeBytes: env.CUDA_CACHE_MAXSIZE !== undefined && Number.isFinite(maxSize) ? maxSize : null,
  };
}

/** One line when a GPU will JIT-compile TF's kernels and the cache will not spare it; else null. */
export function jitCacheNotice(gpus: readonly GpuInfo[], cache: JitCacheState): string | null {
  const jitted = gpus.filter((g) => g.computeCapability !== null && needsPtxJit(g.computeCapability));
  if (jitted.length === 0) return null;
  const models = [...new Set(jitted.map((g) => `${g.name} (compute capability ${g.computeCapability})`))].join(', ');
  const head = `notice: TensorFlow 2.9 has no machine code for ${models}: the driver JIT-compiles its kernels at start-up, which takes tens of minutes`;
  const keep = `keep CUDA_CACHE_PATH on a persistent volume with CUDA_CACHE_MAXSIZE=${RECOMMENDED_CACHE_BYTES} (the images and recipes in deploy/ do)`;
  if (cache.disabled) return `${head}, and CUDA_CACHE_DISABLE=1 makes every start pay it: unset it and ${keep}`;
  if (cache.entries === 0)
    return `${head} the first time; the JIT cache ${cache.path} is empty, so this start pays it: ${keep}`;
  if (cache.maxSizeBytes !== null && cache.maxSizeBytes < 1024 ** 3) {
    return `${head}; CUDA_CACHE_MAXSIZE=${cache.maxSizeBytes} is too small to keep them, so every start pays it: ${keep}`;
  }
  return null;
}
