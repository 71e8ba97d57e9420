// The GPU side of the backend: facts (nvidia-smi, TF's log, CUDA libraries, JIT cache), the
// device request, and the guard that proves ops run on the GPU.
export { machineSources, firstLine, type FactSources, type CommandResult } from './sources.js';
export {
  queryGpus,
  parseGpuRows,
  queryArgs,
  versionAtLeast,
  describeGpu,
  FULL_FIELDS,
  type GpuInfo,
  type GpuQuery,
} from './nvidia_smi.js';
export { parseTfLog, tfLogReasons, type TfLogFacts, type CreatedGpuDevice, type MissingLibrary } from './tf_log.js';
export {
  needsPtxJit,
  jitCacheState,
  jitCacheNotice,
  LIBTENSORFLOW_CUDA_ARCHS,
  RECOMMENDED_CACHE_BYTES,
  type JitCacheState,
} from './jit_cache.js';
export {
  parseDeviceRequest,
  applyDeviceRequest,
  cpuRequested,
  hidesAllGpus,
  candidatesForDevice,
  type DeviceRequest,
} from './device_request.js';
export { probeOps, explainProbeError, type ProbeResult, type NodeBackendFlags } from './probe.js';
export {
  prepareGpuGuard,
  gpuAbsenceReasons,
  GpuUnavailableError,
  MIN_DRIVER_VERSION,
  type GpuGuard,
  type GpuGuardOptions,
  type GpuVerdict,
} from './guard.js';
