// Backend selection: which compute backend this process trains on, and why.
//
// `auto` tries, in order: @tensorflow/tfjs-node-gpu (CUDA), @tensorflow/tfjs-node (native
// CPU TensorFlow), wasm (XNNPACK, with our training kernels), cpu (pure JS, slow). Each
// candidate that is passed over is logged with its reason, so a user who expected the GPU
// sees exactly what was missing.
import * as tf from '@tensorflow/tfjs-core';
import { stderrLogger, type BackendLogger } from './log.js';
import { errorMessage, importLoader, isModuleNotFound, type ModuleLoader } from './loader.js';
import {
  candidatesForDevice,
  parseDeviceRequest,
  prepareGpuGuard,
  type FactSources,
  type GpuGuard,
} from './gpu/index.js';
import { registerWasmKernels } from './kernels/register.js';
import { tensorflowLoadEnv } from './tensorflow_env.js';

export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
/** The tfjs backend that ends up active. */
export type ActiveBackend = 'tensorflow' | 'wasm' | 'cpu';

export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
export const TFJS_NODE_GPU = '@tensorflow/tfjs-node-gpu';
export const TFJS_NODE = '@tensorflow/tfjs-node';

export interface InitBackendOptions {
  /** Default: the YOLO_BACKEND environment variable, else 'auto'. */
  backend?: BackendName;
  /** How optional packages are imported (tests inject fakes). Default: dynamic import(). */
  loader?: ModuleLoader;
  logger?: BackendLogger;
  /** Environment to read YOLO_BACKEND, CUDA_VISIBLE_DEVICES, LD_LIBRARY_PATH from. Default: process.env. */
  env?: Record<string, string | undefined>;
  /** train.py's --device: 'cpu' runs tfjs-node-gpu on the CPU deliberately; otherwise it must prove a GPU (src/gpu/guard.ts). */
  device?: string;
  /** nvidia-smi, ldconfig, directory listings for the GPU guard (tests inject recorded outputs). */
  gpuSources?: FactSources;
}

export interface PassedOver {
  candidate: string;
  reason: string;
}

export interface BackendChoice {
  requested: BackendName;
  backend: ActiveBackend;
  /** the npm package providing it */
  package: string;
  /** true only when TensorFlow reports a CUDA device in use */
  gpu: boolean;
  passedOver: PassedOver[];
  warnings: string[];
}

type Attempt = { ok: true; choice: Omit<BackendChoice, 'requested' | 'passedOver'> } | { ok: false; reason: string };

let lastChoice: BackendChoice | null = null;

/** What the last initBackend() chose, or null before the first call. */
export function backendChoice(): BackendChoice | null {
  return lastChoice;
}

export function resolveRequested(options: InitBackendOptions, env: Record<string, string | undefined>): BackendName {
  const raw = options.backend ?? env.YOLO_BACKEND ?? 'auto';
  const name = raw.trim().toLowerCase();
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    const source = options.backend !== undefined ? 'backend option' : 'YOLO_BACKEND';
    throw new Error(`${source}=${JSON.stringify(raw)} is not a backend; use one of ${BACKEND_NAMES.join(', ')}`);
  }
  return name as BackendName;
}

function candidatesFor(requested: BackendName): string[] {
  switch (requested) {
    case 'auto':
      return [TFJS_NODE_GPU, TFJS_NODE, 'wasm', 'cpu'];
    case 'tensorflow':
      return [TFJS_NODE_GPU, TFJS_NODE];
    case 'wasm':
      return ['wasm'];
    case 'cpu':
      return ['cpu'];
  }
}

async function tryNative(
  pkg: string,
  loader: ModuleLoader,
  guard: GpuGuard | null,
  env: Record<string, string | undefined>,
): Promise<Attempt> {
  // TensorFlow reads its thread settings from the process environment once, as it loads.
  Object.assign(process.env, tensorflowLoadEnv(env));
  try {
    await loader(pkg);
  } catch (error) {
    if (isModuleNotFound(error, pkg))
      return { ok: false, reason: `${pkg} is not installed (optional; see the backend README)` };
    return {
      ok: false,
      reason:
        `${pkg} is installed but failed to load: ${errorMessage(error)}. ` +
        `If its native binding is missing, its install script did not run: approve it (npm 11) and rebuild, see the backend README`,
    };
  }
  if (tf.findBackendFactory('tensorflow') == null) {
    return {
      ok: false,
      reason:
        `${pkg} loaded but registered no 'tensorflow' backend with our @tensorflow/tfjs-core ` +
        `(a second copy of tfjs-core? run \`npm ls @tensorflow/tfjs-core\`; all must be 4.22.0 and deduplicated)`,
    };
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend('tensorflow');
  } catch (error) {
    return { ok: false, reason: `${pkg}: the 'tensorflow' backend failed to initialise: ${errorMessage(error)}` };
  }
  if (!ok) return { ok: false, reason: `${pkg}: the 'tensorflow' backend failed to initialise (see the error above)` };

  // tfjs-node-gpu silently runs on the CPU without CUDA/cuDNN: the guard proves the GPU or throws.
  const verdict = guard ? await guard.verify(tf) : { gpu: false, warnings: [] };
  return { ok: true, choice: { backend: 'tensorflow', package: pkg, ...verdict } };
}

async function tryBuiltin(name: 'wasm' | 'cpu'): Promise<Attempt> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (error) {
    return { ok: false, reason: `${name} backend failed to initialise: ${errorMessage(error)}` };
  }
  if (!ok) return { ok: false, reason: `${name} backend failed to initialise` };
  // Chosen deliberately: silence MathBackendCPU's first-use "install tfjs-node" banner.
  if (name === 'cpu') (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { ok: true, choice: { backend: name, package: `@tensorflow/tfjs-backend-${name}`, gpu: false, warnings: [] } };
}

function describe(choice: BackendChoice): string {
  if (choice.backend === 'tensorflow') return `${choice.package} (${choice.gpu ? 'CUDA GPU' : 'CPU'})`;
  if (choice.backend === 'wasm') {
    const threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'multi-threaded' : 'one thread per process';
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD';
    return `wasm (XNNPACK, ${simd}, ${threads}; run one rank per core)`;
  }
  return 'cpu (pure JavaScript: correct but very slow; for tests and debugging)';
}

/**
 * Selects and initialises the compute backend and resolves to the tfjs-core namespace, with
 * our wasm training kernels registered. Safe to call more than once.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<typeof tf> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? stderrLogger;
  const loader = options.loader ?? importLoader;
  const requested = resolveRequested(options, env);
  registerWasmKernels();

  const passedOver: PassedOver[] = [];
  for (const candidate of candidatesForDevice(
    candidatesFor(requested),
    parseDeviceRequest(options.device),
    TFJS_NODE_GPU,
  )) {
    const guard =
      candidate === TFJS_NODE_GPU
        ? prepareGpuGuard({ env, device: options.device, logger, sources: options.gpuSources })
        : null;
    const attempt =
      candidate === 'wasm' || candidate === 'cpu'
        ? await tryBuiltin(candidate)
        : await tryNative(candidate, loader, guard, env);
    if (!attempt.ok) {
      passedOver.push({ candidate, reason: attempt.reason });
      continue;
    }
    await tf.ready();
    const choice: BackendChoice = { requested, passedOver, ...attempt.choice };
    lastChoice = choice;
    for (const p of passedOver) logger.info(`passed over ${p.candidate}: ${p.reason}`);
    for (const w of choice.warnings) logger.warn(w);
    logger.info(`backend: ${describe(choice)} [requested ${requested}]`);
    return tf;
  }
  const reasons = passedOver.map((p) => `  - ${p.candidate}: ${p.reason}`).join('\n');
  throw new Error(
    `no usable backend for ${JSON.stringify(requested)}:\n${reasons}\n` +
      (requested === 'tensorflow'
        ? 'Install @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node (backend README), or use YOLO_BACKEND=auto.'
        : ''),
  );
}
