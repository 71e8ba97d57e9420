// The zip container of PyTorch checkpoints (torch.save since 1.6, PyTorchStreamWriter).
//
// torch 1.13 writes every record uncompressed ("stored"), its data starting at a multiple of
// 64 bytes: the local header carries an extra field "FB" padded with 'Z' to get there, the
// CRC-32 and sizes follow in a data descriptor, and a zip64 end record is always present.
// Readers (torch's miniz, Python's zipfile, ours) go by the central directory, so we write
// the simpler equivalent: sizes and CRC-32 in the local header, the same 64-byte alignment,
// a classic end record (zip64 only when the archive needs it, which we refuse below 4 GiB).
import * as zlib from 'node:zlib';
import { PtError } from './errors.js';

export interface ZipRecord {
  readonly name: string;
  readonly data: Uint8Array;
}

const UTF8 = new TextDecoder();
const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_END64_LOCATOR = 0x07064b50;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
const DATA_ALIGNMENT = 64;
const UINT32_MAX = 0xffffffff;

/** Central-directory facts about one record. */
interface CentralEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/**
 * All records of a zip archive, by name, in directory order. Stored records are views into
 * `buf` (no copy); deflated ones are inflated. Every CRC-32 is checked, so a corrupted or
 * half-written file is refused here with `file` in the message.
 */
export function readZip(buf: Uint8Array, file: string): Map<string, Uint8Array> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const entries = readCentralDirectory(view, file);
  const records = new Map<string, Uint8Array>();
  for (const entry of entries) records.set(entry.name, readRecord(buf, view, entry, file));
  return records;
}

function findEndRecord(view: DataView, file: string): number {
  const minEnd = Math.max(0, view.byteLength - 22 - 0xffff);
  for (let pos = view.byteLength - 22; pos >= minEnd; pos--) {
    if (view.getUint32(pos, true) === SIG_END) return pos;
  }
  throw new PtError(
    'TRUNCATED',
    file,
    'zip archive without its end-of-central-directory record (the file is truncated: copy or download it again)',
  );
}

function readCentralDirectory(view: DataView, file: string): CentralEntry[] {
  const end = findEndRecord(view, file);
  let count = view.getUint16(end + 10, true);
  let dirOffset = view.getUint32(end + 16, true);
  if (count === 0xffff || dirOffset === UINT32_MAX) {
    const locator = end - 20;
    if (locator < 0 || view.getUint32(locator, true) !== SIG_END64_LOCATOR)
      throw new PtError('CORRUPT', file, 'zip64 end record locator missing');
    const end64 = Number(view.getBigUint64(locator + 8, true));
    if (end64 + 56 > view.byteLength || view.getUint32(end64, true) !== SIG_END64)
      throw new PtError('CORRUPT', file, 'zip64 end record missing');
    count = Number(view.getBigUint64(end64 + 32, true));
    dirOffset = Number(view.getBigUint64(end64 + 48, true));
  }
  const entries: CentralEntry[] = [];
  let pos = dirOffset;
  for (let k = 0; k < count; k++) {
    if (pos + 46 > view.byteLength || view.getUint32(pos, true) !== SIG_CENTRAL)
      throw new PtError('CORRUPT', file, `zip central directory entry ${k} is damaged`);
    const nameLen = view.getUint16(pos + 28, true);
    const extraLen = view.getUint16(pos + 30, true);
    const commentLen = view.getUint16(pos + 32, true);
    const name = UTF8.decode(new Uint8Array(view.buffer, view.byteOffset + pos + 46, nameLen));
    const entry: CentralEntry = {
      name,
      method: view.getUint16(pos + 10, true),
      crc: view.getUint32(pos + 16, true),
      compressedSize: view.getUint32(pos + 20, true),
      size: view.getUint32(pos + 24, true),
      localOffset: view.getUint32(pos + 42, true),
    };
    applyZip64Extra(view, pos + 46 + nameLen, extraLen, entry);
    entries.push(entry);
    pos += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Sizes and offsets that overflow 32 bits live in the zip64 extra field (id 1), in this order. */
function applyZip64Extra(view: DataView, start: number, length: number, entry: CentralEntry): void {
  for (let pos = start; pos + 4 <= start + length;) {
    const id = view.getUint16(pos, true);
    const size = view.getUint16(pos + 2, true);
    if (id === 1) {
      let field = pos + 4;
      const next = (): number => {
        const value = Number(view.getBigUint64(field, true));
        field += 8;
        return value;
      };
      if (entry.size === UINT32_MAX) entry.size = next();
      if (entry.compressedSize === UINT32_MAX) entry.compressedSize = next();
      if (entry.localOffset === UINT32_MAX) entry.localOffset = next();
    }
    pos += 4 + size;
  }
}

function readRecord(buf: Uint8Array, view: DataView, entry: CentralEntry, file: string): Uint8Array {
  const at = entry.localOffset;
  if (at + 30 > view.byteLength || view.getUint32(at, true) !== SIG_LOCAL)
    throw new PtError('CORRUPT', file, `zip record ${entry.name}: local header missing`);
  const dataStart = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
  const dataEnd = dataStart + entry.compressedSize;
  if (dataEnd > buf.byteLength)
    throw new PtError('TRUNCATED', file, `zip record ${entry.name} runs past the end of the file (truncated)`);
  const raw = buf.subarray(dataStart, dataEnd);
  let data: Uint8Array;
  if (entry.method === METHOD_STORED) data = raw;
  else if (entry.method === METHOD_DEFLATE) data = zlib.inflateRawSync(raw);
  else
    throw new PtError(
      'UNSUPPORTED',
      file,
      `zip record ${entry.name} uses compression method ${entry.method} (torch.save stores records uncompressed)`,
    );
  if (data.byteLength !== entry.size || zlib.crc32(data) !== entry.crc)
    throw new PtError(
      'CORRUPT',
      file,
      `zip record ${entry.name} fails its CRC-32 check (the file is corrupted: copy or download it again)`,
    );
  return data;
}

/** Bytes of the local header's "FB" extra field that put the record's data on a 64-byte boundary. */
function alignmentExtra(headerStart: number, nameLength: number): Uint8Array {
  const unpadded = headerStart + 30 + nameLength + 4;
  const padding = (DATA_ALIGNMENT - (unpadded % DATA_ALIGNMENT)) % DATA_ALIGNMENT;
  const extra = new Uint8Array(4 + padding).fill(0x5a); // 'Z', as torch pads
  const view = new DataView(extra.buffer);
  view.setUint16(0, 0x4246, true); // "FB"
  view.setUint16(2, padding, true);
  return extra;
}

/** A zip archive of stored records, each record's data 64-byte aligned (what torch.save writes). */
export function writeZip(records: readonly ZipRecord[]): Buffer {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const record of records) {
    const name = Buffer.from(record.name, 'utf8');
    const extra = alignmentExtra(offset, name.length);
    const crc = zlib.crc32(record.data);
    if (offset > UINT32_MAX || record.data.byteLength > UINT32_MAX)
      throw new Error(`zip record ${record.name}: archives over 4 GiB are not supported`);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(SIG_LOCAL, 0);
    fillCommonHeader(local, 4, crc, record.data.byteLength, name.length, extra.length);
    parts.push(local, name, extra, record.data);
    central.push(centralEntry(name, crc, record.data.byteLength, offset));
    offset += local.length + name.length + extra.length + record.data.byteLength;
  }
  const dirSize = central.reduce((sum, entry) => sum + entry.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(SIG_END, 0);
  end.writeUInt16LE(records.length, 8);
  end.writeUInt16LE(records.length, 10);
  end.writeUInt32LE(dirSize, 12);
  end.writeUInt32LE(offset, 16);
  if (records.length > 0xfffe) throw new Error('zip archives over 65534 records are not supported');
  return Buffer.concat([...parts, ...central, end]);
}

/** version needed, flags (bit 11: UTF-8 names), method, time, date, crc, sizes, name/extra lengths. */
function fillCommonHeader(
  header: Buffer,
  at: number,
  crc: number,
  size: number,
  nameLength: number,
  extraLength: number,
): void {
  header.writeUInt16LE(20, at);
  header.writeUInt16LE(0x0800, at + 2);
  header.writeUInt16LE(METHOD_STORED, at + 4);
  header.writeUInt32LE(0, at + 6); // time and date 0, as torch writes
  header.writeUInt32LE(crc, at + 10);
  header.writeUInt32LE(size, at + 14);
  header.writeUInt32LE(size, at + 18);
  header.writeUInt16LE(nameLength, at + 22);
  header.writeUInt16LE(extraLength, at + 24);
}

function centralEntry(name: Buffer, crc: number, size: number, localOffset: number): Buffer {
  const header = Buffer.alloc(46);
  header.writeUInt32LE(SIG_CENTRAL, 0);
  header.writeUInt16LE(20, 4); // version made by
  fillCommonHeader(header, 6, crc, size, name.length, 0);
  header.writeUInt32LE(localOffset, 42);
  return Buffer.concat([header, name]);
}
