// Turns ProcessGroupOptions + the environment (the launcher's contract) into one plain,
// fully-resolved record that can be posted to the engine thread.
import type { ProcessGroupOptions, TransportChoice } from './types.js';
import { CommError } from './errors.js';
import { readWorkerEnv, WorkerEnvError, type WorkerEnv } from '@yolo-launch/core';

export interface ResolvedOptions {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  token: string;
  configDigest: string;
  timeoutMs: number | undefined;
  rendezvousTimeoutMs: number;
  socketIfname: string | undefined;
  transport: TransportChoice;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  segmentBytes: number;
  highWaterMark: number;
  /** Smallest adaptive all-reduce segment (ring.ts segmentElements), bytes. */
  minSegmentBytes: number;
  /** Up to this size an all-reduce is a gather then a local sum in rank order (ring.ts). */
  smallAllReduceMaxBytes: number;
  /** SO_SNDBUF/SO_RCVBUF of the ring sockets; 0: the OS default. */
  socketBufferBytes: number;
}

type Env = Record<string, string | undefined>;

// Chosen by the segment / high-water-mark sweep of the benchmark (README): on this 2-core
// machine 2 MiB segments cost the least CPU per byte (fewer messages, fewer buffers for the
// GC to free) while 7.5 MB gradients still pipeline over 2+ segments per chunk.
export const DEFAULT_SEGMENT_BYTES = 2 * 1024 * 1024;
export const DEFAULT_HWM = 32;
// Below 512 KiB, segments cost clearly more CPU per byte (per-message costs, README).
export const DEFAULT_MIN_SEGMENT_BYTES = 512 * 1024;
export const DEFAULT_SMALL_ALLREDUCE_MAX_BYTES = 64 * 1024;

function intFrom(name: string, value: number | undefined, env: Env, envName: string, fallback?: number): number {
  if (value !== undefined) {
    if (!Number.isInteger(value)) throw new CommError('INVALID', `${name} must be an integer, got ${value}`);
    return value;
  }
  const raw = env[envName];
  if (raw === undefined || raw === '') {
    if (fallback === undefined) throw new CommError('INVALID', `${envName} is not set and no ${name} option was given`);
    return fallback;
  }
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new CommError('INVALID', `${envName}=${JSON.stringify(raw)} is not an integer`);
  return n;
}

/** The launcher's contract through core's reader; explicit options replace their variables. */
function workerPlacement(o: ProcessGroupOptions, env: Env): WorkerEnv {
  try {
    const { rank, worldSize, masterAddr, masterPort, token } = o;
    return readWorkerEnv(env, { rank, worldSize, masterAddr, masterPort, token });
  } catch (err) {
    if (err instanceof WorkerEnvError) throw new CommError('INVALID', err.message);
    throw err;
  }
}

export function resolveOptions(o: ProcessGroupOptions = {}, env: Env = process.env): ResolvedOptions {
  // A bare script with neither RANK nor WORLD_SIZE runs as a world of one (like torch's single-process use).
  const { rank, worldSize, masterAddr, masterPort, token } = workerPlacement(o, env);
  if (masterPort === 0 && worldSize > 1)
    throw new CommError('INVALID', 'MASTER_PORT 0 only works for WORLD_SIZE=1: every rank must know the port');
  const transportRaw = o.transport ?? (env.YOLO_COMM_TRANSPORT as TransportChoice | undefined) ?? 'auto';
  if (!['auto', 'tcp', 'ipc'].includes(transportRaw))
    throw new CommError('INVALID', `YOLO_COMM_TRANSPORT must be auto, tcp or ipc, got ${transportRaw}`);
  const timeoutRaw = o.timeoutMs ?? (env.YOLO_COMM_OP_TIMEOUT_MS ? Number(env.YOLO_COMM_OP_TIMEOUT_MS) : undefined);
  const r: ResolvedOptions = {
    rank,
    worldSize,
    masterAddr,
    masterPort,
    token,
    configDigest: o.configDigest ?? '',
    timeoutMs: timeoutRaw !== undefined && timeoutRaw > 0 ? timeoutRaw : undefined,
    rendezvousTimeoutMs: intFrom('rendezvousTimeoutMs', o.rendezvousTimeoutMs, env, 'YOLO_COMM_TIMEOUT_MS', 300_000),
    socketIfname: o.socketIfname ?? (env.YOLO_SOCKET_IFNAME || undefined),
    transport: transportRaw,
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? 500,
    heartbeatTimeoutMs: intFrom(
      'heartbeatTimeoutMs',
      o.heartbeatTimeoutMs,
      env,
      'YOLO_COMM_HEARTBEAT_TIMEOUT_MS',
      4000,
    ),
    segmentBytes: intFrom('segmentBytes', o.segmentBytes, env, 'YOLO_COMM_SEGMENT_BYTES', DEFAULT_SEGMENT_BYTES),
    highWaterMark: intFrom('highWaterMark', o.highWaterMark, env, 'YOLO_COMM_HWM', DEFAULT_HWM),
    minSegmentBytes: intFrom(
      'minSegmentBytes',
      o.minSegmentBytes,
      env,
      'YOLO_COMM_MIN_SEGMENT',
      DEFAULT_MIN_SEGMENT_BYTES,
    ),
    smallAllReduceMaxBytes: intFrom(
      'smallAllReduceMaxBytes',
      o.smallAllReduceMaxBytes,
      env,
      'YOLO_COMM_SMALL_MAX',
      DEFAULT_SMALL_ALLREDUCE_MAX_BYTES,
    ),
    socketBufferBytes: intFrom('socketBufferBytes', o.socketBufferBytes, env, 'YOLO_COMM_SOCKBUF', 0),
  };
  if (r.segmentBytes < 64 || r.segmentBytes % 4 !== 0)
    throw new CommError('INVALID', `segmentBytes must be a multiple of 4 and >= 64, got ${r.segmentBytes}`);
  if (r.minSegmentBytes < 64 || r.minSegmentBytes % 4 !== 0)
    throw new CommError(
      'INVALID',
      `minSegmentBytes (YOLO_COMM_MIN_SEGMENT) must be a multiple of 4 and >= 64, got ${r.minSegmentBytes}`,
    );
  for (const [name, value] of [
    ['smallAllReduceMaxBytes (YOLO_COMM_SMALL_MAX)', r.smallAllReduceMaxBytes],
    ['socketBufferBytes (YOLO_COMM_SOCKBUF)', r.socketBufferBytes],
  ] as const)
    if (value < 0) throw new CommError('INVALID', `${name} must be >= 0, got ${value}`);
  if (r.heartbeatTimeoutMs <= r.heartbeatIntervalMs * 2)
    throw new CommError(
      'INVALID',
      `heartbeatTimeoutMs (${r.heartbeatTimeoutMs}) must exceed twice heartbeatIntervalMs (${r.heartbeatIntervalMs})`,
    );
  return r;
}
