// Conv2DBackpropFilter for wasm (tfjs-backend-wasm has none, so no conv weight could train).
//
// dW[i,j,c,k] = sum_{n,oh,ow} x[n, oh*s + i - padTop, ow*s + j - padLeft, c] * dy[n,oh,ow,k]
//
// That sum is itself a convolution once batch and channels swap roles: take x as a batch of
// C single-"image" planes with N channels (xT = [C,H,W,N]) and dy as a [OH,OW,N,K] filter
// dilated by the forward stride. The output [C,kh,kw,K] is transposed to [kh,kw,C,K].
// This runs on XNNPACK's convolution, the fastest primitive wasm has (its matMul is ~10x
// slower per FLOP on these shapes, so an im2col + matMul formulation loses).
import { backend_util, Conv2DBackpropFilter, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { conv2d, cropNegativePadding, heapF32, release, transpose, type Pad1D, type WasmBackend } from './wasm_calls.js';
import { runOnCpu } from './cpu_bridge.js';
import { gemmATB } from './gemm_atb.js';
import { filterGradGemm } from './gemm_filter_grad.js';

/** k x k filter gradients as shifted GEMMs on our module (default) or as one XNNPACK conv (A/B switch). */
export const SHIFTED_GEMM = { enabled: true };

interface Attrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

export function conv2DBackpropFilterWasm(args: { inputs: { x: TensorInfo; dy: TensorInfo }; backend: WasmBackend; attrs: Attrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  if (attrs.dataFormat === 'NCHW') {
    // wasm's convolution is NHWC-only; stay correct rather than fast for this rare layout.
    return runOnCpu(backend, Conv2DBackpropFilter, inputs, attrs as unknown as Record<string, unknown>);
  }
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow, inHeight: h, inWidth: w } = info;
  const p = info.padInfo;
  if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && p.top + p.bottom + p.left + p.right === 0) {
    return pointwiseFilterGrad(backend, x, dy);
  }
  if (SHIFTED_GEMM.enabled) {
    const dw = backend.makeOutput([kh, kw, x.shape[3], dy.shape[3]], 'float32');
    filterGradGemm(heapF32(backend, x), heapF32(backend, dy), {
      n: x.shape[0], h, w, c: x.shape[3], oh, ow, k: dy.shape[3], kh, kw, sh, sw, padTop: p.top, padLeft: p.left,
    }, heapF32(backend, dw));
    return dw;
  }

  // Padding that makes the transposed convolution produce exactly kh x kw outputs; a negative
  // "after" means the forward conv never read the last rows/cols (VALID with a remainder).
  const padH: Pad1D = { before: info.padInfo.top, after: kh + (oh - 1) * sh - h - info.padInfo.top };
  const padW: Pad1D = { before: info.padInfo.left, after: kw + (ow - 1) * sw - w - info.padInfo.left };

  const xT = transpose(backend, x, [3, 1, 2, 0]); // [C,H,W,N]
  const dyT = transpose(backend, dy, [1, 2, 0, 3]); // [OH,OW,N,K]
  const crop = cropNegativePadding(backend, xT, padH, padW);
  const dwT = conv2d(backend, crop.x, dyT, [1, 1], [sh, sw], crop.padH, crop.padW); // [C,kh,kw,K]
  const dw = transpose(backend, dwT, [1, 2, 0, 3]);
  release(backend, xT, dyT, dwT);
  if (crop.owned) release(backend, crop.x);
  return dw;
}

/**
 * 1x1 stride-1 unpadded: dW[c,k] = sum_m X[m,c] * DY[m,k] over the M = N*H*W pixels, a plain
 * A^T B GEMM, run on our own SIMD module (gemm_atb.ts, 30-40 GFLOP/s). Through tfjs-wasm's
 * own primitives it needs an XNNPACK convolution whose filter is an M-sized operand,
 * re-laid-out on every call at ~15 ns/element: 3-8x the forward conv (see README).
 */
function pointwiseFilterGrad(backend: WasmBackend, x: TensorInfo, dy: TensorInfo): TensorInfo {
  const c = x.shape[3], k = dy.shape[3];
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
