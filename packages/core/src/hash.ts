/** 32-bit FNV-1a (offset basis 0x811c9dc5, prime 0x01000193). */
export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

/**
 * FNV-1a over 32-bit words, each folded in as two 16-bit halves, as an 8-digit hex string.
 * For logs and cross-rank comparisons (image-weight indices), not for anything a result
 * depends on.
 */
export function fnv1aWords(words: Iterable<number>): string {
  let h = FNV_OFFSET;
  for (const v of words) {
    h ^= v & 0xffff;
    h = Math.imul(h, FNV_PRIME);
    h ^= v >>> 16;
    h = Math.imul(h, FNV_PRIME);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** 64-bit FNV-1a offset basis (0xcbf29ce484222325) as its high and low 32-bit halves. */
const FNV64_OFFSET_HI = 0xcbf29ce4;
const FNV64_OFFSET_LO = 0x84222325;
/** The low bits of the 64-bit FNV prime 0x100000001b3 = 2^40 + 0x1b3. */
const FNV64_PRIME_LOW = 0x1b3;

/**
 * 64-bit FNV-1a over bytes, as a 16-digit hex string (equals the published FNV-1a-64 test
 * vectors). Computed on two 32-bit halves: multiplying by 2^40 + 0x1b3 modulo 2^64 is the low
 * half times 0x1b3 (exact in a double: under 2^41), its carry, and the low half shifted into the
 * high half by 8 bits.
 */
export function fnv1a64(bytes: Uint8Array): string {
  let hi = FNV64_OFFSET_HI;
  let lo = FNV64_OFFSET_LO;
  for (let i = 0; i < bytes.length; i++) {
    lo = (lo ^ bytes[i]!) >>> 0;
    const low = lo * FNV64_PRIME_LOW;
    hi = (Math.imul(hi, FNV64_PRIME_LOW) + Math.floor(low / 0x1_0000_0000) + (lo << 8)) >>> 0;
    lo = low >>> 0;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}
