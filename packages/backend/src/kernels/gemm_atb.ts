// A^T B on our own small SIMD wasm module (wasm/gemm_atb.wat): the 1x1 convolution filter
// gradient dW[c,k] = sum_m X[m,c] * DY[m,k]. Through tfjs-wasm this GEMM can only run as an
// XNNPACK convolution whose filter is an M-sized operand, re-laid-out on every call at
// ~15 ns/element (3-8x the forward conv). Here: both operands are copied (row-padded to
// multiples of 4 and 8) into the module's own memory, and a 4x8 register-blocked loop runs.
import { GEMM_ATB_WASM_BASE64 } from './gemm_atb_wasm.js';

// Node has WebAssembly; our tsconfig's lib (ES2023, no DOM) does not declare it.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface GemmExports {
  mem: WasmMemory;
  gemm_atb(a: number, b: number, out: number, m: number, cp: number, kp: number): void;
}

let exportsCache: GemmExports | null = null;

function module(): GemmExports {
  if (exportsCache == null) {
    const bytes = Buffer.from(GEMM_ATB_WASM_BASE64, 'base64');
    const instance = new WA.Instance(new WA.Module(bytes), {});
    exportsCache = instance.exports as unknown as GemmExports;
  }
  return exportsCache;
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

/** Copies rows of `cols` floats into rows of `padded` floats (zero tail). */
function copyRows(
  dst: Float32Array,
  dstOffset: number,
  src: Float32Array,
  rows: number,
  cols: number,
  padded: number,
): void {
  if (cols === padded) {
    dst.set(src.subarray(0, rows * cols), dstOffset);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const d = dstOffset + r * padded;
    dst.set(src.subarray(r * cols, r * cols + cols), d);
    dst.fill(0, d + cols, d + padded);
  }
}

/** out[C*K] (row-major) = A^T B for A [M, C], B [M, K] (row-major). */
export function gemmATB(a: Float32Array, b: Float32Array, m: number, c: number, k: number, out: Float32Array): void {
  const g = module();
  const cp = roundUp(c, 4),
    kp = roundUp(k, 8);
  const aOff = 0;
  const bOff = roundUp(aOff + m * cp * 4, 16);
  const oOff = roundUp(bOff + m * kp * 4, 16);
  const need = oOff + cp * kp * 4;
  const have = g.mem.buffer.byteLength;
  if (need > have) g.mem.grow(Math.ceil((need - have) / 65536));
  const heap = new Float32Array(g.mem.buffer);
  copyRows(heap, aOff / 4, a, m, c, cp);
  copyRows(heap, bOff / 4, b, m, k, kp);
  g.gemm_atb(aOff, bOff, oOff, m, cp, kp);
  const res = new Float32Array(g.mem.buffer, oOff, cp * kp);
  if (kp === k) {
    out.set(res.subarray(0, c * k));
  } else {
    for (let r = 0; r < c; r++) out.set(res.subarray(r * kp, r * kp + k), r * k);
  }
}

/** A float32 view of the GEMM module's memory, grown to at least `bytes`. */
export function gemmMemory(bytes: number): Float32Array {
  const g = module();
  const have = g.mem.buffer.byteLength;
  if (bytes > have) g.mem.grow(Math.ceil((bytes - have) / 65536));
  return new Float32Array(g.mem.buffer);
}

/** Runs out[Cp x Kp] = A^T B on operands already in the module's memory (byte offsets, 16-aligned). */
export function gemmRun(
  aOffBytes: number,
  bOffBytes: number,
  outOffBytes: number,
  m: number,
  cp: number,
  kp: number,
): void {
  module().gemm_atb(aOffBytes, bOffBytes, outOffBytes, m, cp, kp);
}
