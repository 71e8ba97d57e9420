// @yolo-launch/backend: every package takes tfjs from here, so one tfjs-core instance holds
// one set of kernels (ours included) and one active backend.
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's node bundle registers no gradients and no chained ops (x.add(y)); the
// @tensorflow/tfjs union bundle registers both with the (global) registry of this same
// tfjs-core. Without it, tf.grad fails with "gradient function not found".
import '@tensorflow/tfjs';
import { registerWasmKernels } from './kernels/register.js';

registerWasmKernels();

export { tf };
export type Tf = typeof tf;
export {
  initBackend, backendChoice, resolveRequested, BACKEND_NAMES, TFJS_NODE, TFJS_NODE_GPU,
  type BackendName, type ActiveBackend, type BackendChoice, type InitBackendOptions, type PassedOver,
} from './select.js';
export type { BackendLogger } from './log.js';
export type { ModuleLoader } from './loader.js';
export { explainCpuFallback } from './cuda_check.js';
export { registerWasmKernels, nativeWasmKernels, cpuBridgedKernels } from './kernels/register.js';
