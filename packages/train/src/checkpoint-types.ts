// What a training checkpoint holds, whatever its file format: the metadata --resume and
// --weights need, and the tensors (model, EMA, optimizer buffers) in PyTorch layout, named by
// YOLOv5's state_dict names (`model.0.conv.weight`, `model.0.conv.weight/momentum_buffer`).
// Checkpoints hold no rank and no world size: everything in them is global, so a run can
// resume with another world size.

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface CheckpointMeta {
  /** Last completed epoch (0-based); -1 in a final, stripped file. */
  epoch: number;
  best_fitness: number;
  /** EMA update count (ModelEMA.updates); null when stripped. */
  updates: number | null;
  /** The optimizer's name and step count; null when stripped. */
  optimizer: { name: string; step: number } | null;
  /** The run's options (opt.yaml) and hyperparameters. */
  opt: Record<string, unknown>;
  hyp: Record<string, unknown>;
  /** The model definition (the parsed model YAML after nc/anchors overrides), to rebuild it from --weights. */
  model_yaml: Record<string, unknown>;
  names: string[];
  nc: number;
  /** Early-stopping state. */
  best_epoch: number;
  /** Per-class mAP (image weights) after the last validation. */
  maps: number[];
  date: string;
  /** Anything else worth keeping (e.g. the last results row). */
  extra?: Record<string, unknown>;
}

export interface Checkpoint {
  meta: CheckpointMeta;
  model: NamedTensor[];
  ema: NamedTensor[] | null;
  optimizer: NamedTensor[] | null;
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}
