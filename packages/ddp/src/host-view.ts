/**
 * Reading a float32 tensor's values into a host buffer with as few copies as possible.
 * On the wasm backend `dataSync()` copies the tensor out of the wasm heap into a fresh array
 * (which we would then copy again into the bucket); a view of the heap lets us copy once. The
 * view is used immediately and never kept: the heap may move when wasm allocates.
 */
import { tf } from '@yolo-launch/backend';

interface WasmInternals {
  dataIdMap?: { get(dataId: object): { memoryOffset?: number } | undefined };
  wasm?: { HEAPU8?: Uint8Array };
}

export function copyTensorInto(t: tf.Tensor, target: Float32Array, offset: number): void {
  if (tf.getBackend() === 'wasm') {
    const b = tf.backend() as unknown as WasmInternals;
    const info = b.dataIdMap?.get(t.dataId);
    const heap = b.wasm?.HEAPU8;
    if (info?.memoryOffset !== undefined && heap !== undefined && t.dtype === 'float32') {
      target.set(new Float32Array(heap.buffer, heap.byteOffset + info.memoryOffset, t.size), offset);
      return;
    }
  }
  target.set(t.dataSync() as Float32Array, offset);
}
