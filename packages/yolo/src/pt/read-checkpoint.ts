// What a YOLOv5 .pt holds, as plain data: {epoch, best_fitness, model, ema, updates, optimizer,
// opt, git, date} with `model`/`ema` pickled DetectionModels (their state in the modules'
// `_parameters` / `_buffers` / `_modules`), or a bare state_dict, or a pickled model alone.
import { readFileSync } from 'node:fs';
import { openPtArchive, type PtArchive } from './archive.js';
import { PtError } from './errors.js';
import { PyObject, TorchTensor, toPlain, type PyValue, type StorageDtype } from './values.js';

/** One state_dict entry: PyTorch name, shape and dtype, values widened to float32. */
export interface PtTensor {
  shape: number[];
  dtype: StorageDtype;
  data: Float32Array;
}
export type PtStateDict = Record<string, PtTensor>;

/** A pickled model (or a bare state_dict, with `className` 'state_dict' and no yaml). */
export interface PtModel {
  className: string;
  stateDict: PtStateDict;
  /** The model definition YOLOv5 keeps in `model.yaml` (rebuilds the model from --weights alone). */
  yaml: Record<string, unknown> | null;
  /** Class names by index (YOLOv5 pickles a dict {0: 'person', ...} or a list). */
  names: string[] | null;
  stride: number[] | null;
  nc: number | null;
}

export interface PtCheckpoint {
  file: string;
  kind: 'yolov5-checkpoint' | 'state-dict' | 'model';
  /** `model` of the file (or the state_dict / model itself). */
  model: PtModel | null;
  ema: PtModel | null;
  epoch: number | null;
  bestFitness: number | null;
  updates: number | null;
  opt: Record<string, unknown> | null;
  date: string | null;
  /** Top-level dict (extra keys such as `yolo_launch`), and the archive to read their tensors. */
  top: Map<PyValue, PyValue>;
  archive: PtArchive;
}

function isStateDict(value: PyValue): value is Map<PyValue, PyValue> {
  return value instanceof Map && value.size > 0 && [...value.values()].every((item) => item instanceof TorchTensor);
}

/** Read a .pt file. Errors (PtError) name the file and what is wrong. */
export function readPtFile(path: string): PtCheckpoint {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new PtError(
      'NOT_A_CHECKPOINT',
      path,
      `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  return readPt(bytes, path);
}

export function readPt(bytes: Uint8Array, file: string): PtCheckpoint {
  const archive = openPtArchive(bytes, file);
  const root = archive.root;
  const empty = {
    ema: null,
    epoch: null,
    bestFitness: null,
    updates: null,
    opt: null,
    date: null,
    top: new Map<PyValue, PyValue>(),
    archive,
    file,
  };
  if (isStateDict(root)) return { ...empty, kind: 'state-dict', model: stateDictModel(root, archive), top: root };
  if (root instanceof PyObject)
    return { ...empty, kind: 'model', model: readModel(root, archive, 'the pickled model') };
  if (!(root instanceof Map) || !root.has('model'))
    throw new PtError(
      'NOT_A_CHECKPOINT',
      file,
      `holds ${describeRoot(root)}, not a YOLOv5 checkpoint ({model, ema, ...}) or a state_dict`,
    );
  const number = (key: string): number | null => {
    const value = toPlain(root.get(key) ?? null);
    const first = Array.isArray(value) ? value[0] : value;
    return typeof first === 'number' ? first : null;
  };
  const opt = toPlain(root.get('opt') ?? null);
  const date = root.get('date');
  return {
    ...empty,
    kind: 'yolov5-checkpoint',
    model: modelOrStateDict(root.get('model') ?? null, archive, 'model'),
    ema: modelOrStateDict(root.get('ema') ?? null, archive, 'ema'),
    epoch: number('epoch'),
    bestFitness: number('best_fitness'),
    updates: number('updates'),
    opt: opt !== null && typeof opt === 'object' && !Array.isArray(opt) ? (opt as Record<string, unknown>) : null,
    date: typeof date === 'string' ? date : null,
    top: root,
  };
}

function describeRoot(root: PyValue): string {
  if (root instanceof PyObject) return `an object of class ${root.className}`;
  if (root instanceof Map) return `a dict with keys [${[...root.keys()].slice(0, 8).map(String).join(', ')}]`;
  return `a ${root === null ? 'None' : typeof root === 'object' ? root.constructor.name : typeof root}`;
}

function modelOrStateDict(value: PyValue, archive: PtArchive, key: string): PtModel | null {
  if (value === null) return null;
  if (isStateDict(value)) return stateDictModel(value, archive);
  if (value instanceof PyObject) return readModel(value, archive, `'${key}'`);
  throw new PtError('BAD_MODEL', archive.file, `'${key}' is ${describeRoot(value)}, not a model or a state_dict`);
}

function stateDictModel(map: Map<PyValue, PyValue>, archive: PtArchive): PtModel {
  const stateDict: PtStateDict = {};
  for (const [name, tensor] of map) stateDict[String(name)] = readTensor(tensor as TorchTensor, archive, String(name));
  return { className: 'state_dict', stateDict, yaml: null, names: null, stride: null, nc: null };
}

function readTensor(tensor: TorchTensor, archive: PtArchive, name: string): PtTensor {
  return { shape: [...tensor.shape], dtype: tensor.storage.dtype, data: archive.values(tensor, name) };
}

/** A pickled DetectionModel: walk its modules into state_dict entries; read yaml, names, stride. */
function readModel(root: PyObject, archive: PtArchive, label: string): PtModel {
  const stateDict: PtStateDict = {};
  walkModule(root, '', archive, stateDict, label);
  const attrs = root.attrs;
  const yaml = toPlain(attrs.get('yaml') ?? null);
  const stride = attrs.get('stride');
  const nc = attrs.get('nc');
  return {
    className: root.className,
    stateDict,
    yaml: yaml !== null && typeof yaml === 'object' && !Array.isArray(yaml) ? (yaml as Record<string, unknown>) : null,
    names: readNames(attrs.get('names') ?? null),
    stride: stride instanceof TorchTensor ? Array.from(archive.values(stride, `${label}.stride`)) : null,
    nc: typeof nc === 'number' ? nc : null,
  };
}

function readNames(value: PyValue): string[] | null {
  const plain = toPlain(value);
  if (Array.isArray(plain)) return plain.map(String);
  if (plain !== null && typeof plain === 'object') {
    const byIndex = plain as Record<string, unknown>;
    return Object.keys(byIndex)
      .sort((a, b) => Number(a) - Number(b))
      .map((key) => String(byIndex[key]));
  }
  return null;
}

/**
 * nn.Module.state_dict(): the module's parameters (None skipped), its persistent buffers, then
 * each child under `<prefix><child>.`. Every module must be a class of the table: a class
 * outside it (or a non-module) is refused with its path.
 */
function walkModule(module: PyValue, prefix: string, archive: PtArchive, out: PtStateDict, label: string): void {
  const path = prefix ? `${label} module ${prefix.slice(0, -1)}` : label;
  if (!(module instanceof PyObject)) throw new PtError('BAD_MODEL', archive.file, `${path} is not a module`);
  if (!module.known)
    throw new PtError(
      'UNKNOWN_CLASS',
      archive.file,
      `${path} is a ${module.className}, which is not a torch.nn or YOLOv5 class this reader knows (nothing was executed; re-export the weights from a YOLOv5 model)`,
    );
  const attrs = module.attrs;
  const nonPersistent = attrs.get('_non_persistent_buffers_set');
  for (const key of ['_parameters', '_buffers']) {
    const entries = attrs.get(key);
    if (!(entries instanceof Map))
      throw new PtError(
        'BAD_MODEL',
        archive.file,
        `${path} (${module.className}) has no ${key}: not a pickled torch.nn.Module`,
      );
    for (const [name, tensor] of entries) {
      if (tensor === null || (key === '_buffers' && nonPersistent instanceof Set && nonPersistent.has(name))) continue;
      if (!(tensor instanceof TorchTensor))
        throw new PtError('BAD_MODEL', archive.file, `${path}.${String(name)} is not a tensor`);
      out[`${prefix}${String(name)}`] = readTensor(tensor, archive, `${prefix}${String(name)}`);
    }
  }
  const children = attrs.get('_modules');
  if (!(children instanceof Map)) return;
  for (const [name, child] of children) {
    if (child !== null) walkModule(child, `${prefix}${String(name)}.`, archive, out, label);
  }
}
