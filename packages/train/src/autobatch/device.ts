// Which memory AutoBatch sizes against on the active backend (memory.ts has the rules).

import { tf, backendChoice } from '@yolo-launch/backend';
import { cpuMemory, readGpuMemory, readMemInfo, wasmMemory, type DeviceMemory } from './memory.js';

/** The wasm module's heap, where tfjs-wasm keeps every tensor. */
function wasmHeapBytes(): number {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.byteLength ?? tf.memory().numBytes;
}

/** This rank's device memory now; `localWorldSize` ranks share this node's RAM. */
export function currentDeviceMemory(
  localWorldSize: number,
  env: Record<string, string | undefined> = process.env,
): DeviceMemory {
  const tensorBytes = tf.memory().numBytes;
  const choice = backendChoice();
  if (choice?.gpu) return readGpuMemory(env, tensorBytes);
  if (tf.getBackend() === 'wasm') return wasmMemory({ heapBytes: wasmHeapBytes(), mem: readMemInfo(), localWorldSize });
  return cpuMemory({ rssBytes: process.memoryUsage.rss(), tensorBytes, mem: readMemInfo(), localWorldSize });
}
