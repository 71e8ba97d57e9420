// PROVISIONAL (lead's integration branch): replaced by the helper's loader at merge.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface NativePlaneOptions {
  rank: number;
  worldSize: number;
  segmentBytes: number;
  minSegmentBytes: number;
  smallAllReduceMaxBytes: number;
  highWaterMark: number;
  socketBufferBytes: number;
  maxMessageBytes: number;
  timeoutMs: number;
  zmqLibrary: string;
}
import type { CommErrorCode } from './errors.js';
export type NativeErrorCode = CommErrorCode;
export interface NativeError extends Error {
  code: NativeErrorCode;
  peerRank: number;
}
export interface CommNative {
  create(options: NativePlaneOptions): number;
  bind(id: number, endpoint: string): string;
  connect(id: number, endpoint: string): void;
  start(
    id: number,
    session: number,
    onFrame: (header: Buffer, payload: Buffer) => void,
    onFailure: (error: NativeError) => void,
  ): Promise<void>;
  allReduce(id: number, seq: number, data: Float32Array, mean: boolean): Promise<void>;
  allReduceSync(id: number, seq: number, data: Float32Array, mean: boolean): void;
  barrier(id: number, seq: number): Promise<void>;
  beginJs(id: number, seq: number): void;
  endJs(id: number, seq: number): void;
  send(id: number, header: Uint8Array, payload: Uint8Array): void;
  fail(id: number, code: NativeErrorCode, message: string, peerRank: number): void;
  peerLeft(id: number, rank: number, after: number): void;
  collectives(id: number): number;
  stats(id: number): { messagesSent: number; messagesReceived: number; dropped: number };
  close(id: number, lingerMs: number): Promise<void>;
  closeSync(id: number, lingerMs: number): void;
}
const path = fileURLToPath(new URL('../../native/build/yolo_comm_native.node', import.meta.url));
export const commNative: CommNative | null =
  process.env.YOLO_COMM_NATIVE !== '0' && fs.existsSync(path)
    ? (createRequire(import.meta.url)(path) as CommNative)
    : null;
export const commNativeWhy = commNative ? '' : 'not built';
export function zeromqLibraryPath(): string {
  const maps = fs.readFileSync('/proc/self/maps', 'utf8');
  const m = /(\/\S*zeromq\S*\.node)$/m.exec(maps);
  return m ? m[1]! : 'libzmq.so.5';
}
