// Sum and Mean for wasm when the reduced axes are the leading ones (per-channel sums of an
// NHWC tensor: BatchNorm statistics and every BN-parameter gradient). wasm's own kernels
// first transpose the whole tensor so that the reduced axes are innermost (~3 ns/element).
// Here the rows are averaged by XNNPACK average pooling over windows of up to 256 rows
// (~0.3 ns/element, SIMD across channels), once or twice, and the few remaining rows are
// summed in float64.
import { Mean, Sum, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { release, reshape, runWasmKernel, type WasmBackend } from './wasm_calls.js';
import { runReplaced } from './replaced.js';

interface ReduceArgs {
  inputs: { x: TensorInfo };
  backend: WasmBackend;
  attrs: { axis: number | number[]; keepDims: boolean };
}

const MAX_WINDOW = 256;
const FINAL_ROWS = 2048;

/** Number of leading axes reduced, or -1 if the reduced axes are not exactly a prefix. */
function leadingAxes(x: TensorInfo, axis: number | number[]): number {
  const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  for (let i = 0; i < axes.length; i++) if (axes[i] !== i) return -1;
  return axes.length < x.shape.length ? axes.length : -1; // full reductions: wasm is fine
}

function largestDivisorUpTo(n: number, limit: number): number {
  for (let d = Math.min(n, limit); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

/** Per-column means of x viewed as [rows, cols], as float64. */
export function columnMeans(backend: WasmBackend, x: TensorInfo, rows: number, cols: number): Float64Array {
  let current = reshape(backend, x, [1, rows, 1, cols]);
  let remaining = rows;
  while (remaining > FINAL_ROWS) {
    const w = largestDivisorUpTo(remaining, MAX_WINDOW);
    if (w < 8) break; // awkward factorisation: finish in JS
    const pooled = runWasmKernel(backend, 'AvgPool', { x: current }, {
      filterSize: [w, 1],
      strides: [w, 1],
      pad: 'valid',
      dimRoundingMode: undefined,
    } as never);
    release(backend, current);
    current = pooled;
    remaining /= w;
  }
  const vals = backend.typedArrayFromHeap(current) as Float32Array;
  const acc = new Float64Array(cols);
  for (let r = 0, base = 0; r < remaining; r++, base += cols) {
    for (let c = 0; c < cols; c++) acc[c] += vals[base + c];
  }
  release(backend, current);
  for (let c = 0; c < cols; c++) acc[c] /= remaining;
  return acc;
}

function reduceLeading(args: ReduceArgs, kernelName: string, isMean: boolean): TensorInfo {
  const {
    inputs: { x },
    backend,
    attrs,
  } = args;
  const lead = x.dtype === 'float32' ? leadingAxes(x, attrs.axis) : -1;
  if (lead <= 0) return runReplaced(kernelName, args as never) as TensorInfo;
  const rows = util.sizeFromShape(x.shape.slice(0, lead));
  const cols = util.sizeFromShape(x.shape.slice(lead));
  const outShape = attrs.keepDims
    ? [...x.shape.slice(0, lead).map(() => 1), ...x.shape.slice(lead)]
    : x.shape.slice(lead);
  const means = columnMeans(backend, x, rows, cols);
  const out = backend.makeOutput(outShape, 'float32');
  const os = backend.typedArrayFromHeap(out) as Float32Array;
  const scale = isMean ? 1 : rows;
  for (let c = 0; c < cols; c++) os[c] = means[c] * scale;
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
