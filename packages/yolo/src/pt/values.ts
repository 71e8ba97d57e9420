// The plain data a pickle becomes. Nothing here can run code: classes are names, objects
// are their name plus the arguments and state the pickle gave them.

/** A Python tuple (kept apart from lists so that a writer can emit the same type again). */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** A dict that is a collections.OrderedDict in Python (torch modules' `_parameters`, `_modules`, ...). */
export class PyOrderedDict extends Map<PyValue, PyValue> {}

/** A float that must stay a float when written (JS numbers that are integers become ints). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/**
 * An instance of a class named by the pickle (`models.common.Conv`, `argparse.Namespace`, or
 * a class outside the table when `known` is false). `state` is what BUILD gave it: for torch
 * modules and most objects a dict of attributes, available as `attrs`.
 */
export class PyObject {
  state: PyValue = null;
  constructor(
    readonly className: string,
    readonly known: boolean,
    readonly args: readonly PyValue[] = [],
  ) {}
  /** The attribute dict (`__dict__`) when the state is one, else an empty map. */
  get attrs(): Map<PyValue, PyValue> {
    if (this.state instanceof Map) return this.state;
    if (this.state instanceof PyTuple && this.state.items[0] instanceof Map) return this.state.items[0];
    return new Map();
  }
}

/** A global the pickle names (a class or function), unresolved: pushing it runs nothing. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly known: boolean,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** torch.HalfStorage & co. as named by the pickle: only the element type matters. */
export type StorageDtype =
  'float16' | 'bfloat16' | 'float32' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export class StorageType {
  constructor(readonly dtype: StorageDtype) {}
}

/** One storage of the archive (`<archive>/data/<key>`); tensors sharing it share this object. */
export class TorchStorage {
  constructor(
    readonly key: string,
    readonly dtype: StorageDtype,
    readonly numel: number,
  ) {}
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view into a storage. */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
    public requiresGrad: boolean,
    /** true for torch.nn.Parameter (`_rebuild_parameter`). */
    public isParameter = false,
  ) {}
}

/** A numpy dtype (`numpy.dtype('f8')`), its byte order from BUILD. */
export class NumpyDtype {
  byteOrder = '<';
  constructor(readonly code: string) {}
}

/** A numpy ndarray rebuilt from `_reconstruct` + BUILD (values decoded as numbers). */
export class NumpyArray {
  shape: number[] = [];
  dtype = '';
  values: number[] = [];
}

/** Element types the writer stores. */
export type OutDtype = 'float16' | 'float32' | 'int64' | 'int32';

/** A tensor to write: contiguous values, stored in its own storage as `dtype`. */
export class TensorOut {
  constructor(
    readonly dtype: OutDtype,
    readonly shape: readonly number[],
    readonly data: ArrayLike<number>,
    /** torch.nn.Parameter (`_rebuild_parameter`) rather than a plain tensor. */
    readonly parameter = false,
    readonly requiresGrad = false,
  ) {}
}

/** Everything the reader can produce (and TensorOut, which only the writer takes). Dicts (and OrderedDicts) are Maps, sets are Sets. */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | PyTuple
  | PyFloat
  | Map<PyValue, PyValue>
  | Set<PyValue>
  | PyObject
  | PyGlobal
  | StorageType
  | TorchStorage
  | TorchTensor
  | NumpyDtype
  | NumpyArray
  | TensorOut;

/** The elements of a list or tuple, else null. */
export function sequenceItems(value: PyValue | undefined): PyValue[] | null {
  if (Array.isArray(value)) return value;
  if (value instanceof PyTuple) return value.items;
  return null;
}

/**
 * JSON-like plain data for options, yaml, names: Maps with string/number keys become objects,
 * tuples arrays, bigints numbers, numpy arrays their values; tensors and objects become a
 * short description (they are not options).
 */
export function toPlain(value: PyValue): unknown {
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string')
    return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof PyFloat) return value.value;
  if (Array.isArray(value)) return value.map(toPlain);
  if (value instanceof PyTuple) return value.items.map(toPlain);
  if (value instanceof Set) return [...value].map(toPlain);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of value) out[String(toPlain(key))] = toPlain(item);
    return out;
  }
  if (value instanceof NumpyArray) return value.shape.length === 0 ? value.values[0] : value.values;
  if (value instanceof PyObject) {
    if (value.className === 'argparse.Namespace') return toPlain(value.state);
    return `<${value.className}>`;
  }
  if (value instanceof Uint8Array) return `<bytes ${value.byteLength}>`;
  if (value instanceof TorchTensor) return `<tensor ${value.storage.dtype} [${value.shape.join(', ')}]>`;
  if (value instanceof PyGlobal) return `<${value.qualifiedName}>`;
  return `<${value.constructor.name}>`;
}
