// Identity for wasm without a copy. The engine clones every tensor a gradient needs
// (saveTensorsForBackwardMode -> Identity); wasm's Identity copies the bytes each time
// (~900 full-size copies per YOLOv5n step). tfjs tensors are immutable, so sharing the
// buffer with a reference count is safe; the cpu backend and wasm's Reshape do the same.
import { Identity, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm_calls.js';
import { runReplaced } from './replaced.js';

export function identityWasm(args: { inputs: { x: TensorInfo }; backend: WasmBackend }): TensorInfo {
  const { x } = args.inputs;
  if (x.dtype === 'string') return runReplaced(Identity, args) as TensorInfo;
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

export const identityConfig: KernelConfig = {
  kernelName: Identity,
  backendName: 'wasm',
  kernelFunc: identityWasm as unknown as KernelFunc,
};
