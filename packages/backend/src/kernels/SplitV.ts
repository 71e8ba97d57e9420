// SplitV for wasm (the gradient of Concat). wasm's version slices each piece through
// Slice, which copies the whole input out of the heap per piece and then walks it element
// by element. Here: one pass, copying each piece's contiguous run per outer index.
import { backend_util, SplitV, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm_calls.js';
import { runReplaced } from './replaced.js';

export function splitVWasm(args: {
  inputs: { x: TensorInfo };
  backend: WasmBackend;
  attrs: { numOrSizeSplits: number | number[]; axis: number };
}): TensorInfo[] {
  const {
    inputs: { x },
    backend,
    attrs,
  } = args;
  if (x.dtype === 'string') return runReplaced(SplitV, args as never) as TensorInfo[];
  const axis = util.parseAxisParam(attrs.axis, x.shape)[0];
  const sizes = backend_util.prepareSplitSize(x as never, attrs.numOrSizeSplits, axis);
  const outer = util.sizeFromShape(x.shape.slice(0, axis));
  const inner = util.sizeFromShape(x.shape.slice(axis + 1));
  const rowLen = x.shape[axis] * inner;
  const outs = sizes.map((s) =>
    backend.makeOutput([...x.shape.slice(0, axis), s, ...x.shape.slice(axis + 1)], x.dtype),
  );
  const src = backend.typedArrayFromHeap(x); // views after every makeOutput (heap growth)
  let offset = 0;
  outs.forEach((out, i) => {
    const dst = backend.typedArrayFromHeap(out);
    const run = sizes[i] * inner;
    if (run >= 64) {
      for (let o = 0; o < outer; o++) dst.set(src.subarray(o * rowLen + offset, o * rowLen + offset + run), o * run);
    } else {
      for (let o = 0; o < outer; o++) {
        const s0 = o * rowLen + offset,
          d0 = o * run;
        for (let q = 0; q < run; q++) dst[d0 + q] = src[s0 + q];
      }
    }
    offset += run;
  });
  return outs;
}

export const splitVConfig: KernelConfig = {
  kernelName: SplitV,
  backendName: 'wasm',
  kernelFunc: splitVWasm as unknown as KernelFunc,
};
