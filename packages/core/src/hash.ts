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
