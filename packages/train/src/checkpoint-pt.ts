// weights/last.pt, best.pt, epoch{n}.pt as real YOLOv5 v7.0 checkpoints.
//
// The file is what YOLOv5's train.py writes ({epoch, best_fitness, model, ema, updates,
// optimizer, opt, git, date}, `model`/`ema` fp16 DetectionModels, `optimizer` a torch
// optimizer state_dict), so detect.py / val.py / export.py / train.py --weights load it; one
// extra key, `yolo_launch`, carries what exact resume needs and YOLOv5 ignores: the metadata
// (JSON) and every tensor in float32 (model, EMA, optimizer buffers), bit-identical.
// Integrity: every zip record has a CRC-32 checked on load, so a truncated or corrupted file
// is refused by name; files are written atomically (checkpoint.ts).
//
// Reading also accepts YOLOv5's own files (release weights, a YOLOv5 run's last.pt / best.pt):
// fp16 weights widened to fp32, metadata from the file's opt / model attributes, the
// optimizer's momentum buffers mapped from torch's parameter indices to our names.
import * as yolo from '@yolo-launch/yolo';
import { CheckpointError, type Checkpoint, type CheckpointMeta, type NamedTensor } from './checkpoint-types.js';

/** The extra top-level key holding our exact-resume data. */
export const RESUME_KEY = 'yolo_launch';
const RESUME_FORMAT = 'yolo-launch-checkpoint';
const RESUME_VERSION = 2;

function tensorMap(list: readonly NamedTensor[]): Map<yolo.PyValue, yolo.PyValue> {
  return new Map(
    list.map((t) => [t.name, new yolo.TensorOut(t.data instanceof Int32Array ? 'int32' : 'float32', t.shape, t.data)]),
  );
}

function stateDictOf(list: readonly NamedTensor[]): yolo.StateDict {
  return Object.fromEntries(list.map((t) => [t.name, { shape: t.shape, data: Float32Array.from(t.data) }]));
}

/** Our checkpoint as a YOLOv5 .pt (bytes; write them with writeFileAtomic). */
export function encodePtCheckpoint(ckpt: Checkpoint, archiveName = 'archive'): Buffer {
  const meta = ckpt.meta;
  // DetectionModel.yaml holds the overrides the model was built with (nc from the dataset,
  // hyp.anchors), as YOLOv5 writes them into it.
  const anchors =
    typeof meta.hyp.anchors === 'number' && meta.hyp.anchors > 0 ? { anchors: Math.round(meta.hyp.anchors) } : {};
  const yaml = yolo.readModelYaml({ ...(meta.model_yaml as unknown as yolo.ModelYaml), nc: meta.nc, ...anchors });
  const stride = Array.isArray(meta.extra?.stride) ? (meta.extra.stride as number[]) : undefined;
  const resume = new Map<yolo.PyValue, yolo.PyValue>([
    ['format', RESUME_FORMAT],
    ['version', RESUME_VERSION],
    ['meta', JSON.stringify(meta)],
    ['model', tensorMap(ckpt.model)],
    ['ema', ckpt.ema ? tensorMap(ckpt.ema) : null],
    ['optimizer', ckpt.optimizer ? tensorMap(ckpt.optimizer) : null],
  ]);
  return yolo.encodeYolov5Checkpoint({
    yaml,
    yamlFile: typeof meta.opt.cfg === 'string' && meta.opt.cfg ? meta.opt.cfg.split(/[\\/]/).pop()! : 'model.yaml',
    names: meta.names,
    ...(stride ? { stride } : {}),
    model: stateDictOf(ckpt.model),
    ema: ckpt.ema ? stateDictOf(ckpt.ema) : null,
    epoch: meta.epoch,
    bestFitness: meta.best_fitness,
    updates: meta.updates,
    opt: { ...meta.opt, hyp: meta.hyp },
    hyp: meta.hyp,
    git: null,
    date: meta.date,
    extra: new Map([[RESUME_KEY, resume]]),
    archiveName,
  });
}

/** Read a .pt: ours (exact, from the resume key) or YOLOv5's own. Errors name the file. */
export function decodePtCheckpoint(bytes: Uint8Array, file: string): Checkpoint {
  let pt: yolo.PtCheckpoint;
  try {
    pt = yolo.readPt(bytes, file);
  } catch (err) {
    if (err instanceof yolo.PtError && (err.code === 'TRUNCATED' || err.code === 'CORRUPT'))
      throw new CheckpointError(`${file} is corrupt or truncated: ${err.message.slice(file.length + 2)}`);
    if (err instanceof yolo.PtError) throw new CheckpointError(err.message);
    throw err;
  }
  const resume = pt.top.get(RESUME_KEY);
  if (resume instanceof Map) return fromResumeKey(resume, pt);
  return fromYolov5(pt);
}

function readTensors(value: yolo.PyValue | undefined, pt: yolo.PtCheckpoint, section: string): NamedTensor[] {
  if (!(value instanceof Map)) throw new CheckpointError(`${pt.file}: ${RESUME_KEY}.${section} is missing or damaged`);
  const out: NamedTensor[] = [];
  for (const [name, tensor] of value) {
    if (!(tensor instanceof yolo.TorchTensor))
      throw new CheckpointError(`${pt.file}: ${RESUME_KEY}.${section}.${String(name)} is not a tensor`);
    const values = pt.archive.values(tensor, `${section}.${String(name)}`);
    out.push({
      name: String(name),
      shape: [...tensor.shape],
      data: tensor.storage.dtype === 'int32' ? Int32Array.from(values) : values,
    });
  }
  return out;
}

function fromResumeKey(resume: Map<yolo.PyValue, yolo.PyValue>, pt: yolo.PtCheckpoint): Checkpoint {
  if (resume.get('format') !== RESUME_FORMAT || resume.get('version') !== RESUME_VERSION)
    throw new CheckpointError(
      `${pt.file}: unsupported ${RESUME_KEY} data (format ${String(resume.get('format'))} version ${String(resume.get('version'))})`,
    );
  const meta = JSON.parse(String(resume.get('meta'))) as CheckpointMeta;
  return {
    meta,
    model: readTensors(resume.get('model'), pt, 'model'),
    ema: resume.get('ema') === null ? null : readTensors(resume.get('ema'), pt, 'ema'),
    optimizer: resume.get('optimizer') === null ? null : readTensors(resume.get('optimizer'), pt, 'optimizer'),
  };
}

function namedTensors(model: yolo.PtModel): NamedTensor[] {
  return Object.entries(model.stateDict).map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
}

/** A YOLOv5 file: metadata from its opt and model attributes; fp16 weights widened. */
function fromYolov5(pt: yolo.PtCheckpoint): Checkpoint {
  const model = pt.model ?? pt.ema;
  if (!model) throw new CheckpointError(`${pt.file}: holds no model weights`);
  if (!model.yaml)
    throw new CheckpointError(
      `${pt.file}: a bare state_dict has no model definition; train with --cfg <model.yaml> and load it as weights from a YOLOv5 checkpoint instead`,
    );
  const opt = pt.opt ?? {};
  const hyp = (opt.hyp !== null && typeof opt.hyp === 'object' ? opt.hyp : {}) as Record<string, unknown>;
  const nc = model.nc ?? Number(model.yaml.nc);
  const optimizer = yolov5Optimizer(pt, model, String(opt.optimizer ?? 'SGD'));
  const meta: CheckpointMeta = {
    epoch: pt.epoch ?? -1,
    best_fitness: pt.bestFitness ?? 0,
    updates: pt.updates,
    optimizer: optimizer ? { name: optimizer.name, step: optimizer.step } : null,
    opt,
    hyp,
    model_yaml: model.yaml,
    names: model.names ?? Array.from({ length: nc }, (_, k) => `class${k}`),
    nc,
    best_epoch: pt.epoch ?? -1,
    maps: [],
    date: pt.date ?? '',
    extra: { source: 'yolov5', ...(model.stride ? { stride: model.stride } : {}) },
  };
  return {
    meta,
    model: namedTensors(model),
    ema: pt.ema ? namedTensors(pt.ema) : null,
    optimizer: optimizer?.tensors ?? null,
  };
}

/**
 * YOLOv5's optimizer.state_dict(): state keyed by parameter index over the param groups of
 * smart_optimizer (biases, then weights with decay, then BatchNorm weights, each in module
 * order), which is our state_dict order filtered the same way.
 */
function yolov5Optimizer(
  pt: yolo.PtCheckpoint,
  model: yolo.PtModel,
  name: string,
): { name: string; step: number; tensors: NamedTensor[] } | null {
  const saved = pt.top.get('optimizer');
  if (!(saved instanceof Map)) return null;
  const state = saved.get('state');
  if (!(state instanceof Map)) return null;
  const params = Object.keys(model.stateDict).filter(
    (n) => !/\.(running_mean|running_var|num_batches_tracked|anchors)$/.test(n),
  );
  const order = [
    ...params.filter((n) => n.endsWith('.bias')),
    ...params.filter((n) => n.endsWith('.weight') && !n.includes('.bn.')),
    ...params.filter((n) => n.endsWith('.bn.weight')),
  ];
  const tensors: NamedTensor[] = [];
  let step = pt.updates ?? 0;
  for (const [index, buffers] of state) {
    const param = order[Number(index)];
    if (!param || !(buffers instanceof Map)) continue;
    for (const [key, value] of buffers) {
      if (key === 'step')
        step = value instanceof yolo.TorchTensor ? pt.archive.values(value, 'step')[0]! : Number(value);
      else if (value instanceof yolo.TorchTensor)
        tensors.push({
          name: `${param}/${String(key)}`,
          shape: [...value.shape],
          data: pt.archive.values(value, `optimizer ${param}/${String(key)}`),
        });
    }
  }
  return { name, step, tensors };
}
