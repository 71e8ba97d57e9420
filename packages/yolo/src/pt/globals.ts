// The explicit table of every Python global a checkpoint may name. The pickle reader looks
// each GLOBAL up here and never imports or calls anything: a class becomes a PyObject holding
// its name and state, a function in the table is a small pure rebuild written below, and a
// name outside the table becomes an inert PyGlobal/PyObject marked unknown (the checkpoint
// reader then refuses it where a model is expected). This is the difference with torch.load,
// which imports and runs whatever the file names.
import {
  NumpyArray,
  NumpyDtype,
  PyOrderedDict,
  StorageType,
  TorchStorage,
  TorchTensor,
  sequenceItems,
  type PyValue,
  type StorageDtype,
} from './values.js';

export type GlobalEntry =
  /** Instances are inert PyObjects with the class's name (torch.nn modules, YOLOv5 modules, Namespace). */
  | { readonly kind: 'class' }
  /** A storage type in a persistent id. */
  | { readonly kind: 'storage'; readonly dtype: StorageDtype }
  /** A data rebuild function: pure, from its pickled arguments to a value. */
  | { readonly kind: 'function'; readonly call: (args: readonly PyValue[]) => PyValue };

const STORAGE_TYPES: Record<string, StorageDtype> = {
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** torch.nn and YOLOv5 (models.common, models.yolo) classes a YOLOv5 checkpoint pickles. */
const MODULE_CLASSES = [
  'torch.nn.modules.container.Sequential',
  'torch.nn.modules.container.ModuleList',
  'torch.nn.modules.container.ModuleDict',
  'torch.nn.modules.conv.Conv2d',
  'torch.nn.modules.batchnorm.BatchNorm2d',
  'torch.nn.modules.activation.SiLU',
  'torch.nn.modules.activation.ReLU',
  'torch.nn.modules.activation.LeakyReLU',
  'torch.nn.modules.activation.Hardswish',
  'torch.nn.modules.activation.Sigmoid',
  'torch.nn.modules.pooling.MaxPool2d',
  'torch.nn.modules.pooling.AdaptiveAvgPool2d',
  'torch.nn.modules.upsampling.Upsample',
  'torch.nn.modules.linear.Identity',
  'torch.nn.modules.linear.Linear',
  'torch.nn.modules.dropout.Dropout',
  'models.yolo.DetectionModel',
  'models.yolo.Model',
  'models.yolo.Detect',
  'models.yolo.Segment',
  'models.yolo.SegmentationModel',
  'models.yolo.ClassificationModel',
  'models.common.Conv',
  'models.common.DWConv',
  'models.common.Bottleneck',
  'models.common.BottleneckCSP',
  'models.common.C3',
  'models.common.C3x',
  'models.common.C3TR',
  'models.common.C3SPP',
  'models.common.C3Ghost',
  'models.common.CrossConv',
  'models.common.GhostConv',
  'models.common.GhostBottleneck',
  'models.common.SPP',
  'models.common.SPPF',
  'models.common.Focus',
  'models.common.Concat',
  'models.common.Contract',
  'models.common.Expand',
  'models.common.Proto',
  'models.common.Classify',
];

function storageFromPersistentId(pid: PyValue, cache: Map<string, TorchStorage>): TorchStorage {
  const items = sequenceItems(pid);
  if (!items || items[0] !== 'storage' || !(items[1] instanceof StorageType) || typeof items[2] !== 'string')
    throw new Error(`unexpected persistent id (torch.save writes ('storage', type, key, location, numel))`);
  const key = items[2];
  const cached = cache.get(key);
  if (cached) return cached;
  const storage = new TorchStorage(key, items[1].dtype, Number(items[4] ?? 0));
  cache.set(key, storage);
  return storage;
}

/** The persistent_load of torch's unpickler: one TorchStorage per key, shared by its tensors. */
export function makePersistentLoad(): (pid: PyValue) => PyValue {
  const cache = new Map<string, TorchStorage>();
  return (pid) => storageFromPersistentId(pid, cache);
}

function ints(value: PyValue | undefined, what: string): number[] {
  const items = sequenceItems(value ?? null);
  if (!items) throw new Error(`${what}: expected a tuple of ints`);
  return items.map((item) => Number(item));
}

/** torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
function rebuildTensor(args: readonly PyValue[]): PyValue {
  const storage = args[0];
  if (!(storage instanceof TorchStorage)) throw new Error('_rebuild_tensor_v2: the first argument is not a storage');
  return new TorchTensor(
    storage,
    Number(args[1]),
    ints(args[2], 'tensor size'),
    ints(args[3], 'tensor stride'),
    args[4] === true,
  );
}

/** torch._utils._rebuild_parameter(data, requires_grad, backward_hooks): the tensor, marked as a Parameter. */
function rebuildParameter(args: readonly PyValue[]): PyValue {
  const tensor = args[0];
  if (!(tensor instanceof TorchTensor)) throw new Error('_rebuild_parameter: the first argument is not a tensor');
  tensor.requiresGrad = args[1] === true;
  tensor.isParameter = true;
  return tensor;
}

function orderedDict(args: readonly PyValue[]): PyValue {
  const map = new PyOrderedDict();
  for (const pair of sequenceItems(args[0] ?? null) ?? []) {
    const kv = sequenceItems(pair);
    if (kv && kv.length === 2) map.set(kv[0]!, kv[1]!);
  }
  return map;
}

function pySet(args: readonly PyValue[]): PyValue {
  return new Set(sequenceItems(args[0] ?? null) ?? []);
}

/** _codecs.encode(text, 'latin1'): how protocol 2 pickles Python 3 bytes. */
function latin1Bytes(args: readonly PyValue[]): PyValue {
  const text = typeof args[0] === 'string' ? args[0] : '';
  return Uint8Array.from(text, (char) => char.charCodeAt(0) & 0xff);
}

/** pathlib.PosixPath('runs', 'train') and friends: kept as the path string. */
function pathString(args: readonly PyValue[]): PyValue {
  return args.map(String).join('/').replace(/\/+/g, '/');
}

/** numpy.dtype('f8', False, True): the type code; BUILD adds the byte order. */
function numpyDtype(args: readonly PyValue[]): PyValue {
  return new NumpyDtype(String(args[0]));
}

/** numpy.core.multiarray.scalar(dtype, raw bytes): the number. */
function numpyScalar(args: readonly PyValue[]): PyValue {
  const dtype = args[0];
  const raw = args[1];
  if (!(dtype instanceof NumpyDtype) || !(raw instanceof Uint8Array))
    throw new Error('numpy scalar: unexpected arguments');
  return decodeNumpy(dtype, raw)[0] ?? null;
}

/** Decode raw little-endian numpy data of a dtype code into numbers. */
export function decodeNumpy(dtype: NumpyDtype, raw: Uint8Array): number[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const little = dtype.byteOrder !== '>';
  const readers: Record<string, [number, (at: number) => number]> = {
    f8: [8, (at) => view.getFloat64(at, little)],
    f4: [4, (at) => view.getFloat32(at, little)],
    i8: [8, (at) => Number(view.getBigInt64(at, little))],
    i4: [4, (at) => view.getInt32(at, little)],
    u1: [1, (at) => view.getUint8(at)],
    b1: [1, (at) => view.getUint8(at)],
  };
  const reader = readers[dtype.code];
  if (!reader) throw new Error(`numpy dtype ${dtype.code} is not supported`);
  const [size, read] = reader;
  const out: number[] = [];
  for (let at = 0; at + size <= raw.byteLength; at += size) out.push(read(at));
  return out;
}

/** numpy.core.multiarray._reconstruct(ndarray, (0,), b'b'): an empty array that BUILD fills. */
function numpyReconstruct(): PyValue {
  return new NumpyArray();
}

/** The BUILD of an ndarray: (version, shape, dtype, is_fortran, raw bytes). */
export function setNumpyState(array: NumpyArray, state: PyValue): void {
  const items = sequenceItems(state);
  const dtype = items?.[2];
  const raw = items?.[4];
  if (!items || !(dtype instanceof NumpyDtype)) throw new Error('numpy array: unexpected pickled state');
  array.shape = ints(items[1], 'numpy shape');
  array.dtype = dtype.code;
  array.values = raw instanceof Uint8Array ? decodeNumpy(dtype, raw) : (sequenceItems(raw ?? null) ?? []).map(Number);
}

function buildTable(): Map<string, GlobalEntry> {
  const table = new Map<string, GlobalEntry>();
  const fn = (name: string, call: (args: readonly PyValue[]) => PyValue): void =>
    void table.set(name, { kind: 'function', call });
  for (const [name, dtype] of Object.entries(STORAGE_TYPES)) table.set(`torch.${name}`, { kind: 'storage', dtype });
  for (const name of MODULE_CLASSES) table.set(name, { kind: 'class' });
  table.set('argparse.Namespace', { kind: 'class' });
  table.set('numpy.ndarray', { kind: 'class' });
  fn('torch._utils._rebuild_tensor_v2', rebuildTensor);
  fn('torch._utils._rebuild_parameter', rebuildParameter);
  fn('torch._utils._rebuild_parameter_with_state', rebuildParameter);
  fn('collections.OrderedDict', orderedDict);
  fn('__builtin__.set', pySet);
  fn('builtins.set', pySet);
  fn('__builtin__.frozenset', pySet);
  fn('builtins.frozenset', pySet);
  fn('_codecs.encode', latin1Bytes);
  for (const name of ['Path', 'PosixPath', 'WindowsPath', 'PurePosixPath', 'PureWindowsPath'])
    fn(`pathlib.${name}`, pathString);
  for (const core of ['numpy.core.multiarray', 'numpy._core.multiarray']) {
    fn(`${core}._reconstruct`, numpyReconstruct);
    fn(`${core}.scalar`, numpyScalar);
  }
  fn('numpy.dtype', numpyDtype);
  return table;
}

/** module.name -> what it is. Python 2 spellings (`__builtin__`) are listed as torch writes them. */
export const GLOBALS: ReadonlyMap<string, GlobalEntry> = buildTable();
