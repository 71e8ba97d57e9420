// Conv2DBackpropFilter for wasm (tfjs-backend-wasm has none, so no conv weight could train).
//
// dW[i,j,c,k] = sum_{n,oh,ow} x[n, oh*s + i - padTop, ow*s + j - padLeft, c] * dy[n,oh,ow,k]
//
// k x k filters run as shifted GEMMs on our own SIMD module (gemm_filter_grad.ts), 1x1
// stride-1 ones as one A^T B GEMM (gemm_atb.ts); NCHW goes to the cpu kernel.
import {
  backend_util,
  Conv2DBackpropFilter,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { heapF32, type WasmBackend } from './wasm_calls.js';
import { runOnCpu } from './cpu_bridge.js';
import { gemmATB } from './gemm_atb.js';
import { filterGradGemm } from './gemm_filter_grad.js';

interface Attrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

export function conv2DBackpropFilterWasm(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: WasmBackend;
  attrs: Attrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  if (attrs.dataFormat === 'NCHW') {
    // wasm's convolution is NHWC-only; stay correct rather than fast for this rare layout.
    return runOnCpu(backend, Conv2DBackpropFilter, inputs, attrs as unknown as Record<string, unknown>);
  }
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const {
    filterHeight: kh,
    filterWidth: kw,
    strideHeight: sh,
    strideWidth: sw,
    outHeight: oh,
    outWidth: ow,
    inHeight: h,
    inWidth: w,
  } = info;
  const p = info.padInfo;
  if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && p.top + p.bottom + p.left + p.right === 0) {
    return pointwiseFilterGrad(backend, x, dy);
  }
  const dw = backend.makeOutput([kh, kw, x.shape[3], dy.shape[3]], 'float32');
  filterGradGemm(
    heapF32(backend, x),
    heapF32(backend, dy),
    {
      n: x.shape[0],
      h,
      w,
      c: x.shape[3],
      oh,
      ow,
      k: dy.shape[3],
      kh,
      kw,
      sh,
      sw,
      padTop: p.top,
      padLeft: p.left,
    },
    heapF32(backend, dw),
  );
  return dw;
}

/**
 * 1x1 stride-1 unpadded: dW[c,k] = sum_m X[m,c] * DY[m,k] over the M = N*H*W pixels, a plain
 * A^T B GEMM, run on our own SIMD module (gemm_atb.ts, 30-40 GFLOP/s). Through tfjs-wasm's
 * own primitives it needs an XNNPACK convolution whose filter is an M-sized operand,
 * re-laid-out on every call at ~15 ns/element: 3-8x the forward conv (see README).
 */
function pointwiseFilterGrad(backend: WasmBackend, x: TensorInfo, dy: TensorInfo): TensorInfo {
  const c = x.shape[3],
    k = dy.shape[3];
  const m = x.shape[0] * x.shape[1] * x.shape[2];
  const dw = backend.makeOutput([1, 1, c, k], 'float32');
  // views after makeOutput (heap growth); gemmATB allocates nothing on the tfjs heap
  gemmATB(heapF32(backend, x), heapF32(backend, dy), m, c, k, heapF32(backend, dw));
  return dw;
}

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterWasm as unknown as KernelFunc,
};
