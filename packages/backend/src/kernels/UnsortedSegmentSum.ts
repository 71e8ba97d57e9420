// UnsortedSegmentSum for wasm: the gradient of GatherV2 (the YOLO loss gathers predictions
// at target cells). tfjs-backend-wasm has no such kernel; the cpu one builds a mask per
// segment (O(numSegments * size)). This is a single scatter-add pass over the wasm heap.
import { UnsortedSegmentSum, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm_calls.js';

export function unsortedSegmentSumWasm(args: {
  inputs: { x: TensorInfo; segmentIds: TensorInfo };
  backend: WasmBackend;
  attrs: { numSegments: number };
}): TensorInfo {
  const {
    inputs: { x, segmentIds },
    backend,
    attrs: { numSegments },
  } = args;
  const idRank = segmentIds.shape.length;
  for (let d = 0; d < idRank; d++) {
    if (segmentIds.shape[d] !== x.shape[d]) {
      throw new Error(
        `UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]`,
      );
    }
  }
  const inner = util.sizeFromShape(x.shape.slice(idRank));
  const count = util.sizeFromShape(segmentIds.shape);
  const out = backend.makeOutput([numSegments, ...x.shape.slice(idRank)], x.dtype);
  // Views after makeOutput, which may grow the heap.
  const outVals = backend.typedArrayFromHeap(out);
  const xVals = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  outVals.fill(0);
  for (let e = 0; e < count; e++) {
    const id = ids[e];
    if (id < 0 || id >= numSegments) continue; // TF drops out-of-range ids
    const src = e * inner,
      dst = id * inner;
    for (let q = 0; q < inner; q++) outVals[dst + q] += xVals[src + q];
  }
  return out;
}

export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSumWasm as unknown as KernelFunc,
};
