// Runs a cpu-backend kernel on wasm tensors by copying them across. This is how wasm gets
// kernels it lacks entirely but that a training step may still hit rarely (depthwise conv
// gradients, Einsum, the NCHW layouts): correct first; the hot ones have native versions.
import {
  findBackend,
  getKernel,
  type KernelBackend,
  type KernelFunc,
  type KernelConfig,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm_calls.js';

function cpuBackend(): KernelBackend {
  const cpu = findBackend('cpu');
  if (cpu == null)
    throw new Error(
      "the cpu backend is not registered; import '@tensorflow/tfjs-backend-cpu' (the backend package does this)",
    );
  // MathBackendCPU prints a "install tfjs-node" banner on first write; we use it on purpose.
  (cpu as unknown as { firstUse?: boolean }).firstUse = false;
  return cpu;
}

export function runOnCpu(
  backend: WasmBackend,
  kernelName: string,
  inputs: Record<string, TensorInfo | undefined>,
  attrs: Record<string, unknown>,
): TensorInfo {
  const out = runOnCpuMulti(backend, kernelName, inputs, attrs);
  if (out.length !== 1) throw new Error(`${kernelName} returned ${out.length} outputs where one was expected`);
  return out[0];
}

export function runOnCpuMulti(
  backend: WasmBackend,
  kernelName: string,
  inputs: Record<string, TensorInfo | undefined>,
  attrs: Record<string, unknown>,
): TensorInfo[] {
  const config = getKernel(kernelName, 'cpu');
  if (config == null) throw new Error(`no cpu kernel ${kernelName} to fall back to`);
  const cpu = cpuBackend();
  const cpuInputs: Record<string, TensorInfo> = {};
  for (const [name, info] of Object.entries(inputs)) {
    if (info == null) continue;
    const values = backend.readSync(info.dataId) as Float32Array | Int32Array | Uint8Array;
    cpuInputs[name] = {
      dataId: cpu.write(values.slice(), info.shape, info.dtype),
      shape: info.shape,
      dtype: info.dtype,
    };
  }
  try {
    const result = config.kernelFunc({ inputs: cpuInputs, backend: cpu, attrs: attrs as NamedAttrMap });
    const outs = Array.isArray(result) ? result : [result];
    return outs.map((o) => {
      const values = cpu.readSync(o.dataId) as Float32Array | Int32Array | Uint8Array;
      cpu.disposeData(o.dataId);
      return backend.makeOutput(o.shape, o.dtype, undefined, values);
    });
  } finally {
    for (const info of Object.values(cpuInputs)) cpu.disposeData(info.dataId);
  }
}

/** A wasm kernel config that delegates to the cpu kernel of the same name. */
export function cpuBridgeConfig(kernelName: string): KernelConfig {
  const kernelFunc = ((args: {
    inputs: Record<string, TensorInfo>;
    backend: WasmBackend;
    attrs: Record<string, unknown>;
  }) => {
    const outs = runOnCpuMulti(args.backend, kernelName, args.inputs, args.attrs ?? {});
    return outs.length === 1 ? outs[0] : outs;
  }) as unknown as KernelFunc;
  return { kernelName, backendName: 'wasm', kernelFunc };
}
