// Registers our wasm kernels and gradient overrides with tfjs-core's (global) registries.
// Idempotent.
import {
  findBackendFactory,
  getKernel,
  getKernelsForBackend,
  registerGradient,
  registerKernel,
  removeBackend,
  unregisterKernel,
  type GradConfig,
  type KernelConfig,
} from '@tensorflow/tfjs-core';
// tfjs-core's node bundle registers NO gradients and no chained ops (x.add(y)); the
// @tensorflow/tfjs union bundle registers both with the (global) registry of this same
// tfjs-core. Without it tf.grad fails with "gradient function not found". It must load
// before our gradient overrides below.
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter.js';
import { conv2DBackpropInputConfig } from './Conv2DBackpropInput.js';
import { unsortedSegmentSumConfig } from './UnsortedSegmentSum.js';
import { cpuBridgeConfig } from './cpu_bridge.js';
import { rememberReplaced } from './replaced.js';
import { identityConfig } from './Identity.js';
import { castConfig } from './Cast.js';
import { sumConfig, meanConfig } from './Sum.js';
import { splitVConfig } from './SplitV.js';
import { maxPoolGradConfig } from './MaxPoolGrad.js';
import { resizeNearestNeighborGradCpuConfig } from './ResizeNearestNeighborGrad_cpu.js';
import { fusedBatchNormGradConfig } from '../gradients/FusedBatchNorm_grad.js';

/** Kernels with a native (fast) wasm implementation of ours. */
export const nativeWasmKernels: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  unsortedSegmentSumConfig,
  identityConfig,
  castConfig,
  sumConfig,
  meanConfig,
  splitVConfig,
  maxPoolGradConfig,
];

/** Fixes for tfjs-backend-cpu kernels that are wrong (the cpu backend is our test reference). */
export const cpuKernelFixes: readonly KernelConfig[] = [resizeNearestNeighborGradCpuConfig];

/** Kernels wasm lacks that a training step may hit rarely: run on the cpu backend. */
export const cpuBridgedKernels: readonly string[] = [
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'Einsum',
];

/** Gradients we replace for every backend (faster formulations of tfjs-core's). */
export const gradientOverrides: readonly GradConfig[] = [fusedBatchNormGradConfig];

let registered = false;

export function registerWasmKernels(): void {
  if (registered) return;
  // The union bundle also registers tfjs-backend-webgl, which cannot run in Node: drop it so
  // that code touching tensors before initBackend() gets wasm/cpu, not a webgl failure.
  if (findBackendFactory('webgl') != null) removeBackend('webgl');
  for (const config of [...nativeWasmKernels, ...cpuKernelFixes]) {
    // Replaces wasm's own version where it has one (Conv2DBackpropInput).
    const original = getKernel(config.kernelName, config.backendName);
    if (original != null) {
      if (config.backendName === 'wasm') rememberReplaced(original);
      unregisterKernel(config.kernelName, config.backendName);
    }
    registerKernel(config);
  }
  const have = new Set(getKernelsForBackend('wasm').map((k) => k.kernelName));
  for (const name of cpuBridgedKernels) {
    if (!have.has(name) && getKernel(name, 'cpu') != null) registerKernel(cpuBridgeConfig(name));
  }
  for (const config of gradientOverrides) registerGradient(config);
  registered = true;
}
