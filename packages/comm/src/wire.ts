// What travels on the sockets.
//
// Control plane (DEALER on every rank <-> ROUTER on rank 0): one msgpack frame per message.
// Data plane (ring PUSH rank r -> PULL rank r+1): two frames, a fixed 32-byte header and the
// raw payload bytes (float32 little-endian for all-reduce), never re-encoded.
import { Packr } from 'msgpackr';

export const PROTOCOL = 'yolo-comm';
export const PROTOCOL_VERSION = 2;

const packr = new Packr({ moreTypes: true, useRecords: false });
export const encodeControl = (m: ClientMessage | ServerMessage): Buffer => packr.pack(m);
export function decodeControl(buf: Buffer): unknown {
  try {
    return packr.unpack(buf);
  } catch {
    return undefined;
  }
}

/** What a rank tells rank 0 at rendezvous. */
export interface Registration {
  proto: string;
  version: number;
  token: string;
  rank: number;
  worldSize: number;
  digest: string;
  host: string;
  hostId: string;
  pid: number;
  tcp: string; // tcp://ip:port of the ring PULL
  ipc: string | null; // ipc://path of the same PULL
}

export interface PeerInfo {
  rank: number;
  host: string;
  hostId: string;
  pid: number;
  tcp: string;
  ipc: string | null;
}

export type StoreRequest =
  | { op: 'set'; key: string; value: Uint8Array }
  | { op: 'get'; key: string }
  | { op: 'add'; key: string; delta: number }
  | { op: 'wait'; keys: string[] };

export type ClientMessage =
  { t: 'register'; reg: Registration } | { t: 'ready' } | { t: 'store'; id: number; req: StoreRequest };

export type ServerMessage =
  | { t: 'refused'; reason: string }
  | { t: 'abort'; reason: string; rank?: number }
  | { t: 'peers'; session: number; peers: PeerInfo[]; liveness: { host: string; port: number; key: string } }
  | { t: 'go' }
  | { t: 'store'; id: number; value?: Uint8Array; num?: number; error?: string };

// ---- data plane header ----
export const HEADER_BYTES = 32;
export const enum Kind {
  Hello = 0, // ring connectivity check at start-up
  ReduceScatter = 1,
  AllGatherPhase = 2, // second half of all-reduce
  Broadcast = 3,
  Gather = 4, // allGather of blobs (also barrier)
  Fence = 5, // (protocol 1 only: ended a zero-copy all-reduce; protocol 2 needs no fence)
  SmallReduce = 6, // all-reduce of a small buffer by gather + local sum
  ReduceScatterF16 = 7, // all-reduce with fp16 on the wire (half.ts)
  AllGatherF16 = 8,
  ReduceScatterBf16 = 9, // all-reduce with bfloat16 on the wire
  AllGatherBf16 = 10,
}
export const KIND_NAMES: Record<number, string> = {
  1: 'allReduce',
  2: 'allReduce',
  3: 'broadcast',
  4: 'allGather/barrier',
  5: 'allReduce (fence)',
  6: 'allReduce (small)',
  7: 'allReduce (fp16 wire)',
  8: 'allReduce (fp16 wire)',
  9: 'allReduce (bf16 wire)',
  10: 'allReduce (bf16 wire)',
};

export interface Header {
  session: number;
  seq: number;
  kind: number;
  step: number;
  index: number; // segment index within the chunk / blob
  origin: number; // rank whose blob this is (gather/broadcast)
  total: number; // total bytes of the blob (gather/broadcast) or of the chunk (all-reduce)
  offset: number; // byte offset of this segment in its blob/chunk
}

export function writeHeader(h: Header): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES);
  b.writeUInt32LE(h.session >>> 0, 0);
  b.writeUInt32LE(h.seq >>> 0, 4);
  b.writeUInt32LE(h.kind, 8);
  b.writeUInt32LE(h.step, 12);
  b.writeUInt32LE(h.index, 16);
  b.writeUInt32LE(h.origin, 20);
  b.writeUInt32LE(h.total, 24);
  b.writeUInt32LE(h.offset, 28);
  return b;
}

export function readHeader(b: Buffer): Header {
  return {
    session: b.readUInt32LE(0),
    seq: b.readUInt32LE(4),
    kind: b.readUInt32LE(8),
    step: b.readUInt32LE(12),
    index: b.readUInt32LE(16),
    origin: b.readUInt32LE(20),
    total: b.readUInt32LE(24),
    offset: b.readUInt32LE(28),
  };
}
