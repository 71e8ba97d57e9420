// A pickle writer (protocol 2, as torch.save) for the values of values.ts. Tensors (TensorOut)
// become `torch._utils._rebuild_tensor_v2` calls on persistent storages ('storage', type, key,
// 'cpu', numel), `_rebuild_parameter` for parameters; their bytes are returned for the zip.
import { toHalfBits } from './half.js';
import {
  PyFloat,
  PyGlobal,
  PyObject,
  PyOrderedDict,
  PyTuple,
  TensorOut,
  type OutDtype,
  type PyValue,
} from './values.js';
import { contiguousStride } from './tensor-data.js';

const STORAGE_CLASS: Record<OutDtype, string> = {
  float16: 'HalfStorage',
  float32: 'FloatStorage',
  int64: 'LongStorage',
  int32: 'IntStorage',
};

/** A pickle and the storages it refers to (`data/<key>` records of the archive). */
export interface Pickled {
  pickle: Buffer;
  storages: { key: string; bytes: Uint8Array }[];
}

class Writer {
  private chunks: Buffer[] = [];
  private current = Buffer.alloc(1 << 16);
  private length = 0;
  readonly storages: { key: string; bytes: Uint8Array }[] = [];

  bytes(data: ArrayLike<number>): void {
    if (this.length + data.length > this.current.length) this.flush(data.length);
    this.current.set(data, this.length);
    this.length += data.length;
  }
  private flush(need: number): void {
    this.chunks.push(this.current.subarray(0, this.length));
    this.current = Buffer.alloc(Math.max(1 << 16, need));
    this.length = 0;
  }
  finish(): Buffer {
    return Buffer.concat([...this.chunks, this.current.subarray(0, this.length)]);
  }

  op(code: number): void {
    this.bytes([code]);
  }
  u32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value, 0);
    this.bytes(b);
  }

  value(value: PyValue): void {
    if (value === null) return this.op(0x4e); // NONE
    if (value === true) return this.op(0x88); // NEWTRUE
    if (value === false) return this.op(0x89); // NEWFALSE
    if (typeof value === 'number')
      return Number.isInteger(value) && !Object.is(value, -0) ? this.int(BigInt(value)) : this.float(value);
    if (typeof value === 'bigint') return this.int(value);
    if (value instanceof PyFloat) return this.float(value.value);
    if (typeof value === 'string') return this.string(value);
    if (value instanceof PyTuple) return this.tuple(value.items);
    if (Array.isArray(value)) return this.list(value);
    if (value instanceof PyOrderedDict)
      return this.call('collections', 'OrderedDict', [[...value.entries()].map(([k, v]) => new PyTuple([k, v]))]);
    if (value instanceof Map) return this.dict(value);
    if (value instanceof Set) return this.call('__builtin__', 'set', [[...value]]);
    if (value instanceof TensorOut) return this.tensor(value);
    if (value instanceof PyObject) return this.object(value);
    if (value instanceof PyGlobal) return this.global(value.module, value.name);
    throw new Error(`cannot pickle a ${value.constructor.name}`);
  }

  private int(value: bigint): void {
    if (value >= 0n && value < 256n) return this.bytes([0x4b, Number(value)]); // BININT1
    if (value >= -(2n ** 31n) && value < 2n ** 31n) {
      const b = Buffer.alloc(5);
      b[0] = 0x4a; // BININT
      b.writeInt32LE(Number(value), 1);
      return this.bytes(b);
    }
    const bytes: number[] = [];
    let rest = value;
    do {
      bytes.push(Number(rest & 0xffn));
      rest >>= 8n;
    } while (!(
      (rest === 0n && !(bytes[bytes.length - 1]! & 0x80)) ||
      (rest === -1n && bytes[bytes.length - 1]! & 0x80)
    ));
    this.bytes([0x8a, bytes.length, ...bytes]); // LONG1
  }
  private float(value: number): void {
    const b = Buffer.alloc(9);
    b[0] = 0x47; // BINFLOAT, big-endian
    b.writeDoubleBE(value, 1);
    this.bytes(b);
  }
  private string(value: string): void {
    const utf8 = Buffer.from(value, 'utf8');
    this.op(0x58); // BINUNICODE
    this.u32(utf8.length);
    this.bytes(utf8);
  }
  private tuple(items: readonly PyValue[]): void {
    if (items.length === 0) return this.op(0x29); // EMPTY_TUPLE
    if (items.length <= 3) {
      items.forEach((item) => this.value(item));
      return this.op([0x85, 0x86, 0x87][items.length - 1]!); // TUPLE1..3
    }
    this.op(0x28); // MARK
    items.forEach((item) => this.value(item));
    this.op(0x74); // TUPLE
  }
  private list(items: readonly PyValue[]): void {
    this.op(0x5d); // EMPTY_LIST
    if (items.length === 0) return;
    this.op(0x28);
    items.forEach((item) => this.value(item));
    this.op(0x65); // APPENDS
  }
  private dict(map: Map<PyValue, PyValue>): void {
    this.op(0x7d); // EMPTY_DICT
    if (map.size === 0) return;
    this.op(0x28);
    for (const [key, item] of map) {
      this.value(key);
      this.value(item);
    }
    this.op(0x75); // SETITEMS
  }
  private global(module: string, name: string): void {
    this.bytes(Buffer.from(`c${module}\n${name}\n`, 'utf8')); // GLOBAL
  }
  private call(module: string, name: string, args: PyValue[]): void {
    this.global(module, name);
    this.tuple(args);
    this.op(0x52); // REDUCE
  }
  /** An instance as torch pickles modules: cls.__new__(cls) via NEWOBJ, then BUILD with its __dict__. */
  private object(object: PyObject): void {
    const dot = object.className.lastIndexOf('.');
    this.global(object.className.slice(0, dot), object.className.slice(dot + 1));
    this.tuple(object.args as PyValue[]);
    this.op(0x81); // NEWOBJ
    if (object.state === null) return;
    this.value(object.state);
    this.op(0x62); // BUILD
  }
  private tensor(tensor: TensorOut): void {
    const key = String(this.storages.length);
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (count !== tensor.data.length)
      throw new Error(`tensor of shape [${tensor.shape}] given ${tensor.data.length} values`);
    this.storages.push({ key, bytes: storageBytes(tensor) });
    if (tensor.parameter) this.global('torch._utils', '_rebuild_parameter');
    if (tensor.parameter) this.op(0x28);
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.op(0x28);
    this.tuple(['storage', new PyGlobal('torch', STORAGE_CLASS[tensor.dtype], true), key, 'cpu', count]);
    this.op(0x51); // BINPERSID
    this.value(0);
    this.tuple(tensor.shape as number[]);
    this.tuple(contiguousStride(tensor.shape));
    this.value(tensor.parameter ? false : tensor.requiresGrad);
    this.value(new PyOrderedDict());
    this.op(0x74);
    this.op(0x52);
    if (!tensor.parameter) return;
    this.value(tensor.requiresGrad);
    this.value(new PyOrderedDict());
    this.op(0x74);
    this.op(0x52);
  }
}

/** Little-endian bytes of a tensor's values in its dtype (fp16 rounded to nearest even). */
function storageBytes(tensor: TensorOut): Uint8Array {
  const n = tensor.data.length;
  switch (tensor.dtype) {
    case 'float16':
      return new Uint8Array(Uint16Array.from({ length: n }, (_, k) => toHalfBits(tensor.data[k]!)).buffer);
    case 'float32':
      return new Uint8Array(Float32Array.from(tensor.data).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.from(tensor.data).buffer);
    case 'int64':
      return new Uint8Array(BigInt64Array.from({ length: n }, (_, k) => BigInt(Math.trunc(tensor.data[k]!))).buffer);
  }
}

/** Pickle `value` (protocol 2, with STOP) and collect the storages its tensors refer to. */
export function pickle(value: PyValue): Pickled {
  const writer = new Writer();
  writer.bytes([0x80, 2]); // PROTO 2
  writer.value(value);
  writer.op(0x2e); // STOP
  return { pickle: writer.finish(), storages: writer.storages };
}
