// Where an all-reduce owner's final sums leave from.
//
// The owner of a chunk (the rank that adds the last contribution) sends its final sum on to
// the next rank, and nothing this rank receives afterwards depends on that message: if it
// sent a view of the caller's buffer, the caller could overwrite the buffer before zeromq's
// I/O thread had read it. So the sum is copied into this scratch first, and the scratch is
// reused without any wait:
//
//   The next rank (r+1) finishes an all-reduce only after it received all our owner segments
//   of it. In the next all-reduce, the first segment we receive in the last reduce-scatter
//   step carries r+1's own step-0 contribution, which r+1 sends only after finishing the
//   previous collective (collectives run one at a time). So by the time we write the scratch
//   again, every byte of its previous content has reached r+1.
//
// One copy of 1/n of the data instead of the extra ring round (an empty all-gather) that
// used to fence every zero-copy all-reduce.

import { copyBytes } from './copy.js';

export class OwnerScratch {
  private buf: Buffer = Buffer.alloc(0);

  /**
   * Copies data[from, to) to byte `at` of the scratch and returns that region as a Buffer.
   * `chunkBytes`: the whole chunk the owner sends, so that the scratch is allocated (and its
   * pages faulted in) once per size, not doubled segment by segment.
   */
  copy(data: Float32Array, from: number, to: number, at: number, chunkBytes: number): Buffer {
    const bytes = (to - from) * 4;
    if (this.buf.length < at + bytes) {
      // The old buffer may still be queued in zeromq; it stays alive until it is sent.
      this.buf = Buffer.allocUnsafeSlow(Math.max(at + bytes, chunkBytes));
    }
    const region = this.buf.subarray(at, at + bytes);
    copyBytes(data.subarray(from, to), region, 0);
    return region;
  }
}
