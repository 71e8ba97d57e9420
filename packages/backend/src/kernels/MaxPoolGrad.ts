// MaxPoolGrad for wasm with PyTorch's tie-breaking: the gradient goes to the FIRST maximum
// of each window in scan order (PyTorch and tfjs's cpu backend); wasm's own kernel picks the
// last. SPPF's cascaded 5x5 stride-1 pools make exact ties common (a pool of a pool has
// plateaus), so the choice changes real gradients, and we want YOLOv5's.
import { backend_util, MaxPoolGrad, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm_calls.js';

export function maxPoolGradWasm(args: {
  inputs: { dy: TensorInfo; input: TensorInfo; output?: TensorInfo };
  backend: WasmBackend;
  attrs: { filterSize: number | [number, number]; strides: number | [number, number]; pad: 'valid' | 'same' | number; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
}): TensorInfo {
  const { inputs: { dy, input }, backend, attrs } = args;
  const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: ch, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  const dx = backend.makeOutput(input.shape, 'float32');
  const xs = backend.typedArrayFromHeap(input) as Float32Array;
  const dys = backend.typedArrayFromHeap(dy) as Float32Array;
  const dxs = backend.typedArrayFromHeap(dx) as Float32Array;
  dxs.fill(0);
  for (let b = 0; b < batchSize; b++) {
    const xb = b * inHeight * inWidth * ch;
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = Math.max(0, oy * strideHeight - top), y1 = Math.min(inHeight, oy * strideHeight - top + filterHeight);
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = Math.max(0, ox * strideWidth - left), x1 = Math.min(inWidth, ox * strideWidth - left + filterWidth);
        const dyBase = ((b * outHeight + oy) * outWidth + ox) * ch;
        for (let c = 0; c < ch; c++) {
          let best = -Infinity, at = -1;
          for (let y = y0; y < y1; y++) {
            for (let x = x0, i = xb + (y * inWidth + x0) * ch + c; x < x1; x++, i += ch) {
              const v = xs[i];
              if (v > best || (at < 0 && Number.isNaN(v))) { best = v; at = i; }
            }
          }
          if (at >= 0) dxs[at] += dys[dyBase + c];
        }
      }
    }
  }
  return dx;
}

export const maxPoolGradConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGradWasm as unknown as KernelFunc,
};
