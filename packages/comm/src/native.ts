/**
 * The optional native data plane (native/*.c, built by `npm run build`): a C thread per plane
 * that owns the ring's PUSH/PULL sockets, runs the float32 all-reduce and the barrier with the
 * TypeScript Ring's exact messages and bits, and carries the other collectives' frames (see
 * README "Native data plane"). When it is missing (no compiler at build time), cannot load, or
 * is turned off with YOLO_COMM_NATIVE=0, commNative is null and the TypeScript Ring runs.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommErrorCode } from './errors.js';

export interface NativePlaneOptions {
  rank: number;
  worldSize: number;
  segmentBytes: number;
  minSegmentBytes: number;
  smallAllReduceMaxBytes: number;
  /** ZMQ_SNDHWM on the push socket, ZMQ_RCVHWM on the pull socket. */
  highWaterMark: number;
  /** 0: the OS default; else ZMQ_SNDBUF / ZMQ_RCVBUF. */
  socketBufferBytes: number;
  /** ZMQ_MAXMSGSIZE on the pull socket. */
  maxMessageBytes: number;
  /** 0: none; else a native collective running longer fails the plane (TIMEOUT). */
  timeoutMs: number;
  /** Path of the loaded shared object that exports zmq_* (zeromqLibraryPath()). */
  zmqLibrary: string;
}

/** CommErrorCode: the addon passes the engine's codes through fail(). */
export type NativeErrorCode = CommErrorCode;

/** Rejections and throws of the addon: Errors with these two extra properties. */
export interface NativeError extends Error {
  code: NativeErrorCode;
  /** -1: none. */
  peerRank: number;
}

export interface NativeStats {
  messagesSent: number;
  messagesReceived: number;
  dropped: number;
}

export interface CommNative {
  /** A new plane (sockets, not yet started); its id > 0. */
  create(options: NativePlaneOptions): number;
  /** Binds the PULL socket (before start); returns ZMQ_LAST_ENDPOINT (the OS port of tcp://...:*). */
  bind(id: number, endpoint: string): string;
  /** Connects the PUSH socket to the next rank (before start). */
  connect(id: number, endpoint: string): void;
  /**
   * Starts the thread; sends a Hello and resolves when the previous rank's Hello arrived.
   * onFrame / onFailure run on the thread that called start (unref'd: they do not keep the
   * process alive).
   */
  start(
    id: number,
    /** Header word 0, as the Ring's session (known after the rendezvous). */
    session: number,
    onFrame: (header: Buffer, payload: Buffer) => void,
    onFailure: (error: NativeError) => void,
  ): Promise<void>;
  allReduce(id: number, seq: number, data: Float32Array, mean: boolean): Promise<void>;
  /** Blocks this thread until done; never while this thread has a beginJs op still queued. */
  allReduceSync(id: number, seq: number, data: Float32Array, mean: boolean): void;
  barrier(id: number, seq: number): Promise<void>;
  /**
   * Queues a TypeScript collective #seq: when the thread reaches it in seq order, frames of
   * that seq go to onFrame in arrival order until endJs(id, seq).
   */
  beginJs(id: number, seq: number): void;
  endJs(id: number, seq: number): void;
  /** Copies a 32-byte header + payload; the thread sends them as one 2-frame message, in call order. */
  send(id: number, header: Uint8Array, payload: Uint8Array): void;
  /** Fails the plane with this error (no onFailure call). */
  fail(id: number, code: NativeErrorCode, message: string, peerRank: number): void;
  /** Ring.peerLeft: `rank` left after `after` collectives. */
  peerLeft(id: number, rank: number, after: number): void;
  /** Highest seq begun. */
  collectives(id: number): number;
  stats(id: number): NativeStats;
  /** Rejects pending ops DESTROYED, flushes sends for up to lingerMs, resolves once the thread exited. */
  close(id: number, lingerMs: number): Promise<void>;
  /** close(), blocking (process 'exit'). */
  closeSync(id: number, lingerMs: number): void;
}

/** Where the build puts the addon (packages/comm/native/build/, from dist/src/). */
export const NATIVE_PLANE_PATH = fileURLToPath(new URL('../../native/build/yolo_comm_native.node', import.meta.url));

const require = createRequire(import.meta.url);

function load(): { addon: CommNative | null; why: string } {
  if (process.env.YOLO_COMM_NATIVE === '0') return { addon: null, why: 'YOLO_COMM_NATIVE=0' };
  if (!fs.existsSync(NATIVE_PLANE_PATH))
    return { addon: null, why: `not built (${NATIVE_PLANE_PATH} missing: see npm run build's SKIPPED line)` };
  try {
    return { addon: require(NATIVE_PLANE_PATH) as CommNative, why: '' };
  } catch (e) {
    return { addon: null, why: `cannot load ${NATIVE_PLANE_PATH}: ${(e as Error).message.split('\n')[0]}` };
  }
}

const loaded = load();

/** The addon, or null: then the TypeScript Ring runs. */
export const commNative: CommNative | null = loaded.addon;
/** Why commNative is null ('' when it is loaded). */
export const commNativeWhy: string = loaded.why;

/**
 * The zeromq.js addon this process has loaded (it exports libzmq's zmq_* functions), from
 * /proc/self/maps; else the package's prebuilt for this Node ABI.
 */
export function zeromqLibraryPath(): string {
  try {
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    const hit = /\s(\/\S*\/zeromq\/build\/\S+\.node)$/m.exec(maps);
    if (hit) return hit[1]!;
  } catch {
    // not Linux: fall through to the package's own layout
  }
  const root = path.resolve(path.dirname(require.resolve('zeromq')), '..');
  const dir = path.join(root, 'build', process.platform, process.arch, 'node');
  const glibc = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((d) => d.startsWith('glibc-'))
        .sort()
    : [];
  const abi = path.join(dir, process.versions.modules, 'addon.node');
  return fs.existsSync(abi) || glibc.length === 0 ? abi : path.join(dir, glibc[glibc.length - 1]!, 'addon.node');
}
