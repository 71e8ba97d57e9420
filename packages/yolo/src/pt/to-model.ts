// From a checkpoint's model to ours: rebuild from its `yaml` (what `--weights` alone does in
// YOLOv5), load the state_dict (fp16 already widened; conv weights OIHW -> HWIO in
// loadStateDict), and train.py's `intersect_dicts` transfer for fine-tuning.
import { createModel, type CreateModelOptions, type StateDict, type YoloModel } from '../model.js';
import { readModelYaml, type ModelYaml } from '../model-yaml.js';
import { PtError } from './errors.js';
import type { PtCheckpoint, PtModel, PtStateDict } from './read-checkpoint.js';

/** Which weights to take: `ema` when present, else `model` (attempt_load's choice), or one of them. */
export type WeightsSource = 'ema-or-model' | 'model' | 'ema';

export function checkpointModel(ckpt: PtCheckpoint, from: WeightsSource = 'ema-or-model'): PtModel {
  const model = from === 'model' ? ckpt.model : from === 'ema' ? ckpt.ema : (ckpt.ema ?? ckpt.model);
  if (!model)
    throw new PtError(
      'BAD_MODEL',
      ckpt.file,
      from === 'ema-or-model' ? 'holds neither model nor ema weights' : `has no ${from} weights`,
    );
  return model;
}

/** The model definition pickled in the checkpoint (DetectionModel.yaml). */
export function checkpointYaml(model: PtModel, file: string): ModelYaml {
  if (!model.yaml)
    throw new PtError(
      'BAD_MODEL',
      file,
      `${model.className === 'state_dict' ? 'is a bare state_dict' : 'has no model yaml'}: give --cfg with the model's YAML to load it`,
    );
  try {
    return readModelYaml(model.yaml as unknown as ModelYaml);
  } catch (err) {
    throw new PtError('BAD_MODEL', file, `its model yaml is not one we can build: ${(err as Error).message}`);
  }
}

/** Plain state dict (our StateTensor form) of a checkpoint model. */
export function toStateDict(stateDict: PtStateDict): StateDict {
  const out: StateDict = {};
  for (const [name, tensor] of Object.entries(stateDict)) out[name] = { shape: tensor.shape, data: tensor.data };
  return out;
}

/** Build our model from the checkpoint's yaml and load every weight (strict: all names and shapes). */
export function modelFromCheckpoint(
  ckpt: PtCheckpoint,
  opts: CreateModelOptions & { from?: WeightsSource } = {},
): YoloModel {
  const source = checkpointModel(ckpt, opts.from);
  const model = createModel(checkpointYaml(source, ckpt.file), opts);
  try {
    loadStrict(model, source.stateDict, ckpt.file);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/** loadStateDict with every mismatch reported as a PtError naming the file. */
export function loadStrict(model: YoloModel, stateDict: PtStateDict, file: string): void {
  const transfer = intersectDicts(stateDict, model.stateDict(), []);
  const ours = Object.keys(model.stateDict());
  if (transfer.skipped.length || transfer.missing.length) {
    const first = transfer.skipped[0] ?? `${transfer.missing[0]} missing`;
    throw new PtError(
      'SHAPE_MISMATCH',
      file,
      `does not fit the model: ${transfer.skipped.length} entries differ in shape, ${transfer.missing.length} of ${ours.length} are missing (first: ${first})`,
    );
  }
  model.loadStateDict(toStateDict(stateDict), { strict: false });
}

export interface Transfer {
  /** Entries to load: same name and shape in both, and no excluded substring. */
  stateDict: StateDict;
  /** `name: [file shape] vs [model shape]` of same-named entries whose shapes differ. */
  skipped: string[];
  /** Model entries the file does not have. */
  missing: string[];
}

/**
 * train.py's `intersect_dicts(csd, model.state_dict(), exclude)`: keep entries present in both
 * with equal shapes whose names contain none of `exclude` (train.py excludes ['anchor'] when
 * --cfg or hyp.anchors is given and not resuming).
 */
export function intersectDicts(file: PtStateDict, model: StateDict, exclude: readonly string[]): Transfer {
  const stateDict: StateDict = {};
  const skipped: string[] = [];
  for (const [name, tensor] of Object.entries(file)) {
    const target = model[name];
    if (!target || exclude.some((x) => name.includes(x))) continue;
    if (target.shape.length !== tensor.shape.length || target.shape.some((d, k) => d !== tensor.shape[k])) {
      skipped.push(`${name}: [${tensor.shape}] vs [${target.shape}]`);
      continue;
    }
    stateDict[name] = { shape: tensor.shape, data: tensor.data };
  }
  const missing = Object.keys(model).filter((name) => !(name in file));
  return { stateDict, skipped, missing };
}
