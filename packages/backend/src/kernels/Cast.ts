// Cast for wasm: a cast to the same dtype (tf.moments casts its float32 input) shares the
// buffer instead of copying it; real conversions go to wasm's own kernel.
import { Cast, type DataType, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm_calls.js';
import { runReplaced } from './replaced.js';

export function castWasm(args: {
  inputs: { x: TensorInfo };
  backend: WasmBackend;
  attrs: { dtype: DataType };
}): TensorInfo {
  const { x } = args.inputs;
  if (x.dtype === args.attrs.dtype && x.dtype !== 'string') {
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  }
  return runReplaced(Cast, args as never) as TensorInfo;
}

export const castConfig: KernelConfig = {
  kernelName: Cast,
  backendName: 'wasm',
  kernelFunc: castWasm as unknown as KernelFunc,
};
