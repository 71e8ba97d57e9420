// A 314-byte WebAssembly module with two SIMD loops (f32x4) for the ring's reduction:
//   add(dst, src, n):        f32 dst[i] += src[i]
//   addDiv(dst, src, n, d):  f32 dst[i] = (dst[i] + src[i]) / d
// on byte addresses of a shared memory the caller passes in. Plain JS typed-array loops do
// 1-2 G element/s here; these do ~4x that, which decides all-reduce bandwidth on 2 cores.
// Results are bit-identical to the JS loops (f32 add/div are correctly rounded both ways).
// The module was assembled by hand (its text form is in the comment at the end).

import { copyBytes } from './copy.js';

const WASM_BASE64 =
  'AGFzbQEAAAABDgJgA39/fwBgBH9/f30AAhIBA2VudgZtZW1vcnkCAwGAgAQDAwIAAQcQAgNhZGQAAAZhZGREaXYAAQr0AQJwAQF/IAAgAkECdGohAwJAA0AgAEEQaiADSw0BIAAgAP0AAgAgAf0AAgD95AH9CwIAIABBEGohACABQRBqIQEMAAsLAkADQCAAIANPDQEgACAAKgIAIAEqAgCSOAIAIABBBGohACABQQRqIQEMAAsLC4ABAgF/AXsgACACQQJ0aiEEIAP9EyEFAkADQCAAQRBqIARLDQEgACAA/QACACAB/QACAP3kASAF/ecB/QsCACAAQRBqIQAgAUEQaiEBDAALCwJAA0AgACAETw0BIAAgACoCACABKgIAkiADlTgCACAAQQRqIQAgAUEEaiEBDAALCws=';

// The few WebAssembly types used here (the project's TypeScript lib has no WebAssembly).
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: object | null = null;
function module(): object {
  compiled ??= new wasm.Module(Buffer.from(WASM_BASE64, 'base64'));
  return compiled;
}

export const PAGE = 65536;
/** Address space reserved after the data of every shared memory for the receive scratch. */
export const SCRATCH_RESERVE_BYTES = 16 * 1024 * 1024;

/** A shared wasm memory that holds `byteLength` bytes of data, growable by the scratch reserve. */
export function createSharedMemory(byteLength: number): WasmMemory {
  const initial = Math.ceil(byteLength / PAGE);
  return new wasm.Memory({ initial, maximum: initial + SCRATCH_RESERVE_BYTES / PAGE, shared: true });
}

interface AddExports {
  add(dst: number, src: number, n: number): void;
  addDiv(dst: number, src: number, n: number, d: number): void;
}

/** Reduction of received segments into data that lives in one shared wasm memory. */
export class SimdReducer {
  private readonly fns: AddExports;
  private scratch = -1;
  private bytes: Uint8Array;

  constructor(
    private readonly memory: WasmMemory,
    private readonly dataEnd: number,
  ) {
    this.fns = new wasm.Instance(module(), { env: { memory } }).exports as unknown as AddExports;
    this.bytes = new Uint8Array(memory.buffer);
  }

  /** Makes room for one segment of `bytes` after the data; false when the reserve is too small. */
  prepare(bytes: number): boolean {
    const start = Math.ceil(this.dataEnd / 16) * 16;
    const need = start + bytes;
    const have = this.memory.buffer.byteLength;
    if (need > have) {
      const pages = Math.ceil((need - have) / PAGE);
      try {
        this.memory.grow(pages);
      } catch {
        return false;
      }
      this.bytes = new Uint8Array(this.memory.buffer);
    }
    this.scratch = start;
    return true;
  }

  /** local (a view into this memory) op= recv; divisor 1 means a plain sum. */
  reduce(local: Float32Array, recv: Uint8Array, divisor: number): void {
    copyBytes(recv, this.bytes, this.scratch);
    if (divisor === 1) this.fns.add(local.byteOffset, this.scratch, local.length);
    else this.fns.addDiv(local.byteOffset, this.scratch, local.length, divisor);
  }
}

/*
(module
  (import "env" "memory" (memory 1 65536 shared))
  (func (export "add") (param $dst i32) (param $src i32) (param $n i32) (local $end i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
    (block (loop
      (br_if 1 (i32.gt_u (i32.add (local.get $dst) (i32.const 16)) (local.get $end)))
      (v128.store (local.get $dst) (f32x4.add (v128.load (local.get $dst)) (v128.load (local.get $src))))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (local.set $src (i32.add (local.get $src) (i32.const 16)))
      (br 0)))
    (block (loop
      (br_if 1 (i32.ge_u (local.get $dst) (local.get $end)))
      (f32.store (local.get $dst) (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src))))
      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
      (local.set $src (i32.add (local.get $src) (i32.const 4)))
      (br 0))))
  (func (export "addDiv") (param $dst i32) (param $src i32) (param $n i32) (param $d f32) (local $end i32) (local $dv v128)
    ;; the same two loops, with (f32x4.div sum (f32x4.splat $d)) and (f32.div sum $d)
  ))
*/
