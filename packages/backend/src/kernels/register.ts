// Registers our wasm kernels with tfjs-core's (global) kernel registry. Idempotent.
import { getKernel, getKernelsForBackend, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter.js';
import { conv2DBackpropInputConfig } from './Conv2DBackpropInput.js';
import { unsortedSegmentSumConfig } from './UnsortedSegmentSum.js';
import { cpuBridgeConfig } from './cpu_bridge.js';

/** Kernels with a native (fast) wasm implementation of ours. */
export const nativeWasmKernels: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  unsortedSegmentSumConfig,
];

/** Kernels wasm lacks that a training step may hit rarely: run on the cpu backend. */
export const cpuBridgedKernels: readonly string[] = [
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'Einsum',
];

let registered = false;

export function registerWasmKernels(): void {
  if (registered) return;
  for (const config of nativeWasmKernels) {
    // Replaces wasm's own version where it has one (Conv2DBackpropInput).
    if (getKernel(config.kernelName, 'wasm') != null) unregisterKernel(config.kernelName, 'wasm');
    registerKernel(config);
  }
  const have = new Set(getKernelsForBackend('wasm').map((k) => k.kernelName));
  for (const name of cpuBridgedKernels) {
    if (!have.has(name) && getKernel(name, 'cpu') != null) registerKernel(cpuBridgeConfig(name));
  }
  registered = true;
}
