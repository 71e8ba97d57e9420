// Messages between the caller's thread (ProcessGroup) and the engine thread.
import type { SerializedError } from './errors.js';
import type { WireCompression } from './half.js';
import type { WasmMemory } from './simd.js';
import type { StoreRequest } from './wire.js';

/**
 * A byte range of shared memory both threads can see. Every shared buffer has an id; the
 * buffer itself (and its wasm memory) crosses to the engine only the first time, after that
 * the id is enough (deserialising a SharedArrayBuffer or WebAssembly.Memory per call made
 * the engine's GC run constantly).
 */
export interface Region {
  id: number;
  byteOffset: number;
  byteLength: number;
  sab?: SharedArrayBuffer;
  /** When `sab` is the buffer of a shared wasm memory: the memory and its data size. */
  memory?: WasmMemory;
  memoryDataBytes?: number;
}

/**
 * `seq`: the collective's number, 1, 2, ... in the caller's call order, across both data
 * planes (see native.ts); it travels in every message header.
 */
export type CommandBody =
  | { op: 'allReduce'; seq: number; region: Region; mean: boolean; compression?: WireCompression }
  | { op: 'broadcast'; seq: number; region: Region; root: number }
  | { op: 'broadcastBytes'; seq: number; root: number; bytes: Uint8Array | null }
  | { op: 'allGather'; seq: number; input: Region; output: Region }
  | { op: 'allGatherBytes'; seq: number; bytes: Uint8Array }
  | { op: 'barrier'; seq: number }
  | { op: 'store'; req: StoreRequest }
  | { op: 'forget'; buffer: number } // the caller's buffer with this region id was garbage-collected
  | { op: 'destroy' }
  | { op: 'close-now' }; // the caller's process is exiting without destroy(): close everything at once

/**
 * A completion word (SYNC_* layout below) the engine flips instead of posting a reply. Like a
 * Region, its SharedArrayBuffer crosses to the engine only the first time: deserialising a
 * SharedArrayBuffer on every call cost the engine more than the rest of a small collective.
 */
export interface SyncSlot {
  id: number;
  sab?: SharedArrayBuffer;
}

export type Command = CommandBody & {
  id: number;
  /** Set for the blocking form and the async collectives: the engine reports completion here. */
  sync?: SyncSlot;
};

export type CommandResult = Uint8Array | Uint8Array[] | { value?: Uint8Array; num?: number } | undefined;

export interface StartInfo {
  rank: number;
  worldSize: number;
  address: string;
  ifname: string;
  /** How this rank sends to the next one: 'tcp', 'ipc', or 'none' (world of one). */
  transport: 'tcp' | 'ipc' | 'none';
  /**
   * The native data plane's id when the ring runs in the native addon (the caller's thread
   * then runs float32 all-reduce and barrier on it directly); null: the TS ring does everything.
   */
  nativePlane: number | null;
}

export type EngineEvent =
  | { t: 'ready'; info: StartInfo }
  | { t: 'init-failed'; error: SerializedError }
  | { t: 'done'; id: number; result?: CommandResult; error?: SerializedError }
  | { t: 'failed'; error: SerializedError }
  | { t: 'log'; line: string };

// Layout of the sync channel: Int32 [0]=state (0 pending, 1 done), [1]=status (0 ok, 1 error),
// [2]=length of the JSON error that follows at byte 16.
export const SYNC_BYTES = 16 + 8192;
export const SYNC_STATE = 0;
export const SYNC_STATUS = 1;
export const SYNC_LEN = 2;
export const SYNC_MSG_OFFSET = 16;
