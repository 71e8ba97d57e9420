// An event-file reader written from the formats' specifications, independent of the writer
// (no protobufjs, no crc library): TFRecord framing (tensorflow/core/lib/io/record_reader.cc),
// CRC-32C (RFC 3720, reflected polynomial 0x82F63B78), the protobuf wire format
// (varint / 64-bit / length-delimited / 32-bit), and the Event / Summary field numbers.

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = CRC32C_TABLE[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function masked(bytes: Uint8Array): number {
  const crc = referenceCrc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

export interface RecordScan {
  records: Uint8Array[];
  /** bytes after the last whole record (a record cut by a crash); 0 for a clean file */
  tailBytes: number;
}

/** Every whole record; throws on a CRC mismatch, stops at a cut final record. */
export function readRecords(file: Uint8Array): RecordScan {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const records: Uint8Array[] = [];
  let at = 0;
  while (at < file.length) {
    if (file.length - at < 12) break;
    const header = file.subarray(at, at + 8);
    if (view.getUint32(at + 8, true) !== masked(header)) throw new Error(`length CRC mismatch at byte ${at}`);
    const length = Number(view.getBigUint64(at, true));
    if (file.length - at < 12 + length + 4) break;
    const data = file.subarray(at + 12, at + 12 + length);
    if (view.getUint32(at + 12 + length, true) !== masked(data))
      throw new Error(`data CRC mismatch in the record at byte ${at}`);
    records.push(data);
    at += 16 + length;
  }
  return { records, tailBytes: file.length - at };
}

interface Field {
  number: number;
  /** varint as bigint, fixed64/fixed32 as their raw bytes, length-delimited as bytes */
  varint?: bigint;
  bytes?: Uint8Array;
}

function readVarint(buf: Uint8Array, at: number): [bigint, number] {
  let value = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[at++];
    if (b === undefined) throw new Error('truncated varint');
    value |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [value, at];
    shift += 7n;
  }
}

function decodeFields(buf: Uint8Array): Field[] {
  const fields: Field[] = [];
  let at = 0;
  while (at < buf.length) {
    const [key, next] = readVarint(buf, at);
    at = next;
    const number = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      const [v, after] = readVarint(buf, at);
      fields.push({ number, varint: v });
      at = after;
    } else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      fields.push({ number, bytes: buf.subarray(at, at + size) });
      at += size;
    } else if (wire === 2) {
      const [len, after] = readVarint(buf, at);
      fields.push({ number, bytes: buf.subarray(after, after + Number(len)) });
      at = after + Number(len);
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  if (at !== buf.length) throw new Error('message overruns its bytes');
  return fields;
}

export interface DecodedImage {
  height: number;
  width: number;
  colorspace: number;
  encoded: Uint8Array;
}

export interface DecodedValue {
  tag: string;
  simpleValue?: number;
  image?: DecodedImage;
}

export interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: DecodedValue[];
}

const text = new TextDecoder('utf-8', { fatal: true });
const float64 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true);
const float32 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);

function decodeImage(buf: Uint8Array): DecodedImage {
  const image: DecodedImage = { height: 0, width: 0, colorspace: 0, encoded: new Uint8Array() };
  for (const f of decodeFields(buf)) {
    if (f.number === 1) image.height = Number(f.varint);
    else if (f.number === 2) image.width = Number(f.varint);
    else if (f.number === 3) image.colorspace = Number(f.varint);
    else if (f.number === 4) image.encoded = f.bytes!;
  }
  return image;
}

function decodeValue(buf: Uint8Array): DecodedValue {
  const value: DecodedValue = { tag: '' };
  for (const f of decodeFields(buf)) {
    if (f.number === 1) value.tag = text.decode(f.bytes);
    else if (f.number === 2) value.simpleValue = float32(f.bytes!);
    else if (f.number === 4) value.image = decodeImage(f.bytes!);
  }
  return value;
}

/** tensorflow.Event: 1 wall_time double, 2 step int64, 3 file_version, 5 summary (1 repeated value). */
export function decodeEvent(buf: Uint8Array): DecodedEvent {
  const event: DecodedEvent = { wallTime: 0, step: 0, values: [] };
  for (const f of decodeFields(buf)) {
    if (f.number === 1) event.wallTime = float64(f.bytes!);
    else if (f.number === 2) event.step = Number(BigInt.asIntN(64, f.varint!));
    else if (f.number === 3) event.fileVersion = text.decode(f.bytes);
    else if (f.number === 5)
      for (const v of decodeFields(f.bytes!)) if (v.number === 1) event.values.push(decodeValue(v.bytes!));
  }
  return event;
}
