// The pickled `models.yolo.DetectionModel` YOLOv5 v7.0 expects, built from our model plan and
// a state dict: the same module classes, attributes (Conv2d's kernel_size/stride/padding, BN's
// eps/momentum, Detect's nc/no/nl/na/grid/anchor_grid/stride, each layer's i/f/type/np, the
// root's yaml/save/names/stride/nc) and `_parameters` / `_buffers` / `_modules` that
// `torch.load` + `attempt_load`, detect.py, val.py and export.py use. Float tensors are fp16
// as in YOLOv5's checkpoints (num_batches_tracked stays int64).
import type { StateDict } from '../model.js';
import { planModel, type LayerPlan, type ModelYaml, type ModuleSpec } from '../model-yaml.js';
import { PyFloat, PyObject, PyOrderedDict, PyTuple, TensorOut, type PyValue } from './values.js';

export interface ModuleTreeOptions {
  /** nn.Module.training (YOLOv5 pickles `model` in train mode, `ema` in eval mode). */
  training: boolean;
  /** requires_grad of the parameters (false for the EMA and stripped files). */
  requiresGrad: boolean;
  names: readonly string[];
  /** The model's strides (from its dry run), e.g. [8, 16, 32]. */
  stride: readonly number[];
  /** DetectionModel.yaml_file (the cfg file name), e.g. 'yolov5n.yaml'. */
  yamlFile?: string;
  /** DetectionModel.hyp, as train.py attaches it. */
  hyp?: Record<string, unknown>;
}

/** Walks the plan, taking each tensor from the state dict by its YOLOv5 name. */
class TreeBuilder {
  constructor(
    private readonly stateDict: StateDict,
    private readonly opts: ModuleTreeOptions,
  ) {}

  /** torch.nn.Module's __dict__ as torch 1.13 pickles it, plus the class's own attributes. */
  module(
    className: string,
    parameters: [string, PyValue][],
    buffers: [string, PyValue][],
    children: [string, PyObject][],
    attrs: [string, PyValue][] = [],
  ): PyObject {
    const object = new PyObject(className, true);
    object.state = new Map<PyValue, PyValue>([
      ['training', this.opts.training],
      ['_parameters', new PyOrderedDict(parameters)],
      ['_buffers', new PyOrderedDict(buffers)],
      ['_non_persistent_buffers_set', new Set()],
      ['_backward_hooks', new PyOrderedDict()],
      ['_is_full_backward_hook', null],
      ['_forward_hooks', new PyOrderedDict()],
      ['_forward_pre_hooks', new PyOrderedDict()],
      ['_state_dict_hooks', new PyOrderedDict()],
      ['_load_state_dict_pre_hooks', new PyOrderedDict()],
      ['_load_state_dict_post_hooks', new PyOrderedDict()],
      ['_modules', new PyOrderedDict(children)],
      ...attrs,
    ]);
    return object;
  }

  /** The state dict entry `name` as a tensor to write; `shape` is what the module tree needs. */
  tensor(name: string, kind: 'parameter' | 'buffer', shape?: readonly number[]): TensorOut {
    const entry = this.stateDict[name];
    if (!entry) throw new Error(`state dict has no ${name} (the model yaml and the weights do not match)`);
    if (shape && (entry.shape.length !== shape.length || entry.shape.some((d, k) => d !== shape[k])))
      throw new Error(
        `state dict entry ${name} has shape [${entry.shape}], the model yaml gives [${shape}] (is the yaml's nc the model's?)`,
      );
    if (name.endsWith('num_batches_tracked')) return new TensorOut('int64', entry.shape, entry.data);
    return new TensorOut(
      'float16',
      entry.shape,
      entry.data,
      kind === 'parameter',
      kind === 'parameter' && this.opts.requiresGrad,
    );
  }

  conv2d(prefix: string, c1: number, c2: number, k: number, s: number, p: number, bias: boolean): PyObject {
    const pair = (v: number): PyTuple => new PyTuple([v, v]);
    return this.module(
      'torch.nn.modules.conv.Conv2d',
      [
        ['weight', this.tensor(`${prefix}.weight`, 'parameter', [c2, c1, k, k])],
        ['bias', bias ? this.tensor(`${prefix}.bias`, 'parameter', [c2]) : null],
      ],
      [],
      [],
      [
        ['in_channels', c1],
        ['out_channels', c2],
        ['kernel_size', pair(k)],
        ['stride', pair(s)],
        ['padding', pair(p)],
        ['dilation', pair(1)],
        ['transposed', false],
        ['output_padding', pair(0)],
        ['groups', 1],
        ['padding_mode', 'zeros'],
        ['_reversed_padding_repeated_twice', new PyTuple([p, p, p, p])],
      ],
    );
  }

  batchNorm(prefix: string, channels: number): PyObject {
    return this.module(
      'torch.nn.modules.batchnorm.BatchNorm2d',
      [
        ['weight', this.tensor(`${prefix}.weight`, 'parameter', [channels])],
        ['bias', this.tensor(`${prefix}.bias`, 'parameter', [channels])],
      ],
      [
        ['running_mean', this.tensor(`${prefix}.running_mean`, 'buffer', [channels])],
        ['running_var', this.tensor(`${prefix}.running_var`, 'buffer', [channels])],
        ['num_batches_tracked', this.tensor(`${prefix}.num_batches_tracked`, 'buffer')],
      ],
      [],
      [
        ['num_features', channels],
        ['eps', new PyFloat(0.001)],
        ['momentum', new PyFloat(0.03)],
        ['affine', true],
        ['track_running_stats', true],
      ],
    );
  }

  /** models.common.Conv: Conv2d(bias=False) + BatchNorm2d + SiLU (Identity when act is False). */
  conv(prefix: string, c1: number, c2: number, k: number, s: number, p: number | null, act = true): PyObject {
    const pad = p ?? Math.floor(k / 2);
    const activation = act
      ? this.module('torch.nn.modules.activation.SiLU', [], [], [], [['inplace', true]])
      : this.module('torch.nn.modules.linear.Identity', [], [], []);
    return this.module(
      'models.common.Conv',
      [],
      [],
      [
        ['conv', this.conv2d(`${prefix}.conv`, c1, c2, k, s, pad, false)],
        ['bn', this.batchNorm(`${prefix}.bn`, c2)],
        ['act', activation],
      ],
    );
  }

  bottleneck(prefix: string, c1: number, c2: number, shortcut: boolean, e: number): PyObject {
    const hidden = Math.trunc(c2 * e);
    return this.module(
      'models.common.Bottleneck',
      [],
      [],
      [
        ['cv1', this.conv(`${prefix}.cv1`, c1, hidden, 1, 1, null)],
        ['cv2', this.conv(`${prefix}.cv2`, hidden, c2, 3, 1, null)],
      ],
      [['add', shortcut && c1 === c2]],
    );
  }

  maxPool(k: number): PyObject {
    return this.module(
      'torch.nn.modules.pooling.MaxPool2d',
      [],
      [],
      [],
      [
        ['kernel_size', k],
        ['stride', 1],
        ['padding', Math.floor(k / 2)],
        ['dilation', 1],
        ['return_indices', false],
        ['ceil_mode', false],
      ],
    );
  }

  container(className: 'Sequential' | 'ModuleList', items: PyObject[]): PyObject {
    return this.module(
      `torch.nn.modules.container.${className}`,
      [],
      [],
      items.map((item, k) => [String(k), item]),
    );
  }

  /** One layer's module (without the i/f/type/np attributes). */
  block(prefix: string, spec: Exclude<ModuleSpec, { type: 'Detect' }>): PyObject {
    switch (spec.type) {
      case 'Conv':
        return this.conv(prefix, spec.c1, spec.c2, spec.k, spec.s, spec.p, spec.act);
      case 'Focus':
        return this.module(
          'models.common.Focus',
          [],
          [],
          [['conv', this.conv(`${prefix}.conv`, spec.c1 * 4, spec.c2, spec.k, spec.s, spec.p, spec.act)]],
        );
      case 'Bottleneck':
        return this.bottleneck(prefix, spec.c1, spec.c2, spec.shortcut, spec.e);
      case 'C3':
        return this.c3(prefix, spec);
      case 'SPPF':
        return this.sppf(prefix, spec);
      case 'SPP':
        return this.spp(prefix, spec);
      case 'Concat':
        return this.module('models.common.Concat', [], [], [], [['d', spec.dim]]);
      case 'Upsample':
        return this.upsample(spec.scale);
    }
  }

  /** models.common.C3: cv1, cv2, cv3 and its n Bottlenecks (e=1.0) in an nn.Sequential `m`. */
  c3(prefix: string, spec: Extract<ModuleSpec, { type: 'C3' }>): PyObject {
    const hidden = Math.trunc(spec.c2 * spec.e);
    const inner = Array.from({ length: spec.n }, (_, k) =>
      this.bottleneck(`${prefix}.m.${k}`, hidden, hidden, spec.shortcut, 1.0),
    );
    return this.module(
      'models.common.C3',
      [],
      [],
      [
        ['cv1', this.conv(`${prefix}.cv1`, spec.c1, hidden, 1, 1, null)],
        ['cv2', this.conv(`${prefix}.cv2`, spec.c1, hidden, 1, 1, null)],
        ['cv3', this.conv(`${prefix}.cv3`, 2 * hidden, spec.c2, 1, 1, null)],
        ['m', this.container('Sequential', inner)],
      ],
    );
  }

  /** models.common.SPPF: cv1, cv2 and the one MaxPool2d `m` it applies three times. */
  sppf(prefix: string, spec: Extract<ModuleSpec, { type: 'SPPF' }>): PyObject {
    const hidden = Math.trunc(spec.c1 / 2);
    return this.module(
      'models.common.SPPF',
      [],
      [],
      [
        ['cv1', this.conv(`${prefix}.cv1`, spec.c1, hidden, 1, 1, null)],
        ['cv2', this.conv(`${prefix}.cv2`, hidden * 4, spec.c2, 1, 1, null)],
        ['m', this.maxPool(spec.k)],
      ],
    );
  }

  /** models.common.SPP: cv1, cv2 and one MaxPool2d per kernel in an nn.ModuleList `m`. */
  spp(prefix: string, spec: Extract<ModuleSpec, { type: 'SPP' }>): PyObject {
    const hidden = Math.trunc(spec.c1 / 2);
    return this.module(
      'models.common.SPP',
      [],
      [],
      [
        ['cv1', this.conv(`${prefix}.cv1`, spec.c1, hidden, 1, 1, null)],
        ['cv2', this.conv(`${prefix}.cv2`, hidden * (spec.k.length + 1), spec.c2, 1, 1, null)],
        [
          'm',
          this.container(
            'ModuleList',
            spec.k.map((k) => this.maxPool(k)),
          ),
        ],
      ],
    );
  }

  /** nn.Upsample(None, scale, 'nearest') as YOLOv5's YAML builds it. */
  upsample(scale: number): PyObject {
    return this.module(
      'torch.nn.modules.upsampling.Upsample',
      [],
      [],
      [],
      [
        ['name', 'Upsample'],
        ['size', null],
        ['scale_factor', new PyFloat(scale)],
        ['mode', 'nearest'],
        ['align_corners', null],
        ['recompute_scale_factor', null],
      ],
    );
  }

  detect(prefix: string, spec: Extract<ModuleSpec, { type: 'Detect' }>): PyObject {
    const nl = spec.ch.length;
    const na = spec.anchors[0]!.length / 2;
    const no = spec.nc + 5;
    const empty = (): TensorOut => new TensorOut('float16', [0], []);
    const convs = spec.ch.map((c, k) => this.conv2d(`${prefix}.m.${k}`, c, no * na, 1, 1, 0, true));
    return this.module(
      'models.yolo.Detect',
      [],
      [['anchors', this.tensor(`${prefix}.anchors`, 'buffer', [nl, na, 2])]],
      [['m', this.container('ModuleList', convs)]],
      [
        ['nc', spec.nc],
        ['no', no],
        ['nl', nl],
        ['na', na],
        ['grid', Array.from({ length: nl }, empty)],
        ['anchor_grid', Array.from({ length: nl }, empty)],
        ['inplace', true],
        ['stride', new TensorOut('float16', [nl], this.opts.stride)],
      ],
    );
  }

  /** A top-level layer with parse_model's attributes: i, f, type (the class path), np (parameter count). */
  layer(plan: LayerPlan): PyObject {
    const prefix = `model.${plan.i}`;
    const spec = plan.spec;
    let module: PyObject;
    if (spec.type === 'Detect') module = this.detect(prefix, spec);
    else if (plan.repeats > 1)
      module = this.container(
        'Sequential',
        Array.from({ length: plan.repeats }, (_, j) => this.block(`${prefix}.${j}`, spec)),
      );
    else module = this.block(prefix, spec);
    const parameters = Object.entries(this.stateDict)
      .filter(
        ([name]) =>
          name.startsWith(`${prefix}.`) && !/(running_mean|running_var|num_batches_tracked|anchors)$/.test(name),
      )
      .reduce((sum, [, t]) => sum + t.data.length, 0);
    (module.state as Map<PyValue, PyValue>)
      .set('i', plan.i)
      .set('f', Array.isArray(plan.from) ? [...plan.from] : plan.from)
      .set('type', CLASS_PATH[spec.type])
      .set('np', parameters);
    return module;
  }
}

const CLASS_PATH: Record<ModuleSpec['type'], string> = {
  Conv: 'models.common.Conv',
  Focus: 'models.common.Focus',
  Bottleneck: 'models.common.Bottleneck',
  C3: 'models.common.C3',
  SPPF: 'models.common.SPPF',
  SPP: 'models.common.SPP',
  Concat: 'models.common.Concat',
  Upsample: 'torch.nn.modules.upsampling.Upsample',
  Detect: 'models.yolo.Detect',
};

/**
 * The Detect layer's strides from the plan alone (no dry run): each layer's output stride is its
 * first input's, times a Conv's stride (Focus: times 2 more), divided by an Upsample's scale.
 */
export function planStrides(plan: readonly LayerPlan[]): number[] {
  const strides: number[] = [];
  for (const layer of plan) {
    const froms = (Array.isArray(layer.from) ? layer.from : [layer.from]).map((f) => (f < 0 ? layer.i + f : f));
    const input = froms[0]! < 0 ? 1 : strides[froms[0]!]!;
    const spec = layer.spec;
    if (spec.type === 'Detect') return froms.map((f) => strides[f]!);
    strides.push(
      spec.type === 'Conv'
        ? input * spec.s
        : spec.type === 'Focus'
          ? input * 2 * spec.s
          : spec.type === 'Upsample'
            ? input / spec.scale
            : input,
    );
  }
  throw new Error('model has no Detect layer');
}

/** JSON-like data (yaml, hyp, opt) as Python dicts/lists. */
export function fromPlain(value: unknown): PyValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map(fromPlain);
  if (typeof value === 'object')
    return new Map(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, fromPlain(v)]));
  return String(value);
}

/** The `models.yolo.DetectionModel` object of a YOLOv5 checkpoint, for our yaml and weights. */
export function detectionModelObject(yaml: ModelYaml, stateDict: StateDict, opts: ModuleTreeOptions): PyObject {
  const { plan, nc } = planModel(yaml);
  const builder = new TreeBuilder(stateDict, opts);
  const layers = plan.map((layer) => builder.layer(layer));
  const save = new Set<number>();
  for (const layer of plan)
    for (const from of Array.isArray(layer.from) ? layer.from : [layer.from])
      if (from !== -1) save.add(from < 0 ? layer.i + from : from);
  return builder.module(
    'models.yolo.DetectionModel',
    [],
    [],
    [['model', builder.container('Sequential', layers)]],
    [
      ['yaml_file', opts.yamlFile ?? 'model.yaml'],
      ['yaml', fromPlain(yaml)],
      ['save', [...save].sort((a, b) => a - b)],
      ['names', new Map(opts.names.map((name, k) => [k, name]))],
      ['inplace', true],
      ['stride', new TensorOut('float32', [opts.stride.length], opts.stride)],
      ['nc', nc],
      ...(opts.hyp ? ([['hyp', fromPlain(opts.hyp)]] as [string, PyValue][]) : []),
    ],
  );
}
