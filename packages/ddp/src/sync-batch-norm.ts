/**
 * SyncBatchNorm as a pluggable moments function. The yolo package's BatchNorm asks a
 * `MomentsFn` for the batch mean and (biased) variance per channel; plain BN computes them
 * from the local batch, SyncBN from the union of every rank's batch:
 *
 * Forward (one allReduceSync): each rank puts (count, mean, variance) of its shard into its
 * own slot of a [worldSize x (2 + 2C)] buffer, zeros elsewhere; a sum all-reduce therefore
 * acts as an exact all-gather (x + 0 = x). The slots are combined in float64 with the parallel
 * (Chan et al.) formulas: M = sum n_r, mean = sum n_r m_r / M,
 * var = sum n_r (v_r + (m_r - mean)^2) / M. Combining centred per-rank moments avoids the
 * cancellation of E[x^2] - E[x]^2 in float32 that a sum / sum-of-squares reduction has, and at
 * world size 1 it reproduces the local moments bit for bit.
 *
 * Backward (one allReduceSync): the statistics are shared by all ranks, so the loss gradient
 * with respect to them is the SUM over ranks of each rank's local gm = dL/dmean and
 * gv = dL/dvar (the losses of all ranks depend on them). With the global sums,
 * dL/dx_i = gm / M + gv * 2 (x_i - mean) / M, as torch's SyncBatchNorm backward.
 * Under the DDP mean convention (convention.ts) this gives exactly the gradient of the
 * single-process network on the global batch.
 *
 * Every rank must call the moments function the same number of times in the same order (the
 * same model in training mode): it is a collective.
 */
import type { ProcessGroup } from '@yolo-launch/comm';
import { tf, type BatchMoments, type MomentsFn } from '@yolo-launch/backend';

/** The batch statistics SyncBatchNorm returns (the backend's BatchMoments). */
export type Moments = BatchMoments;

// Counts travel as two float32 parts (hi * 2^12 + lo) so that counts up to 2^36 stay exact.
const COUNT_SPLIT = 4096;

/** SyncBatchNorm moments over all ranks of `pg`, through comm's synchronous all-reduce. */
export function syncBatchNormMoments(pg: ProcessGroup): MomentsFn {
  const world = pg.worldSize;
  const rank = pg.rank;
  return (x: tf.Tensor4D): Moments => {
    const [n, h, w, c] = x.shape;
    const localCount = n * h * w;
    let globalCount = 0;
    const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const xIn = args[0] as tf.Tensor;
      const save = args[1] as tf.GradSaveFunc;
      save([xIn]);
      const slot = 2 + 2 * c;
      const buf = new Float32Array(world * slot);
      const base = rank * slot;
      buf[base] = Math.floor(localCount / COUNT_SPLIT);
      buf[base + 1] = localCount % COUNT_SPLIT;
      if (localCount > 0) {
        const stats = tf.tidy(() => {
          const { mean, variance } = tf.moments(xIn, [0, 1, 2]);
          return tf.concat([mean, variance]);
        });
        buf.set(stats.dataSync() as Float32Array, base + 2);
        stats.dispose();
      }
      const all = world > 1 ? pg.allReduceSync(buf, { op: 'sum' }) : buf;
      const combined = combineMoments(all, world, c);
      globalCount = combined.count;
      if (globalCount === 0) throw new Error('SyncBatchNorm: every rank passed an empty batch');
      const meanHost = combined.meanVar.subarray(0, c);
      return {
        value: tf.tensor1d(combined.meanVar) as tf.Tensor,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const g = Float32Array.from(dy.dataSync() as Float32Array);
          const gsum = world > 1 ? pg.allReduceSync(g, { op: 'sum' }) : g;
          return tf.tidy(() => {
            const xs = saved[0]!;
            const gm = tf.tensor1d(gsum.slice(0, c));
            const gv = tf.tensor1d(gsum.slice(c, 2 * c));
            const mean = tf.tensor1d(meanHost);
            const m = globalCount;
            return tf.add(tf.div(gm, m), tf.mul(tf.sub(xs, mean), tf.mul(gv, 2 / m)));
          });
        },
      };
    });
    const meanVar = op(x) as tf.Tensor1D;
    const mean = tf.slice(meanVar, [0], [c]) as tf.Tensor1D;
    const variance = tf.slice(meanVar, [c], [c]) as tf.Tensor1D;
    meanVar.dispose();
    return { mean, variance, count: globalCount };
  };
}

/** Combine per-rank (count, mean, var) slots in float64 (parallel-variance formulas). */
export function combineMoments(all: Float32Array, world: number, c: number): { count: number; meanVar: Float32Array } {
  const slot = 2 + 2 * c;
  let count = 0;
  const counts: number[] = [];
  for (let r = 0; r < world; r++) {
    const nr = all[r * slot]! * COUNT_SPLIT + all[r * slot + 1]!;
    counts.push(nr);
    count += nr;
  }
  const meanVar = new Float32Array(2 * c);
  if (count === 0) return { count, meanVar };
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let r = 0; r < world; r++) if (counts[r]! > 0) s += counts[r]! * all[r * slot + 2 + ch]!;
    const mean = s / count;
    let q = 0;
    for (let r = 0; r < world; r++) {
      const nr = counts[r]!;
      if (nr === 0) continue;
      const d = all[r * slot + 2 + ch]! - mean;
      q += nr * (all[r * slot + 2 + c + ch]! + d * d);
    }
    meanVar[ch] = mean;
    meanVar[c + ch] = q / count;
  }
  return { count, meanVar };
}
