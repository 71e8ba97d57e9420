// tfjs-node-gpu does not fail when CUDA/cuDNN are missing: libtensorflow logs "Could not
// load dynamic library 'libcudnn.so.8'" and quietly runs every op on the CPU. We look at
// what the backend reports and at the library search path, and say why.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

const SYSTEM_LIB_DIRS = ['/usr/local/cuda/lib64', '/usr/local/cuda-11.2/lib64', '/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib'];

/** Directories where libtensorflow's dlopen would look for libcudnn.so.8. */
export function librarySearchDirs(env: Record<string, string | undefined>): string[] {
  const fromEnv = (env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d.length > 0);
  return [...fromEnv, ...SYSTEM_LIB_DIRS];
}

export function findLibrary(prefix: string, dirs: string[]): string | null {
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    try {
      const hit = readdirSync(dir).find((name) => name.startsWith(prefix));
      if (hit) return path.join(dir, hit);
    } catch {
      // unreadable directory: keep looking
    }
  }
  return null;
}

/** The likely reasons a GPU build of TensorFlow runs on the CPU, most specific first. */
export function explainCpuFallback(env: Record<string, string | undefined>): string[] {
  const reasons: string[] = [];
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined && (visible.trim() === '' || visible.trim() === '-1')) {
    reasons.push(`CUDA_VISIBLE_DEVICES=${JSON.stringify(visible)} hides every GPU`);
  }
  const dirs = librarySearchDirs(env);
  if (findLibrary('libcudnn.so.8', dirs) == null) reasons.push('libcudnn.so.8 (cuDNN 8.1) was not found on LD_LIBRARY_PATH or the system library dirs');
  if (findLibrary('libcudart.so.11', dirs) == null) reasons.push('libcudart.so.11.0 (CUDA 11.2 runtime) was not found on LD_LIBRARY_PATH or the system library dirs');
  if (reasons.length === 0) reasons.push('the CUDA libraries were found; check `nvidia-smi` and the driver version (>= 460 for CUDA 11.2)');
  return reasons;
}
