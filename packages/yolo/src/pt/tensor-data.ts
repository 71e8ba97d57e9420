// Tensor values out of a checkpoint's storages: dtype decoding (fp16 widened to fp32), storage
// offsets and strides (views, shared storages), with a bounds check that names the tensor.
import { fromHalfBits, halfToFloat32 } from './half.js';
import { TorchTensor, type StorageDtype } from './values.js';

export const ELEMENT_SIZE: Record<StorageDtype, number> = {
  float16: 2,
  bfloat16: 2,
  float32: 4,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** Element k of a little-endian storage, as a number (int64 beyond 2^53 loses precision). */
function elementReader(dtype: StorageDtype, view: DataView): (index: number) => number {
  switch (dtype) {
    case 'float16':
      return (i) => fromHalfBits(view.getUint16(i * 2, true));
    case 'bfloat16':
      return (i) => new Float32Array(new Uint32Array([view.getUint16(i * 2, true) << 16]).buffer)[0]!;
    case 'float32':
      return (i) => view.getFloat32(i * 4, true);
    case 'float64':
      return (i) => view.getFloat64(i * 8, true);
    case 'int64':
      return (i) => Number(view.getBigInt64(i * 8, true));
    case 'int32':
      return (i) => view.getInt32(i * 4, true);
    case 'int16':
      return (i) => view.getInt16(i * 2, true);
    case 'int8':
      return (i) => view.getInt8(i);
    case 'uint8':
    case 'bool':
      return (i) => view.getUint8(i);
  }
}

/**
 * The tensor's values in row-major order of its shape, as float32 (what our model holds).
 * `storageBytes` is the record `data/<key>`. Throws with `what` (its name) when the view
 * reaches outside the storage.
 */
export function tensorValues(tensor: TorchTensor, storageBytes: Uint8Array, what: string): Float32Array {
  const { shape, stride, offset, storage } = tensor;
  const elementSize = ELEMENT_SIZE[storage.dtype];
  const available = Math.floor(storageBytes.byteLength / elementSize);
  const count = shape.reduce((a, b) => a * b, 1);
  const last = offset + shape.reduce((sum, dim, axis) => sum + (dim - 1) * stride[axis]!, 0);
  if (count > 0 && (offset < 0 || last >= available))
    throw new Error(
      `${what}: the view [${shape}] at offset ${offset} needs storage element ${last}, storage ${storage.key} holds ${available}`,
    );
  const out = new Float32Array(count);
  if (count === 0) return out;
  const view = new DataView(storageBytes.buffer, storageBytes.byteOffset, storageBytes.byteLength);
  const read = elementReader(storage.dtype, view);
  if (isContiguous(shape, stride))
    return contiguousValues(tensor, storageBytes, count) ?? fillContiguous(out, read, offset);
  const index = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < count; k++) {
    let at = offset;
    for (let axis = 0; axis < shape.length; axis++) at += index[axis]! * stride[axis]!;
    out[k] = read(at);
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      if (++index[axis]! < shape[axis]!) break;
      index[axis] = 0;
    }
  }
  return out;
}

/** Typed-array fast path for contiguous fp16 / fp32 tensors (the bulk of a checkpoint). */
function contiguousValues(tensor: TorchTensor, storageBytes: Uint8Array, count: number): Float32Array | null {
  const dtype = tensor.storage.dtype;
  if (dtype !== 'float16' && dtype !== 'float32') return null;
  const size = ELEMENT_SIZE[dtype];
  const start = tensor.offset * size;
  // Typed arrays need an aligned start: the zip keeps records 64-byte aligned, a copy otherwise.
  let bytes = storageBytes.subarray(start, start + count * size);
  if (bytes.byteOffset % size !== 0) bytes = bytes.slice();
  if (dtype === 'float32')
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return halfToFloat32(new Uint16Array(bytes.buffer, bytes.byteOffset, count));
}

function fillContiguous(out: Float32Array, read: (index: number) => number, offset: number): Float32Array {
  for (let k = 0; k < out.length; k++) out[k] = read(offset + k);
  return out;
}

/** Row-major strides of a shape. */
export function contiguousStride(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  let step = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    stride[axis] = step;
    step *= shape[axis]!;
  }
  return stride;
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  const want = contiguousStride(shape);
  return shape.every((dim, axis) => dim === 1 || stride[axis] === want[axis]);
}
