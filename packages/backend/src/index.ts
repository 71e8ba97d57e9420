// @yolo-launch/backend: every package takes tfjs from here, so one tfjs-core instance holds
// one set of kernels (ours included) and one active backend.
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmKernels } from './kernels/register.js';

import { setEagerBackprop } from './engine/eager_backprop.js';
import { backendSwitches } from './switches.js';

registerWasmKernels();
// Free gradients and saved activations during backprop (see engine/eager_backprop.ts).
setEagerBackprop(backendSwitches().eagerBackprop);

export { tf };
export type Tf = typeof tf;
export {
  initBackend,
  backendChoice,
  resolveRequested,
  BACKEND_NAMES,
  TFJS_NODE,
  TFJS_NODE_GPU,
  type BackendName,
  type ActiveBackend,
  type BackendChoice,
  type InitBackendOptions,
  type PassedOver,
} from './select.js';
export type { BackendLogger } from './log.js';
export type { ModuleLoader } from './loader.js';
export {
  explainCpuFallback,
  findCudaLibraries,
  parseLdconfig,
  missingLibraryReasons,
  TF_CUDA_LIBRARIES,
  type CudaLibrary,
  type LibraryLookup,
} from './cuda_check.js';
export * from './gpu/index.js';
export { tensorflowLoadEnv } from './tensorflow_env.js';
export { backendSwitches, type BackendSwitches } from './switches.js';
export { probeTensorflowBackend, type TensorflowProbe } from './probe.js';
export {
  registerWasmKernels,
  nativeWasmKernels,
  cpuBridgedKernels,
  cpuKernelFixes,
  gradientOverrides,
} from './kernels/register.js';
export { replacedWasmKernel } from './kernels/replaced.js';
export { batchNormTrain, type BatchNormTrainResult } from './ops/batch_norm_train.js';
export { localMoments, type BatchMoments, type MomentsFn } from './ops/moments.js';
export { silu } from './ops/silu.js';
export { conv2dTorch, fusedConv2dTorch, maxPoolTorch } from './ops/torch_padding.js';
export { setEagerBackprop, eagerBackpropEnabled } from './engine/eager_backprop.js';
