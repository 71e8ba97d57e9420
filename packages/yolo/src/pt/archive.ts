// Opening a PyTorch file: recognise the format, read the zip, interpret `<archive>/data.pkl`
// with storages from `<archive>/data/<key>`. Older formats are named and refused.
import { PtError } from './errors.js';
import { makePersistentLoad } from './globals.js';
import { tensorValues } from './tensor-data.js';
import { UnpickleError, unpickle } from './unpickle.js';
import { readZip, writeZip, type ZipRecord } from './zip.js';
import { pickle } from './pickle.js';
import type { PyValue, TorchTensor } from './values.js';

/** The pickled root object and a way to read any tensor's values. */
export interface PtArchive {
  readonly file: string;
  readonly root: PyValue;
  /** The archive's folder name inside the zip (torch uses the file's stem). */
  readonly archiveName: string;
  /** float32 values of a tensor of this archive; `what` names it in errors. */
  values(tensor: TorchTensor, what: string): Float32Array;
}

/** torch's legacy magic number 0x1950a86a20f9469cfc6c, pickled as a LONG1 after PROTO 2. */
const LEGACY_MAGIC = Uint8Array.from([
  0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
]);

function startsWith(bytes: Uint8Array, prefix: ArrayLike<number>, at = 0): boolean {
  if (bytes.byteLength < at + prefix.length) return false;
  for (let k = 0; k < prefix.length; k++) if (bytes[at + k] !== prefix[k]) return false;
  return true;
}

/** Refuse what is not a zip checkpoint with a message saying what it is. */
function checkFormat(bytes: Uint8Array, file: string): void {
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return;
  const legacy =
    'written by PyTorch < 1.6 (legacy serialization); re-save it with a newer torch: torch.save(torch.load(f), f)';
  if (startsWith(bytes, LEGACY_MAGIC)) throw new PtError('LEGACY_FORMAT', file, `${legacy}`);
  if (
    startsWith(
      bytes,
      Array.from('ustar', (c) => c.charCodeAt(0)),
      257,
    )
  )
    throw new PtError('LEGACY_FORMAT', file, `is a tar archive, ${legacy}`);
  if (bytes.byteLength === 0) throw new PtError('NOT_A_CHECKPOINT', file, 'is empty');
  throw new PtError(
    'NOT_A_CHECKPOINT',
    file,
    'is not a PyTorch checkpoint (no zip signature): give a .pt written by torch.save, e.g. YOLOv5 weights',
  );
}

/** The single `<name>/data.pkl` of the archive. */
function findPickle(records: Map<string, Uint8Array>, file: string): string {
  const pickles = [...records.keys()].filter((name) => name.endsWith('/data.pkl') || name === 'data.pkl');
  if (pickles.length !== 1)
    throw new PtError(
      'NOT_A_CHECKPOINT',
      file,
      `is a zip archive but not a torch.save file (${pickles.length} data.pkl records)`,
    );
  return pickles[0]!.slice(0, -'data.pkl'.length);
}

/** Open a .pt file's bytes. Nothing in the file is executed: see globals.ts. */
export function openPtArchive(bytes: Uint8Array, file: string): PtArchive {
  checkFormat(bytes, file);
  const records = readZip(bytes, file);
  const prefix = findPickle(records, file);
  let root: PyValue;
  try {
    root = unpickle(records.get(`${prefix}data.pkl`)!, { persistentLoad: makePersistentLoad() });
  } catch (err) {
    if (err instanceof UnpickleError) throw new PtError('CORRUPT', file, `data.pkl: ${err.message}`);
    throw err;
  }
  return {
    file,
    root,
    archiveName: prefix.replace(/\/$/, ''),
    values(tensor, what) {
      const record = records.get(`${prefix}data/${tensor.storage.key}`);
      if (!record) throw new PtError('CORRUPT', file, `${what}: storage record data/${tensor.storage.key} is missing`);
      try {
        return tensorValues(tensor, record, what);
      } catch (err) {
        throw new PtError('BAD_TENSOR', file, (err as Error).message);
      }
    },
  };
}

/** torch.save's archive: `<name>/data.pkl`, `<name>/data/<key>` (64-byte aligned), `<name>/version`. */
export function writePtArchive(value: PyValue, archiveName: string): Buffer {
  const { pickle: data, storages } = pickle(value);
  const records: ZipRecord[] = [{ name: `${archiveName}/data.pkl`, data }];
  for (const storage of storages) records.push({ name: `${archiveName}/data/${storage.key}`, data: storage.bytes });
  records.push({ name: `${archiveName}/version`, data: Buffer.from('3\n') });
  return writeZip(records);
}
