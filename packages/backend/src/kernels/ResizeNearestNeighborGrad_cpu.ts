// ResizeNearestNeighborGrad for the cpu backend. tfjs-backend-cpu 4.22's version indexes dy
// with the *input's* batch stride, so for batch > 1 every image after the first gets wrong
// gradients (checked against a float64 reference in test/kernels.test.ts); it also ignores
// halfPixelCenters. The cpu backend is our reference and a selectable backend, so we
// register a correct one: scatter each dy pixel to the source pixel the forward pass read,
// with the forward kernel's own index arithmetic.
import {
  ResizeNearestNeighborGrad,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

interface CpuBackendLike extends KernelBackend {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: string, values: Float32Array): TensorInfo;
}

/** The row (or column) of the input that output index `out` reads in the forward pass. */
function sourceIndex(
  out: number,
  inSize: number,
  outSize: number,
  alignCorners: boolean,
  halfPixelCenters: boolean,
): number {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const frac = halfPixelCenters ? ratio * (out + 0.5) : ratio * out;
  const nearest = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
  return halfPixelCenters ? Math.max(0, nearest) : nearest;
}

export function resizeNearestNeighborGradCpu(args: {
  inputs: { images: TensorInfo; dy: TensorInfo };
  backend: CpuBackendLike;
  attrs: { alignCorners: boolean; halfPixelCenters?: boolean };
}): TensorInfo {
  const {
    inputs: { images, dy },
    backend,
    attrs,
  } = args;
  const [batch, inH, inW, depth] = images.shape;
  const [, outH, outW] = dy.shape;
  const hpc = attrs.halfPixelCenters === true;
  const rows = Array.from({ length: outH }, (_, y) => sourceIndex(y, inH, outH, attrs.alignCorners, hpc));
  const cols = Array.from({ length: outW }, (_, x) => sourceIndex(x, inW, outW, attrs.alignCorners, hpc));
  const dyVals = backend.data.get(dy.dataId).values;
  const dx = new Float32Array(batch * inH * inW * depth);
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        const src = ((b * outH + y) * outW + x) * depth;
        const dst = ((b * inH + rows[y]) * inW + cols[x]) * depth;
        for (let d = 0; d < depth; d++) dx[dst + d] += dyVals[src + d];
      }
    }
  }
  return backend.makeTensorInfo(images.shape, 'float32', dx);
}

export const resizeNearestNeighborGradCpuConfig: KernelConfig = {
  kernelName: ResizeNearestNeighborGrad,
  backendName: 'cpu',
  kernelFunc: resizeNearestNeighborGradCpu as unknown as KernelFunc,
};
