// The contract other packages (ddp, train, launcher tests) program against.
// The comm issue (#2) implements it; keep these names, extend freely.

import type { WireCompression } from './half.js';

export type ReduceOp = 'sum' | 'mean';
export type { WireCompression };

export interface AllReduceOptions {
  op?: ReduceOp;
  /**
   * 16-bit values on the wire (half the bytes; PyTorch DDP's fp16/bf16 compress hooks): sums
   * are still added in float32 and the result is identical on every rank, but rounded to
   * fp16 / bfloat16. With `mean` each rank's input is divided by the world size first.
   */
  compression?: WireCompression;
}

export type BroadcastBuffer = Float32Array | Int32Array | Uint8Array;

/** How ranks on the same host reach each other: `auto` picks ipc:// when both ends share a host and filesystem. */
export type TransportChoice = 'auto' | 'tcp' | 'ipc';

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
  /** How long to wait for every rank to join, in ms. Else YOLO_COMM_TIMEOUT_MS, else 300 000. */
  rendezvousTimeoutMs?: number;
  /** Network interface to bind and advertise. Else YOLO_SOCKET_IFNAME, else the route to MASTER_ADDR. */
  socketIfname?: string;
  /** Else YOLO_COMM_TRANSPORT, else 'auto'. */
  transport?: TransportChoice;
  /** Heartbeat period (engine thread), ms. Default 500. */
  heartbeatIntervalMs?: number;
  /** A peer silent for this long is declared dead, ms. Else YOLO_COMM_HEARTBEAT_TIMEOUT_MS, default 4000. */
  heartbeatTimeoutMs?: number;
  /** Ring segment size in bytes (pipelining unit). Else YOLO_COMM_SEGMENT_BYTES, default 2 MiB. */
  segmentBytes?: number;
  /** ZeroMQ send/receive high-water mark of the ring sockets, in messages. Else YOLO_COMM_HWM, default 32. */
  highWaterMark?: number;
  /** Smallest adaptive all-reduce segment in bytes. Else YOLO_COMM_MIN_SEGMENT, default 512 KiB. */
  minSegmentBytes?: number;
  /** All-reduces up to this many bytes gather and sum locally. Else YOLO_COMM_SMALL_MAX, default 64 KiB. */
  smallAllReduceMaxBytes?: number;
  /** SO_SNDBUF/SO_RCVBUF of the ring sockets in bytes; 0 keeps the OS default. Else YOLO_COMM_SOCKBUF. */
  socketBufferBytes?: number;
  /** Where the one start-up line and warnings go; `false` silences them. Default: stderr. */
  log?: ((line: string) => void) | false;
}

/** A small key-value store served by rank 0 (like torch's TCPStore). */
export interface Store {
  set(key: string, value: Uint8Array | string): Promise<void>;
  /** Waits until the key exists, then returns its value. */
  get(key: string): Promise<Uint8Array>;
  /** Atomically adds `delta` to an integer key (missing = 0) and returns the new value. */
  add(key: string, delta: number): Promise<number>;
  /** Resolves once every key exists. */
  wait(keys: string[], timeoutMs?: number): Promise<void>;
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
