// Thin, typed wrappers that call the wasm backend's own kernels directly (not through the
// engine). Our kernels are compositions of these: they run inside one kernel invocation, so
// nothing here is recorded on the gradient tape or counted as a tensor; every intermediate
// must be released with `release` (which drops one reference on the wasm heap).
import { getKernel, util, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type WasmBackend = BackendWasm;

/** One spatial dimension's padding; negative values crop instead of padding. */
export interface Pad1D {
  before: number;
  after: number;
}

export function runWasmKernel(
  backend: WasmBackend,
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const config = getKernel(kernelName, 'wasm');
  if (config == null)
    throw new Error(`wasm kernel ${kernelName} is not registered; import @tensorflow/tfjs-backend-wasm first`);
  const out = config.kernelFunc({ inputs, attrs, backend });
  if (Array.isArray(out)) throw new Error(`wasm kernel ${kernelName} returned several outputs where one was expected`);
  return out;
}

export function release(backend: WasmBackend, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** Stride-1-or-more NHWC convolution with explicit, non-negative padding. */
export function conv2d(
  backend: WasmBackend,
  x: TensorInfo,
  filter: TensorInfo,
  strides: [number, number],
  dilations: [number, number],
  padH: Pad1D,
  padW: Pad1D,
): TensorInfo {
  const pad = [
    [0, 0],
    [padH.before, padH.after],
    [padW.before, padW.after],
    [0, 0],
  ];
  return runWasmKernel(backend, 'Conv2D', { x, filter }, {
    strides,
    dilations,
    pad,
    dataFormat: 'NHWC',
    dimRoundingMode: undefined,
  } as unknown as NamedAttrMap);
}

export function transpose(backend: WasmBackend, x: TensorInfo, perm: number[]): TensorInfo {
  return runWasmKernel(backend, 'Transpose', { x }, { perm });
}

export function reshape(backend: WasmBackend, x: TensorInfo, shape: number[]): TensorInfo {
  return runWasmKernel(backend, 'Reshape', { x }, { shape });
}

export function slice(backend: WasmBackend, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  return runWasmKernel(backend, 'Slice', { x }, { begin, size });
}

/**
 * Applies the negative parts of NHWC spatial paddings as a crop and returns the remaining
 * (non-negative) paddings, so that a convolution can take them as explicit padding.
 * `owned` tells the caller whether `x` is a new intermediate that it must release.
 */
export function cropNegativePadding(
  backend: WasmBackend,
  x: TensorInfo,
  padH: Pad1D,
  padW: Pad1D,
): { x: TensorInfo; padH: Pad1D; padW: Pad1D; owned: boolean } {
  const cut = (p: number) => (p < 0 ? -p : 0);
  const [n, h, w, c] = x.shape;
  const top = cut(padH.before),
    bottom = cut(padH.after),
    left = cut(padW.before),
    right = cut(padW.after);
  const keep = (p: Pad1D): Pad1D => ({ before: Math.max(0, p.before), after: Math.max(0, p.after) });
  if (top + bottom + left + right === 0) return { x, padH, padW, owned: false };
  const cropped = slice(backend, x, [0, top, left, 0], [n, h - top - bottom, w - left - right, c]);
  return { x: cropped, padH: keep(padH), padW: keep(padW), owned: true };
}

/** A float32 view of a tensor's bytes on the wasm heap; valid until the heap next grows. */
export function heapF32(backend: WasmBackend, info: TensorInfo): Float32Array {
  const view = backend.typedArrayFromHeap(info);
  if (!(view instanceof Float32Array)) throw new Error(`expected a float32 tensor, got ${info.dtype}`);
  return view;
}

export function sizeOf(info: TensorInfo): number {
  return util.sizeFromShape(info.shape);
}
