// The CUDA libraries libtensorflow 2.9.1 (what tfjs-node-gpu 4.x downloads) opens at start-up,
// where the dynamic loader would find them, and why a GPU build would run on the CPU here.
//
// tfjs-node-gpu does not fail when one is missing: libtensorflow logs "Could not load dynamic
// library 'libcudnn.so.8'", skips registering the GPUs and quietly runs every op on the CPU.
// Like dlopen(), a library is found by its exact soname in LD_LIBRARY_PATH's directories or in
// the loader cache (`ldconfig -p`).
import path from 'node:path';
import { machineSources, type FactSources } from './gpu/sources.js';

export interface CudaLibrary {
  soname: string;
  /** what it is, for messages */
  what: string;
}

/** Built against CUDA 11.2 and cuDNN 8.1; the driver's libcuda.so.1 comes with the NVIDIA driver. */
export const TF_CUDA_LIBRARIES: readonly CudaLibrary[] = [
  { soname: 'libcuda.so.1', what: 'NVIDIA driver' },
  { soname: 'libcudart.so.11.0', what: 'CUDA 11 runtime' },
  { soname: 'libcublas.so.11', what: 'cuBLAS (CUDA 11)' },
  { soname: 'libcublasLt.so.11', what: 'cuBLASLt (CUDA 11)' },
  { soname: 'libcufft.so.10', what: 'cuFFT (CUDA 11)' },
  { soname: 'libcurand.so.10', what: 'cuRAND (CUDA 11)' },
  { soname: 'libcusolver.so.11', what: 'cuSOLVER (CUDA 11)' },
  { soname: 'libcusparse.so.11', what: 'cuSPARSE (CUDA 11)' },
  { soname: 'libcudnn.so.8', what: 'cuDNN 8' },
];

export interface LibraryLookup {
  soname: string;
  what: string;
  /** where the loader would take it from; null when it would not find it */
  path: string | null;
}

const FALLBACK_DIRS = [
  '/usr/local/cuda/lib64',
  '/usr/local/cuda-11.2/lib64',
  '/usr/local/nvidia/lib64',
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
];

/** Directories from LD_LIBRARY_PATH, in order (searched before the loader cache). */
export function librarySearchDirs(env: Record<string, string | undefined>): string[] {
  return (env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d.length > 0);
}

/** soname -> path from `ldconfig -p` ("\tlibcudnn.so.8 (libc6,x86-64) => /usr/lib/.../libcudnn.so.8"). */
export function parseLdconfig(text: string): Map<string, string> {
  const cache = new Map<string, string>();
  for (const match of text.matchAll(/^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)\s*$/gm)) {
    const [, soname, abi, file] = match;
    // 64-bit libraries only ("libc6,x86-64", "libc6,AArch64"): a 32-bit "(libc6)" one does not load into node.
    if (/x86-64|AArch64/.test(abi!) && !cache.has(soname!)) cache.set(soname!, file!);
  }
  return cache;
}

export function loaderCache(sources: FactSources): Map<string, string> | null {
  for (const command of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    const result = sources.run(command, ['-p']);
    if (result.status === 0) return parseLdconfig(result.stdout);
  }
  return null;
}

/** Where each library TF needs would be found (LD_LIBRARY_PATH first, then the loader cache). */
export function findCudaLibraries(
  env: Record<string, string | undefined>,
  sources: FactSources = machineSources,
): LibraryLookup[] {
  const dirs = librarySearchDirs(env);
  const cache = loaderCache(sources);
  // Without ldconfig (rare: minimal images), look in the usual directories instead.
  const searched = cache === null ? [...dirs, ...FALLBACK_DIRS] : dirs;
  const listings = new Map(searched.map((dir) => [dir, new Set(sources.listDir(dir))]));
  return TF_CUDA_LIBRARIES.map(({ soname, what }) => {
    const dir = searched.find((d) => listings.get(d)!.has(soname));
    return { soname, what, path: dir !== undefined ? path.join(dir, soname) : (cache?.get(soname) ?? null) };
  });
}

/** The likely reasons a GPU build of TensorFlow runs on the CPU, from the environment and libraries only. */
export function explainCpuFallback(
  env: Record<string, string | undefined>,
  sources: FactSources = machineSources,
): string[] {
  const reasons: string[] = [];
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined && (visible.trim() === '' || visible.trim() === '-1')) {
    reasons.push(`CUDA_VISIBLE_DEVICES=${JSON.stringify(visible)} hides every GPU`);
  }
  reasons.push(...missingLibraryReasons(findCudaLibraries(env, sources)));
  if (reasons.length === 0)
    reasons.push('the CUDA libraries were found; check `nvidia-smi` and the driver version (>= 460.32 for CUDA 11.2)');
  return reasons;
}

export function missingLibraryReasons(libraries: readonly LibraryLookup[]): string[] {
  const missing = libraries.filter((l) => l.path === null);
  if (missing.length === 0) return [];
  const driver = missing.find((l) => l.soname === 'libcuda.so.1');
  const toolkit = missing.filter((l) => l !== driver);
  const reasons: string[] = [];
  if (driver)
    reasons.push(
      'libcuda.so.1 (the NVIDIA driver) was not found: install the driver, or start the container with --gpus all',
    );
  if (toolkit.length > 0) {
    reasons.push(
      `${toolkit.map((l) => `${l.soname} (${l.what})`).join(', ')} not found on LD_LIBRARY_PATH or in the loader cache: ` +
        'TensorFlow 2.9 needs CUDA 11.2 and cuDNN 8.1 (the nvidia/cuda:11.2.2-cudnn8-runtime image has them)',
    );
  }
  return reasons;
}
