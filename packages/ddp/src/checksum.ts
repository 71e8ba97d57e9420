import { fnv1a64 } from '@yolo-launch/core';

/**
 * A 64-bit fingerprint of the raw bits of a typed array: core's FNV-1a-64 over its bytes.
 * Bit-identical arrays give identical fingerprints; -0 and +0, or two NaN payloads, differ,
 * which is what a "bit-identical replicas" check wants. Ranks compare fingerprints within one
 * run only; none is stored.
 */
export function fingerprint(values: Float32Array | Int32Array | Uint8Array): string {
  return fnv1a64(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}
