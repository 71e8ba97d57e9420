/**
 * BN running statistics policy. With plain (non-synchronised) BatchNorm every rank updates its
 * running mean/var from its own shard, so the replicas' buffers drift apart; before validation
 * and before writing a checkpoint they must be made identical by an explicit choice:
 *  - 'broadcast' (default, what torch DDP does with broadcast_buffers=True at every forward):
 *    rank 0's values everywhere;
 *  - 'average': the mean over ranks (a better estimate of the population statistics).
 * With SyncBatchNorm the statistics are already global and identical; either policy is a no-op
 * numerically (apart from float rounding for 'average').
 */
import type { ProcessGroup } from '@yolo-launch/comm';
import { tf } from '@yolo-launch/backend';
import { broadcastVariables } from './replicas.js';

export type BufferSyncPolicy = 'broadcast' | 'average';

export async function syncBuffers(
  pg: ProcessGroup,
  buffers: readonly tf.Variable[],
  policy: BufferSyncPolicy = 'broadcast',
): Promise<void> {
  if (pg.worldSize <= 1 || buffers.length === 0) return;
  if (policy === 'broadcast') {
    await broadcastVariables(pg, buffers, 0);
    return;
  }
  // 'average' applies to float buffers; integer counters (num_batches_tracked) are broadcast.
  const floats = buffers.filter((b) => b.dtype === 'float32');
  const ints = buffers.filter((b) => b.dtype !== 'float32');
  if (ints.length > 0) await broadcastVariables(pg, ints, 0);
  const total = floats.reduce((s, b) => s + b.size, 0);
  const flat = new Float32Array(total);
  let off = 0;
  for (const b of floats) {
    flat.set(b.dataSync() as Float32Array, off);
    off += b.size;
  }
  const mean = await pg.allReduce(flat, { op: 'mean' });
  off = 0;
  for (const b of floats) {
    const t = tf.tensor(mean.slice(off, off + b.size), b.shape, 'float32');
    b.assign(t);
    t.dispose();
    off += b.size;
  }
}
