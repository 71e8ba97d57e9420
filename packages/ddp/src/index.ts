export { DistributedDataParallel, type DistributedDataParallelOptions, type ReduceTimings } from './ddp.js';
export { GRADIENT_REDUCE_OP, ddpLossScale } from './convention.js';
export {
  planBuckets,
  DEFAULT_BUCKET_CAP_MB,
  DEFAULT_FIRST_BUCKET_CAP_MB,
  DEFAULT_LAST_BUCKET_CAP_MB,
  type Bucket,
  type BucketEntry,
  type BucketOptions,
  type BucketParam,
} from './buckets.js';
export { DistributedSampler, permute, type DistributedSamplerOptions } from './sampler.js';
export { splitmix32 } from '@yolo-launch/core';
export { rankZeroFirst, type RankZeroFirstOptions } from './rank-zero-first.js';
export { syncBatchNormMoments, combineMoments, type Moments } from './sync-batch-norm.js';
export { localMoments, type MomentsFn } from '@yolo-launch/backend';
export { syncBuffers, type BufferSyncPolicy } from './buffers.js';
export { broadcastVariables, verifyReplicas, ReplicaMismatchError } from './replicas.js';
export { fingerprint } from './checksum.js';
