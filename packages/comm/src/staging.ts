// Shared memory the engine thread can read and write. Callers' buffers normally live in
// ordinary ArrayBuffers, which another thread cannot touch: those are copied into a pooled
// SharedArrayBuffer and back. A Float32Array that already lives in a SharedArrayBuffer (see
// `sharedFloat32Array`) is used in place, with no copy.
import type { Region } from './protocol.js';

export function isShared(a: ArrayBufferView): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;
}

/** A Float32Array in shared memory: collectives on it skip the staging copies. */
export function sharedFloat32Array(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * 4));
}

export function regionOf(a: ArrayBufferView): Region {
  return { sab: a.buffer as SharedArrayBuffer, byteOffset: a.byteOffset, byteLength: a.byteLength };
}

const MIN_CLASS = 12; // 4 KiB

/** Power-of-two size classes; a few idle buffers per class are kept for reuse. */
export class StagingPool {
  private readonly free = new Map<number, SharedArrayBuffer[]>();
  private static readonly KEEP = 4;

  acquire(byteLength: number): Region {
    let cls = MIN_CLASS;
    while (1 << cls < byteLength) cls++;
    const list = this.free.get(cls);
    const sab = list?.pop() ?? new SharedArrayBuffer(2 ** cls);
    return { sab, byteOffset: 0, byteLength };
  }

  release(r: Region): void {
    const cls = Math.log2(r.sab.byteLength);
    if (!Number.isInteger(cls)) return;
    let list = this.free.get(cls);
    if (!list) this.free.set(cls, (list = []));
    if (list.length < StagingPool.KEEP) list.push(r.sab);
  }

  clear(): void {
    this.free.clear();
  }
}
