/** Minimal .npy (NumPy format 1.0) for uint8 HWC images: the --cache disk file format. */

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00]);

export function encodeNpyU8(data: Uint8Array, shape: number[]): Buffer {
  let header = `{'descr': '|u1', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = MAGIC.length + 2 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const len = Buffer.alloc(2);
  len.writeUInt16LE(header.length);
  return Buffer.concat([
    MAGIC,
    len,
    Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength),
  ]);
}

export function decodeNpyU8(buf: Uint8Array): { data: Uint8Array; shape: number[] } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 10 || b.readUInt32BE(0) !== 0x934e554d) throw new Error('not a .npy file');
  const major = b[6]!;
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.subarray(start, start + hlen).toString('latin1');
  if (!/'descr':\s*'\|u1'/.test(header) || /'fortran_order':\s*True/.test(header))
    throw new Error(`unsupported .npy header ${header.trim()}`);
  const m = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!m) throw new Error(`.npy header without shape: ${header.trim()}`);
  const shape = m[1]!
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const n = shape.reduce((a, c) => a * c, 1);
  const data = new Uint8Array(b.buffer, b.byteOffset + start + hlen, n);
  if (data.length !== n) throw new Error('truncated .npy file');
  return { data, shape };
}
