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
import { conv2d, cropNegativePadding, release, reshape, transpose, type Pad1D, type WasmBackend } from './wasm_calls.js';
import { runOnCpu } from './cpu_bridge.js';

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
 * 1x1 stride-1 unpadded: dW[c,k] = sum_m X[m,c] * DY[m,k] over the M = N*H*W pixels, a
 * plain GEMM. As a convolution: M becomes the channel axis, so XNNPACK runs it as one GEMM
 * with a contiguous reduction (the general path above reduces over pointers to rows of only
 * N channels, which is 3-10x slower for these layers). The operand with fewer channels is
 * transposed to [channels, M] and becomes the "image"; the other is the filter as is
 * (measured: cheaper than the other way round, although XNNPACK repacks the filter).
 */
function pointwiseFilterGrad(backend: WasmBackend, x: TensorInfo, dy: TensorInfo): TensorInfo {
  const c = x.shape[3], k = dy.shape[3];
  const m = x.shape[0] * x.shape[1] * x.shape[2];
  const [image, filter, imageCh, filterCh] = c <= k ? [x, dy, c, k] : [dy, x, k, c];
  const image2 = reshape(backend, image, [m, imageCh]);
  const imageT = transpose(backend, image2, [1, 0]); // [imageCh, M]
  const image4 = reshape(backend, imageT, [1, 1, imageCh, m]);
  const filter4 = reshape(backend, filter, [1, 1, m, filterCh]);
  const product = conv2d(backend, image4, filter4, [1, 1], [1, 1], { before: 0, after: 0 }, { before: 0, after: 0 }); // [1,1,imageCh,filterCh]
  release(backend, image2, imageT, image4, filter4);
  if (c <= k) return product; // [1,1,C,K]
  const product2 = reshape(backend, product, [k, c]);
  const dw2 = transpose(backend, product2, [1, 0]);
  const dw = reshape(backend, dw2, [1, 1, c, k]);
  release(backend, product, product2, dw2);
  return dw;
}

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterWasm as unknown as KernelFunc,
};
