// Shared memory the engine thread can read and write. Callers' buffers normally live in
// ordinary ArrayBuffers, which another thread cannot touch: those are copied into a pooled
// shared region and back. A Float32Array made by `sharedFloat32Array` is used in place, with
// no copy. Both kinds live in a shared WasmMemory, so the engine can reduce into
// them with SIMD (simd.ts); a caller's own SharedArrayBuffer works too, with plain JS adds.
import type { Region } from './protocol.js';
import { createSharedMemory, type WasmMemory } from './simd.js';

interface Backing {
  id: number;
  memory?: WasmMemory;
  dataBytes?: number;
}

const backings = new WeakMap<SharedArrayBuffer, Backing>();
let nextId = 1;

function backingOf(sab: SharedArrayBuffer): Backing {
  let b = backings.get(sab);
  if (!b) backings.set(sab, (b = { id: nextId++ }));
  return b;
}

function sharedBytes(byteLength: number): SharedArrayBuffer {
  const memory = createSharedMemory(byteLength);
  const sab = memory.buffer as unknown as SharedArrayBuffer;
  backings.set(sab, { id: nextId++, memory, dataBytes: sab.byteLength });
  return sab;
}

export function isShared(a: ArrayBufferView): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;
}

/**
 * A Float32Array in shared memory: collectives on it skip the staging copies and reduce with
 * SIMD. Use it for buffers that are all-reduced often (gradient buckets).
 */
export function sharedFloat32Array(length: number): Float32Array {
  return new Float32Array(sharedBytes(length * 4), 0, length);
}

/** The region of a view on a SharedArrayBuffer, with everything the engine may need (see wire()). */
export function regionOf(a: ArrayBufferView): Region & { sab: SharedArrayBuffer } {
  const sab = a.buffer as SharedArrayBuffer;
  const b = backingOf(sab);
  return {
    id: b.id,
    sab,
    byteOffset: a.byteOffset,
    byteLength: a.byteLength,
    ...(b.memory ? { memory: b.memory, memoryDataBytes: b.dataBytes } : {}),
  };
}

const MIN_CLASS = 16; // 64 KiB, one wasm page

/** Power-of-two size classes; a few idle buffers per class are kept for reuse. */
export class StagingPool {
  private readonly free = new Map<number, SharedArrayBuffer[]>();
  private static readonly KEEP = 4;

  acquire(byteLength: number): Region & { sab: SharedArrayBuffer } {
    let cls = MIN_CLASS;
    while (2 ** cls < byteLength) cls++;
    const sab = this.free.get(cls)?.pop() ?? sharedBytes(2 ** cls);
    return { ...regionOf(new Uint8Array(sab)), byteLength };
  }

  release(r: Region & { sab: SharedArrayBuffer }): void {
    const cls = Math.log2(r.sab.byteLength);
    if (!Number.isInteger(cls) || !backings.get(r.sab)?.memory) return;
    let list = this.free.get(cls);
    if (!list) this.free.set(cls, (list = []));
    if (list.length < StagingPool.KEEP) list.push(r.sab);
  }

  clear(): void {
    this.free.clear();
  }
}
