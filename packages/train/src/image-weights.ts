// --image-weights: rank 0 draws the epoch's dataset indices in proportion to how poorly
// each image's classes score (train.py's random.choices over image weights); every rank
// samples its shard from that list.

import { fnv1aWords } from '@yolo-launch/core';
import * as data from '@yolo-launch/data';
import type { TrainContext } from './context.js';

/** random.choices(range(n), weights, k=n) with a seeded generator. */
export function weightedChoices(weights: ArrayLike<number>, k: number, rng: data.Rng): number[] {
  const n = weights.length;
  const cum = new Float64Array(n);
  let t = 0;
  for (let i = 0; i < n; i++) cum[i] = t += Number(weights[i]);
  const out: number[] = [];
  for (let j = 0; j < k; j++) {
    const x = rng.random() * t;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    out.push(lo);
  }
  return out;
}

/** FNV-1a of an index list (logged so that tests can check every rank sampled the same list). */
export function hashIndices(indices: readonly number[]): string {
  return fnv1aWords(indices);
}

/** This epoch's image-weighted indices (rank 0), from the per-class mAPs of the last validation. */
export function imageWeightedIndices(ctx: TrainContext, maps: readonly number[], epoch: number): number[] {
  const classWeights = data.imageWeightsClassWeights(ctx.classWeights, maps);
  const imageWeights = data.labelsToImageWeights(ctx.trainDataset.labels, ctx.nc, classWeights);
  return weightedChoices(imageWeights, ctx.trainDataset.imFiles.length, data.Rng.from(ctx.seed, epoch, 0x1a9e));
}
