/**
 * A 64-bit fingerprint of the raw bits of a typed array (two independent 32-bit multiplicative
 * hashes over its 32-bit words). Bit-identical arrays give identical fingerprints; -0 and +0,
 * or two NaN payloads, differ, which is what a "bit-identical replicas" check wants.
 */
export function fingerprint(values: Float32Array | Int32Array | Uint8Array): string {
  const words =
    values.byteLength % 4 === 0
      ? new Uint32Array(values.buffer, values.byteOffset, values.byteLength / 4)
      : Uint32Array.from(values);
  let h1 = 0x811c9dc5 ^ words.length;
  let h2 = 0x9747b28c ^ Math.imul(words.length, 0x27d4eb2d);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    h1 = Math.imul(h1 ^ w, 0x01000193);
    h2 = Math.imul((h2 << 5) | (h2 >>> 27), 0x85ebca6b) ^ w;
  }
  h1 = Math.imul(h1 ^ (h1 >>> 15), 0x2c1b3c6d) >>> 0;
  h2 = Math.imul(h2 ^ (h2 >>> 13), 0xc2b2ae35) >>> 0;
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}
