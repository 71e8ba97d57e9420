// Sum and Mean for wasm when the reduced axes are the leading ones (per-channel sums of an
// NHWC tensor: BatchNorm statistics and every bias/BN-parameter gradient). wasm's kernels
// first transpose the whole tensor so the reduced axes are innermost; a single pass with
// per-channel float64 accumulators needs no copy (and sums more accurately).
import { Mean, Sum, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm_calls.js';
import { runReplaced } from './replaced.js';

interface ReduceArgs {
  inputs: { x: TensorInfo };
  backend: WasmBackend;
  attrs: { axis: number | number[]; keepDims: boolean };
}

/** Number of leading axes reduced, or -1 if the reduced axes are not exactly a prefix. */
function leadingAxes(x: TensorInfo, axis: number | number[]): number {
  const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  for (let i = 0; i < axes.length; i++) if (axes[i] !== i) return -1;
  return axes.length < x.shape.length ? axes.length : -1; // full reductions: wasm is fine
}

function reduceLeading(args: ReduceArgs, kernelName: string, scaleByCount: boolean): TensorInfo {
  const { inputs: { x }, backend, attrs } = args;
  const lead = x.dtype === 'float32' ? leadingAxes(x, attrs.axis) : -1;
  if (lead <= 0) return runReplaced(kernelName, args as never) as TensorInfo;
  const rows = util.sizeFromShape(x.shape.slice(0, lead));
  const cols = util.sizeFromShape(x.shape.slice(lead));
  const outShape = attrs.keepDims ? [...x.shape.slice(0, lead).map(() => 1), ...x.shape.slice(lead)] : x.shape.slice(lead);
  const out = backend.makeOutput(outShape, 'float32');
  const xs = backend.typedArrayFromHeap(x) as Float32Array; // after makeOutput (heap growth)
  const acc = new Float64Array(cols);
  for (let r = 0, base = 0; r < rows; r++, base += cols) {
    for (let c = 0; c < cols; c++) acc[c] += xs[base + c];
  }
  const os = backend.typedArrayFromHeap(out) as Float32Array;
  const scale = scaleByCount ? 1 / rows : 1;
  for (let c = 0; c < cols; c++) os[c] = acc[c] * scale;
  return out;
}

export const sumConfig: KernelConfig = {
  kernelName: Sum,
  backendName: 'wasm',
  kernelFunc: ((args: ReduceArgs) => reduceLeading(args, Sum, false)) as unknown as KernelFunc,
};

export const meanConfig: KernelConfig = {
  kernelName: Mean,
  backendName: 'wasm',
  kernelFunc: ((args: ReduceArgs) => reduceLeading(args, Mean, true)) as unknown as KernelFunc,
};
