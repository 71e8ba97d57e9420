// Which memory AutoBatch sizes against on the active backend (memory.ts has the rules).

import { tf, backendChoice } from '@yolo-launch/backend';
import { cpuMemory, readGpuMemory, readMemInfo, wasmMemory, type DeviceMemory } from './memory.js';

/** The wasm module's heap, where tfjs-wasm keeps every tensor. */
function wasmHeapBytes(): number {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.byteLength ?? tf.memory().numBytes;
}

/**
 * This rank's device memory now; `localWorldSize` ranks share this node's RAM; on a GPU,
 * `visibleGpu` (the first of CUDA_VISIBLE_DEVICES, train-env.ts) is the one measured.
 */
export function currentDeviceMemory(localWorldSize: number, visibleGpu: string): DeviceMemory {
  const tensorBytes = tf.memory().numBytes;
  const choice = backendChoice();
  if (choice?.gpu) return readGpuMemory(visibleGpu, tensorBytes);
  if (tf.getBackend() === 'wasm') return wasmMemory({ heapBytes: wasmHeapBytes(), mem: readMemInfo(), localWorldSize });
  return cpuMemory({ rssBytes: process.memoryUsage.rss(), tensorBytes, mem: readMemInfo(), localWorldSize });
}
