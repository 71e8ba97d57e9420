// Writing a YOLOv5 v7.0 checkpoint: {epoch, best_fitness, model, ema, updates, optimizer, opt,
// git, date} with `model` / `ema` as fp16 DetectionModels (module-tree.ts), plus any extra
// top-level keys (our exact-resume data); YOLOv5 reads the keys it knows and ignores the rest.
import type { StateDict } from '../model.js';
import type { ModelYaml } from '../model-yaml.js';
import { writePtArchive } from './archive.js';
import { detectionModelObject, fromPlain, planStrides } from './module-tree.js';
import { planModel } from '../model-yaml.js';
import { PyFloat, TensorOut, type PyValue } from './values.js';

export interface Yolov5CheckpointInput {
  /** The model definition after nc/anchors overrides (DetectionModel.yaml). */
  yaml: ModelYaml;
  /** DetectionModel.yaml_file, e.g. 'yolov5n.yaml'. */
  yamlFile?: string;
  names: readonly string[];
  /** The model's strides; derived from the yaml when absent. */
  stride?: readonly number[];
  /** PyTorch-layout weights (fp32; written as fp16 like YOLOv5). null writes None. */
  model: StateDict | null;
  ema: StateDict | null;
  /** Last finished epoch, -1 in a final (stripped) file. */
  epoch: number;
  bestFitness: number | null;
  updates: number | null;
  opt: Record<string, unknown>;
  hyp?: Record<string, unknown>;
  git?: { remote: string | null; branch: string | null; commit: string | null } | null;
  /** ISO date (train.py: datetime.now().isoformat()). */
  date: string;
  /** Extra top-level keys (tensors as TensorOut). */
  extra?: ReadonlyMap<string, PyValue>;
  /** Folder name inside the zip (torch uses the file's stem). */
  archiveName?: string;
}

/** The whole .pt file as bytes (write it atomically: temp file, fsync, rename). */
export function encodeYolov5Checkpoint(input: Yolov5CheckpointInput): Buffer {
  const stride = input.stride ?? planStrides(planModel(input.yaml).plan);
  const modelObject = (stateDict: StateDict | null, training: boolean): PyValue =>
    stateDict
      ? detectionModelObject(input.yaml, stateDict, {
          training,
          requiresGrad: training,
          names: input.names,
          stride,
          ...(input.yamlFile !== undefined ? { yamlFile: input.yamlFile } : {}),
          ...(input.hyp ? { hyp: input.hyp } : {}),
        })
      : null;
  const top = new Map<PyValue, PyValue>([
    ['epoch', input.epoch],
    ['best_fitness', input.bestFitness === null ? null : new PyFloat(input.bestFitness)],
    // An unstripped YOLOv5 file pickles `model` in train mode and the EMA in eval mode.
    ['model', modelObject(input.model, input.ema !== null)],
    ['ema', modelObject(input.ema, false)],
    ['updates', input.updates],
    ['optimizer', null],
    ['opt', fromPlain(input.opt)],
    ['git', input.git === undefined || input.git === null ? null : fromPlain(input.git)],
    ['date', input.date],
  ]);
  for (const [key, value] of input.extra ?? []) top.set(key, value);
  return writePtArchive(top, input.archiveName ?? 'archive');
}

/** A fp32 state dict as a Python dict of float32 tensors (bit-exact; for extra keys). */
export function float32Tensors(stateDict: StateDict): Map<PyValue, PyValue> {
  return new Map(Object.entries(stateDict).map(([name, t]) => [name, new TensorOut('float32', t.shape, t.data)]));
}
