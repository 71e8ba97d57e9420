// What a GPU container needs in its environment, whichever recipe starts it (Compose service,
// Kubernetes pod): TensorFlow 2.9's JIT cache on a volume that outlives the container and large
// enough to hold the JIT-compiled kernels (GPUs newer than its build, A100 to H200, otherwise
// recompile them for tens of minutes at every start), and GPU memory that grows as needed.
// The image's ENV counts: a recipe only has to set what the image does not.
import type { Problem } from './problem.js';

/** CUDA's own maximum; TF 2.9's kernels JIT-compiled for one GPU model take over 1 GiB. */
export const JIT_CACHE_MAX_BYTES = 4 * 1024 ** 3;
export const JIT_CACHE_MIN_BYTES = 2 * 1024 ** 3;

export interface GpuRuntimeInput {
  file: string;
  /** e.g. "services.train" or "the Job's first container" */
  where: string;
  /** the variables the container gets: the image's ENV overlaid by the recipe's */
  env: ReadonlyMap<string, string | null>;
  /** mount points backed by storage that outlives the container (not tmpfs / emptyDir) */
  persistentMounts: readonly string[];
}

/** `${NAME:-default}` read with its default: what the variable is unless the user overrides it. */
function withDefaults(value: string): string {
  return value.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}/g, '$1');
}

function under(dir: string, mount: string): boolean {
  const m = mount.replace(/\/+$/, '');
  return dir === m || dir.startsWith(`${m}/`);
}

export function checkGpuRuntime(input: GpuRuntimeInput): Problem[] {
  const problems: Problem[] = [];
  const fail = (rule: string, message: string): void => {
    problems.push({ file: input.file, rule, message: `${input.where}: ${message}` });
  };
  const get = (name: string): string | undefined => {
    const v = input.env.get(name);
    return v === null || v === undefined ? undefined : withDefaults(v);
  };
  const cachePath = get('CUDA_CACHE_PATH');
  if (!cachePath)
    fail(
      'jit-cache',
      'set CUDA_CACHE_PATH to a directory on a volume: without it the JIT cache is lost with the container',
    );
  else if (!input.persistentMounts.some((m) => under(cachePath, m))) {
    fail(
      'jit-cache',
      `CUDA_CACHE_PATH=${cachePath} is not on a persistent volume (mounted: ${input.persistentMounts.join(', ') || 'none'}): every start would JIT-compile again`,
    );
  }
  const maxSize = Number(get('CUDA_CACHE_MAXSIZE'));
  if (!(maxSize >= JIT_CACHE_MIN_BYTES && maxSize <= JIT_CACHE_MAX_BYTES)) {
    fail(
      'jit-cache',
      `CUDA_CACHE_MAXSIZE must be ${JIT_CACHE_MIN_BYTES}-${JIT_CACHE_MAX_BYTES} bytes (got ${get('CUDA_CACHE_MAXSIZE') ?? 'unset: 256 MiB to 1 GiB by driver'}): TF's JIT-compiled kernels do not fit the default`,
    );
  }
  if (get('CUDA_CACHE_DISABLE') === '1')
    fail('jit-cache', 'CUDA_CACHE_DISABLE=1 makes every start JIT-compile for tens of minutes');
  if (get('TF_FORCE_GPU_ALLOW_GROWTH') !== 'true')
    fail('gpu-memory', 'set TF_FORCE_GPU_ALLOW_GROWTH=true: otherwise TensorFlow takes all GPU memory at start');
  return problems;
}
