// MaxPoolGrad for wasm with PyTorch's tie-breaking: the gradient goes to the FIRST maximum
// of each window in scan order (PyTorch and tfjs's cpu backend); wasm's own kernel picks the
// last. SPPF's cascaded 5x5 stride-1 pools make exact ties common (a pool of a pool has
// plateaus), so the choice changes real gradients, and we want YOLOv5's.
import { backend_util, MaxPoolGrad, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm_calls.js';

export function maxPoolGradWasm(args: {
  inputs: { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  backend: WasmBackend;
  attrs: {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'valid' | 'same' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
}): TensorInfo {
  const {
    inputs: { dy, input, output },
    backend,
    attrs,
  } = args;
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels: ch,
    outHeight,
    outWidth,
    strideHeight,
    strideWidth,
    filterHeight,
    filterWidth,
  } = info;
  const top = info.padInfo.top,
    left = info.padInfo.left;
  const dx = backend.makeOutput(input.shape, 'float32');
  const xs = backend.typedArrayFromHeap(input) as Float32Array;
  const ys = backend.typedArrayFromHeap(output) as Float32Array; // the forward's maxima
  const dys = backend.typedArrayFromHeap(dy) as Float32Array;
  const dxs = backend.typedArrayFromHeap(dx) as Float32Array;
  dxs.fill(0);
  // Scan each window in row-major order with the channels innermost (contiguous), and give
  // each channel's gradient to the first element equal to its maximum; stop early once
  // every channel has found it.
  const found = new Uint8Array(ch);
  for (let b = 0; b < batchSize; b++) {
    const xb = b * inHeight * inWidth * ch;
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = Math.max(0, oy * strideHeight - top),
        y1 = Math.min(inHeight, oy * strideHeight - top + filterHeight);
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = Math.max(0, ox * strideWidth - left),
          x1 = Math.min(inWidth, ox * strideWidth - left + filterWidth);
        const o = ((b * outHeight + oy) * outWidth + ox) * ch;
        found.fill(0);
        let missing = ch;
        for (let c = 0; c < ch; c++)
          if (Number.isNaN(ys[o + c])) {
            found[c] = 1;
            missing--;
          }
        for (let y = y0; y < y1 && missing > 0; y++) {
          for (let x = x0; x < x1 && missing > 0; x++) {
            const i = xb + (y * inWidth + x) * ch;
            for (let c = 0; c < ch; c++) {
              if (found[c] === 0 && xs[i + c] === ys[o + c]) {
                found[c] = 1;
                missing--;
                dxs[i + c] += dys[o + c];
              }
            }
          }
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
