// The contract other packages (ddp, train, launcher tests) program against.
// The comm issue (#2) implements it; keep these names, extend freely.

export type ReduceOp = 'sum' | 'mean';

export interface AllReduceOptions {
  op?: ReduceOp;
}

export type BroadcastBuffer = Float32Array | Int32Array | Uint8Array;

export interface ProcessGroupOptions {
  rank?: number; // else RANK
  worldSize?: number; // else WORLD_SIZE
  masterAddr?: string; // else MASTER_ADDR
  masterPort?: number; // else MASTER_PORT
  token?: string; // else YOLO_LAUNCH_TOKEN
  /** Digest of the caller's config; ranks whose digests differ are refused at rendezvous. */
  configDigest?: string;
  /** Hard per-call timeout in ms; off (undefined) by default: liveness comes from heartbeats. */
  timeoutMs?: number;
  /** How long to wait for every rank to join, in ms. */
  rendezvousTimeoutMs?: number;
}

export interface ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  allReduce(buf: Float32Array, options?: AllReduceOptions): Promise<Float32Array>;
  /** Blocking form for code that cannot await (a tfjs gradient function). */
  allReduceSync(buf: Float32Array, options?: AllReduceOptions): Float32Array;
  broadcast<T extends BroadcastBuffer>(buf: T, root: number): Promise<T>;
  /** Concatenation of every rank's buffer, in rank order. All ranks pass the same length. */
  allGather(buf: Float32Array): Promise<Float32Array>;
  barrier(): Promise<void>;
  broadcastObject<T>(value: T, root: number): Promise<T>;
  allGatherObject<T>(value: T): Promise<T[]>;
  destroy(): Promise<void>;
}
