/**
 * DistributedSampler, as torch.utils.data.DistributedSampler: every epoch the index list is
 * shuffled with a generator seeded by seed + epoch (identical on every rank), padded by
 * repeating its head up to a multiple of the world size, and rank r takes positions
 * r, r + N, r + 2N, ... So every rank gets ceil(len / N) samples and, for any batch size, the
 * same number of batches: no rank waits in an all-reduce another rank never enters.
 *
 * `setIndices` samples from a given list instead of 0..len-1: with --image-weights rank 0
 * draws the weighted indices each epoch and broadcasts them; every rank shards the same list.
 */
import { splitmix32 } from '@yolo-launch/core';

export interface DistributedSamplerOptions {
  /** Length of the dataset (indices 0..datasetSize-1), unless `indices` is given. */
  datasetSize?: number;
  /** Sample from these dataset indices (repeats allowed), e.g. image-weight draws. */
  indices?: readonly number[];
  numReplicas: number;
  rank: number;
  shuffle?: boolean;
  seed?: number;
  /** Drop the tail instead of padding (each rank then gets floor(len / N)). */
  dropLast?: boolean;
}

export class DistributedSampler {
  readonly numReplicas: number;
  readonly rank: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  private source: readonly number[] | number;
  private epochValue = 0;

  constructor(options: DistributedSamplerOptions) {
    const { numReplicas, rank } = options;
    if (!Number.isInteger(numReplicas) || numReplicas < 1)
      throw new Error(`numReplicas must be a positive integer, got ${numReplicas}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= numReplicas) {
      throw new Error(`rank ${rank} is out of range for ${numReplicas} replicas (0..${numReplicas - 1})`);
    }
    this.numReplicas = numReplicas;
    this.rank = rank;
    this.shuffle = options.shuffle ?? true;
    this.seed = options.seed ?? 0;
    this.dropLast = options.dropLast ?? false;
    if (options.indices) this.source = checkIndices(options.indices);
    else if (options.datasetSize !== undefined) {
      if (!Number.isInteger(options.datasetSize) || options.datasetSize < 0) {
        throw new Error(`datasetSize must be a non-negative integer, got ${options.datasetSize}`);
      }
      this.source = options.datasetSize;
    } else throw new Error('DistributedSampler needs datasetSize or indices');
  }

  get epoch(): number {
    return this.epochValue;
  }

  /** Call at the start of every epoch (before iterating), with the same value on every rank. */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`epoch must be a non-negative integer, got ${epoch}`);
    this.epochValue = epoch;
  }

  /** Replace the list sampled from (same list on every rank, e.g. broadcast image weights). */
  setIndices(indices: readonly number[]): void {
    this.source = checkIndices(indices);
  }

  private get sourceLength(): number {
    return typeof this.source === 'number' ? this.source : this.source.length;
  }

  /** Samples this rank gets per epoch (the same on every rank). */
  get numSamples(): number {
    const n = this.sourceLength;
    return this.dropLast ? Math.floor(n / this.numReplicas) : Math.ceil(n / this.numReplicas);
  }

  /** Batches per epoch for a per-rank batch size (equal on every rank). */
  numBatches(batchSize: number, dropLastBatch = false): number {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    return dropLastBatch ? Math.floor(this.numSamples / batchSize) : Math.ceil(this.numSamples / batchSize);
  }

  /** This rank's dataset indices for the current epoch. */
  indices(): number[] {
    const n = this.sourceLength;
    let order: number[] = Array.from({ length: n }, (_, i) => i);
    if (this.shuffle) order = permute(order, this.seed + this.epochValue);
    const total = this.numSamples * this.numReplicas;
    if (total > n) {
      // pad by repeating from the head (several times over if the list is shorter than N)
      const pad: number[] = [];
      for (let i = 0; pad.length < total - n; i = (i + 1) % n) pad.push(order[i]!);
      order = order.concat(pad);
    } else order = order.slice(0, total);
    const mine: number[] = [];
    const src = this.source;
    for (let i = this.rank; i < total; i += this.numReplicas) {
      const pos = order[i]!;
      mine.push(typeof src === 'number' ? pos : src[pos]!);
    }
    return mine;
  }

  /** This rank's batches for the current epoch (the last one may be smaller, on every rank alike). */
  batches(batchSize: number, dropLastBatch = false): number[][] {
    const idx = this.indices();
    const count = this.numBatches(batchSize, dropLastBatch);
    const out: number[][] = [];
    for (let b = 0; b < count; b++) out.push(idx.slice(b * batchSize, (b + 1) * batchSize));
    return out;
  }

  /** For checkpoints (resume): the state that determines the next epoch's order. */
  state(): { epoch: number; seed: number } {
    return { epoch: this.epochValue, seed: this.seed };
  }

  [Symbol.iterator](): Iterator<number> {
    return this.indices()[Symbol.iterator]();
  }
}

function checkIndices(indices: readonly number[]): readonly number[] {
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0) throw new Error(`sampler indices must be non-negative integers, got ${i}`);
  }
  return [...indices];
}

/** Fisher-Yates with a seeded generator: the same permutation on every rank and platform. */
export function permute<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const rand = splitmix32(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}
