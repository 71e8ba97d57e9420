// The guard around @tensorflow/tfjs-node-gpu: a GPU build that silently runs on the CPU must
// never pass for a GPU run. Backend selection calls prepareGpuGuard() before it loads the
// package (device request applied, JIT-cache notice) and guard.verify() once the 'tensorflow'
// backend is up: unless the CPU was asked for (--device cpu, CUDA_VISIBLE_DEVICES=-1 or empty),
// it proves that ops run on the GPU or stops with the reasons.
import type * as tfc from '@tensorflow/tfjs-core';
import type { BackendLogger } from '../log.js';
import { findCudaLibraries, missingLibraryReasons } from '../cuda_check.js';
import { applyDeviceRequest, cpuRequested, parseDeviceRequest, type DeviceRequest } from './device_request.js';
import { jitCacheNotice, jitCacheState } from './jit_cache.js';
import { queryGpus, versionAtLeast, type GpuQuery } from './nvidia_smi.js';
import { explainProbeError, probeOps, type NodeBackendFlags } from './probe.js';
import { machineSources, type FactSources } from './sources.js';
import { readWorkerEnv } from '@yolo-launch/core';

/** The oldest driver that runs CUDA 11.2. */
export const MIN_DRIVER_VERSION = '460.32.03';

export interface GpuGuardOptions {
  env: Record<string, string | undefined>;
  /** train.py's --device ('' | 'cpu' | '0' | '0,1' ...) */
  device?: string;
  logger: BackendLogger;
  sources?: FactSources;
}

export interface GpuVerdict {
  gpu: boolean;
  warnings: string[];
}

export interface GpuGuard {
  request: DeviceRequest;
  /** true when the CPU was asked for: then a CPU run is not a failure */
  cpuRequested: boolean;
  verify(tf: typeof tfc): Promise<GpuVerdict>;
}

export class GpuUnavailableError extends Error {
  constructor(readonly reasons: string[]) {
    super(
      `@tensorflow/tfjs-node-gpu is NOT running on a GPU, and this run asked for one. Found:\n${reasons.map((r) => `  - ${r}`).join('\n')}\n` +
        'Fix that (deploy/README.md, "Is it really running on the GPU?"; `yolo-launch doctor` shows TensorFlow\'s own log), ' +
        'or pass --device cpu to train on the CPU deliberately.',
    );
    this.name = 'GpuUnavailableError';
  }
}

/** The rank that speaks for the node (the launcher's LOCAL_RANK 0, or a single process). */
function speaksForNode(env: Record<string, string | undefined>): boolean {
  return readWorkerEnv(env).localRank === 0;
}

export function prepareGpuGuard(options: GpuGuardOptions): GpuGuard {
  const { env, logger } = options;
  const sources = options.sources ?? machineSources;
  const request = parseDeviceRequest(options.device);
  const applied = applyDeviceRequest(request, env);
  if (applied) logger.info(applied);
  const onCpu = cpuRequested(request, env);
  const gpus = onCpu ? null : queryGpus(sources);
  if (gpus?.ok && speaksForNode(env)) {
    const notice = jitCacheNotice(gpus.gpus, jitCacheState(env, sources));
    if (notice) logger.info(notice);
  }
  return {
    request,
    cpuRequested: onCpu,
    async verify(tf) {
      const flags = tf.backend() as unknown as NodeBackendFlags;
      if (onCpu) return { gpu: false, warnings: [] };
      if (flags.isUsingGpuDevice !== true) throw new GpuUnavailableError(gpuAbsenceReasons(env, gpus, sources));
      const probe = await probeOps(tf);
      if (!probe.ok) throw new GpuUnavailableError([explainProbeError(probe.error)]);
      return { gpu: true, warnings: [] };
    },
  };
}

/** Why TensorFlow found no GPU, from what can be seen without its log; most specific first. */
export function gpuAbsenceReasons(
  env: Record<string, string | undefined>,
  gpus: GpuQuery | null,
  sources: FactSources = machineSources,
): string[] {
  const reasons: string[] = [];
  if (gpus && !gpus.ok) reasons.push(gpus.reason);
  if (gpus?.ok) {
    if (gpus.gpus.length === 0) reasons.push('nvidia-smi lists no GPU');
    const visible = (env.CUDA_VISIBLE_DEVICES ?? '')
      .split(',')
      .map((d) => d.trim())
      .filter((d) => d !== '');
    const unknown = visible.filter(
      (d) => !gpus.gpus.some((g) => String(g.index) === d) && !d.startsWith('GPU-') && !d.startsWith('MIG-'),
    );
    if (unknown.length > 0 && gpus.gpus.length > 0) {
      reasons.push(
        `CUDA_VISIBLE_DEVICES=${env.CUDA_VISIBLE_DEVICES} names ${unknown.join(', ')}, which nvidia-smi does not list (it lists ${gpus.gpus.map((g) => g.index).join(', ')})`,
      );
    }
    const old = gpus.gpus.find((g) => g.driverVersion !== '?' && !versionAtLeast(g.driverVersion, MIN_DRIVER_VERSION));
    if (old)
      reasons.push(
        `NVIDIA driver ${old.driverVersion} is older than ${MIN_DRIVER_VERSION}, the oldest that runs CUDA 11.2`,
      );
  }
  reasons.push(...missingLibraryReasons(findCudaLibraries(env, sources)));
  if (reasons.length === 0)
    reasons.push(
      "the driver and the CUDA 11.2 / cuDNN 8.1 libraries look right; TensorFlow's own log (`yolo-launch doctor`) says which step failed",
    );
  return reasons;
}
