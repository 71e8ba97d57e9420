// Helpers of native-plane.test.ts: worlds of native planes in one process, the TypeScript Ring
// as the reference (in-memory links), random float32 data with varied exponents.
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import {
  commNative,
  zeromqLibraryPath,
  type CommNative,
  type NativeError,
  type NativePlaneOptions,
} from '../src/native.js';
import { Ring, type RingInput, type RingOutput, type RingSizes } from '../src/ring.js';

export const SIZES: RingSizes = {
  segmentBytes: 256 * 1024,
  minSegmentBytes: 64 * 1024,
  smallAllReduceMaxBytes: 64 * 1024,
};
export const SESSION = 0x5eed;

/** The addon; only called by tests that are skipped when it is not built. */
export function addon(): CommNative {
  if (!commNative) throw new Error('the native plane is not built');
  return commNative;
}

export function planeOptions(
  rank: number,
  worldSize: number,
  extra: Partial<NativePlaneOptions> = {},
): NativePlaneOptions {
  return {
    rank,
    worldSize,
    ...SIZES,
    highWaterMark: 32,
    socketBufferBytes: 0,
    maxMessageBytes: 256 * 1024 * 1024,
    timeoutMs: 0,
    zmqLibrary: zeromqLibraryPath(),
    ...extra,
  };
}

export type Transport = 'ipc' | 'tcp';

export const bindAddress = (transport: Transport): string =>
  transport === 'tcp'
    ? 'tcp://127.0.0.1:*'
    : `ipc://${path.join(os.tmpdir(), `yolo-native-test-${process.pid}-${crypto.randomBytes(4).toString('hex')}.sock`)}`;

export interface NativeWorld {
  ids: number[];
  /** Every onFailure call, per rank. */
  failures: NativeError[][];
  /** Every onFrame call, per rank: [header, payload]. */
  frames: [Buffer, Buffer][][];
  close(): Promise<void>;
}

/** `worldSize` planes joined in a ring and started (the Hello handshake done). */
export async function nativeWorld(
  worldSize: number,
  transport: Transport,
  extra: Partial<NativePlaneOptions> = {},
): Promise<NativeWorld> {
  const N = addon();
  const ids = Array.from({ length: worldSize }, (_, r) => N.create(planeOptions(r, worldSize, extra)));
  const endpoints = ids.map((id) => N.bind(id, bindAddress(transport)));
  ids.forEach((id, r) => N.connect(id, endpoints[(r + 1) % worldSize]!));
  const failures: NativeError[][] = ids.map(() => []);
  const frames: [Buffer, Buffer][][] = ids.map(() => []);
  await Promise.all(
    ids.map((id, r) =>
      N.start(
        id,
        SESSION,
        (h, p) => frames[r]!.push([h, p]),
        (e) => failures[r]!.push(e),
      ),
    ),
  );
  return { ids, failures, frames, close: () => Promise.all(ids.map((id) => N.close(id, 0))).then(() => undefined) };
}

/** One direction of an in-memory ring: delivers at once, keeps Buffers by reference. */
export class Link implements RingInput, RingOutput {
  private readonly queued: Buffer[][] = [];
  private readonly waiting: ((frames: Buffer[]) => void)[] = [];

  send(frames: Buffer[]): Promise<void> {
    this.queued.push(frames);
    this.deliver();
    return Promise.resolve();
  }

  receive(): Promise<Buffer[]> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.deliver();
    });
  }

  private deliver(): void {
    while (this.queued.length > 0 && this.waiting.length > 0) this.waiting.shift()!(this.queued.shift()!);
  }
}

/** TypeScript Rings joined by in-memory links: the reference for bits and error texts. */
export function tsRings(worldSize: number, sizes: RingSizes = SIZES): Ring[] {
  const links = Array.from({ length: worldSize }, () => new Link());
  return links.map((out, r) => new Ring(r, worldSize, SESSION, sizes, links[(r - 1 + worldSize) % worldSize]!, out));
}

/** Deterministic float32 values with exponents from 2^-20 to 2^20 and both signs. */
export function randomData(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  for (let i = 0; i < length; i++) out[i] = (next() - 0.5) * 2 ** Math.floor(next() * 41 - 20);
  return out;
}

/** Bitwise equality of two float32 arrays (NaN payloads and -0 included). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  return (
    a.length === b.length &&
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

/** Resolves with the error a promise rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<NativeError> {
  try {
    await p;
  } catch (e) {
    return e as NativeError;
  }
  throw new Error('expected a rejection');
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `ok()` (polling), at most `ms`. */
export async function until(ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(5);
  }
}
