/**
 * Gradient buckets, planned once at construction as torch DDP's Reducer does: parameters are
 * taken from the LAST to the first (the order backward produces them), packed into buckets of
 * about `capBytes`, the first bucket capped at `firstCapBytes` so that communication starts
 * early. A parameter larger than the cap gets a bucket of its own. Optionally the first
 * parameters (the last gradients of a backward) get a small bucket of their own, the last one,
 * so that what cannot overlap the backward is short. The plan only depends on the parameters'
 * shapes and order, so every rank builds the same plan.
 */

export interface BucketEntry {
  /** Index of the parameter in the list given to DDP (registration order). */
  readonly index: number;
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  /** Offset (in elements) inside the bucket's flat buffer. */
  readonly offset: number;
}

export interface Bucket {
  readonly entries: readonly BucketEntry[];
  /** Total elements, alignment padding included. */
  readonly size: number;
}

export interface BucketParam {
  readonly name: string;
  readonly shape: readonly number[];
}

export interface BucketOptions {
  capBytes: number;
  firstCapBytes: number;
  /**
   * Cap of the LAST bucket (the first layers, whose gradients the backward produces last):
   * the parameters 0, 1, ... go there while they fit. Its all-reduce is the one that cannot
   * overlap the backward (nothing is left to compute when it is complete), so it should be
   * small; the buckets before it are then reduced while its layers are differentiated. At most
   * `firstCapBytes`; without it the first layers share the bucket of whatever precedes them,
   * as torch's Reducer plans.
   */
  lastCapBytes?: number;
  bytesPerElement?: number;
  /**
   * Each entry starts at a multiple of this many elements (default 4: 16 bytes). V8 copies
   * into or out of a SharedArrayBuffer word by word only when source and target have the same
   * alignment modulo 8 and falls back to byte by byte otherwise (measured here: 10-15x slower
   * for a 29 MB gradient); tfjs-wasm's heap allocations are 16-byte aligned, so aligned
   * offsets keep every copy on the fast path. The padding is zeros and is reduced with the rest.
   */
  alignElements?: number;
}

/** 25 MiB and 1 MiB: torch DDP's bucket_cap_mb default and dist._DEFAULT_FIRST_BUCKET_BYTES. */
export const DEFAULT_BUCKET_CAP_MB = 25;
export const DEFAULT_FIRST_BUCKET_CAP_MB = 1;
/**
 * 64 KiB: comm's small all-reduce (one gather, latency-bound) takes buffers up to this size,
 * so the bucket nothing can overlap costs one round trip, not a ring pass (packages/ddp/README.md).
 */
export const DEFAULT_LAST_BUCKET_CAP_MB = 1 / 16;

export function planBuckets(params: readonly BucketParam[], options: BucketOptions): Bucket[] {
  const bpe = options.bytesPerElement ?? 4;
  const align = options.alignElements ?? 4;
  const up = (n: number) => Math.ceil(n / align) * align;
  if (!(options.capBytes > 0) || !(options.firstCapBytes > 0) || !((options.lastCapBytes ?? 1) > 0)) {
    throw new Error(
      `bucket caps must be positive (got cap ${options.capBytes} B, first ${options.firstCapBytes} B, last ${options.lastCapBytes} B)`,
    );
  }
  const elements = (p: BucketParam) => p.shape.reduce((a, b) => a * b, 1);
  // the last bucket: the longest run of first parameters within its cap (possibly none)
  const lastCap = Math.min(options.lastCapBytes ?? 0, options.firstCapBytes);
  let tail = 0;
  for (let size = 0; lastCap > 0 && tail < params.length; tail++) {
    size = up(size) + elements(params[tail]!);
    if (size * bpe > lastCap) break;
  }
  const buckets: Bucket[] = [];
  let entries: BucketEntry[] = [];
  let size = 0;
  const cap = () => (buckets.length === 0 ? options.firstCapBytes : options.capBytes);
  const close = () => {
    if (entries.length > 0) buckets.push({ entries, size });
    entries = [];
    size = 0;
  };
  const add = (index: number) => {
    const p = params[index]!;
    const n = elements(p);
    const offset = up(size);
    entries.push({ index, name: p.name, shape: [...p.shape], size: n, offset });
    size = offset + n;
  };
  for (let index = params.length - 1; index >= tail; index--) {
    if (entries.length > 0 && (up(size) + elements(params[index]!)) * bpe > cap()) close();
    add(index);
    if (size * bpe >= cap()) close();
  }
  close();
  for (let index = tail - 1; index >= 0; index--) add(index);
  close();
  return buckets;
}
