// TFRecord framing, the container of TensorBoard event files (tensorflow/core/lib/io/record_writer.cc):
//
//   uint64  length            little-endian
//   uint32  masked_crc32c(length bytes)
//   byte    data[length]
//   uint32  masked_crc32c(data)
//
// masked_crc = ((crc >>> 15) | (crc << 17)) + 0xa282ead8, over CRC-32C (Castagnoli).
// A record is written as one buffer, so a crash leaves whole records plus at most one cut
// record at the end, which readers (TensorBoard included) treat as not yet written.

import CRC32C from 'crc-32/crc32c.js';

const MASK_DELTA = 0xa282ead8;

/** CRC-32C of `bytes`, as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array): number {
  return CRC32C.buf(bytes) >>> 0;
}

/** TFRecord's masked CRC-32C (the mask keeps CRCs of data that holds CRCs well-spread). */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/** One TFRecord: header (length + its CRC), data, data CRC. */
export function frameRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}
