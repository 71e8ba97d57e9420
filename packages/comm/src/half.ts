// 16-bit wire formats for compressed all-reduce (PyTorch DDP's fp16_compress_hook /
// bf16_compress_hook, Horovod's Compression.fp16): float32 <-> IEEE half or bfloat16, both
// rounded to nearest, ties to even (what torch's .to(float16 / bfloat16) does), with
// infinities, NaN, signed zeros and (fp16) subnormals preserved.

export type WireCompression = 'fp16' | 'bf16';
export const WIRE_COMPRESSIONS: readonly WireCompression[] = ['fp16', 'bf16'];

/** float32 bit pattern -> IEEE half bit pattern. */
export function f32BitsToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf, NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    mant |= 0x800000;
    const shift = 14 - e; // 14..24: a subnormal half
    let h = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // a carry into the exponent is right (up to inf)
  return sign | h;
}

/** float32 bit pattern -> bfloat16 bit pattern. */
export function f32BitsToBf16(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) & 0x8000) | 0x7fc0; // NaN stays NaN
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

let f16Table: Float32Array | null = null;
/** All 65536 half values as float32 (256 KiB, built on first use). */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return (f16Table = t);
}

/** Encodes `src` into `dst` (same length). */
export function encode16(kind: WireCompression, src: Float32Array, dst: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const n = src.length;
  if (kind === 'bf16') for (let i = 0; i < n; i++) dst[i] = f32BitsToBf16(bits[i]!);
  else for (let i = 0; i < n; i++) dst[i] = f32BitsToF16(bits[i]!);
}

/** Decodes `src` into `dst` (same length). */
export function decode16(kind: WireCompression, src: Uint16Array, dst: Float32Array): void {
  const n = src.length;
  if (kind === 'bf16') {
    const bits = new Uint32Array(dst.buffer, dst.byteOffset, n);
    for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
    return;
  }
  const t = halfTable();
  for (let i = 0; i < n; i++) dst[i] = t[src[i]!]!;
}

/** Adds the decoded `src` to `dst` in float32. */
export function addDecoded16(kind: WireCompression, src: Uint16Array, dst: Float32Array): void {
  const n = src.length;
  if (kind === 'bf16') {
    const word = new Uint32Array(1);
    const value = new Float32Array(word.buffer);
    for (let i = 0; i < n; i++) {
      word[0] = src[i]! << 16;
      dst[i] = dst[i]! + value[0]!;
    }
    return;
  }
  const t = halfTable();
  for (let i = 0; i < n; i++) dst[i] = dst[i]! + t[src[i]!]!;
}
