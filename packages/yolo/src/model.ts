/**
 * models.yolo.Model (DetectionModel): the YAML graph built from nn/ blocks, with YOLOv5
 * state_dict names, strides from a dry forward, anchors in grid units, anchor order check
 * and Detect bias initialisation. Activations are NHWC ([bs, H, W, C]) throughout.
 */
import { tf } from '@yolo-launch/backend';
import { localMoments, type ForwardContext, type MomentsFn } from './nn/batchnorm.js';
import { Bottleneck, C3, Concat, ConvBlock, Focus, SPP, SPPF, Sequential, Upsample, type Block } from './nn/blocks.js';
import { Detect } from './nn/detect.js';
import { StateRegistry, type EntryRole, type StateEntry } from './nn/state.js';
import {
  planModel,
  readModelYaml,
  type LayerPlan,
  type ModelOverrides,
  type ModelYaml,
  type ModuleSpec,
} from './model-yaml.js';
import { Rng } from './util/rng.js';

export interface CreateModelOptions extends ModelOverrides {
  /** Seed of the (PyTorch-style uniform) weight init; every rank gets the same weights. Default 0. */
  seed?: number;
  /** BatchNorm batch-statistics function (default: local tf.moments); ddp injects SyncBatchNorm here. */
  moments?: MomentsFn;
  /** Side of the zero image used for the stride dry-run (any multiple of the largest stride). Default 64. */
  strideProbe?: number;
}

/** A trainable tensor with its YOLOv5 state_dict name. Conv weights are HWIO (see README). */
export interface NamedParameter {
  readonly name: string;
  readonly role: EntryRole;
  readonly variable: tf.Variable;
}

/** A non-trainable tensor (BatchNorm running_mean / running_var). */
export interface NamedBuffer {
  readonly name: string;
  readonly role: EntryRole;
  readonly variable: tf.Variable;
}

/** Plain-data tensor in PyTorch layout (conv weights OIHW), row-major. */
export interface StateTensor {
  shape: number[];
  data: Float32Array;
}
/** The model's state_dict: every YOLOv5 entry, in PyTorch order (object insertion order). */
export type StateDict = Record<string, StateTensor>;

/**
 * train.py's optimizer groups (smart_optimizer): group 0 = all biases (no decay),
 * group 1 = conv weights (with decay), group 2 = BatchNorm weights (no decay).
 */
export interface ParamGroup {
  readonly kind: 'bias' | 'weight' | 'bn_weight';
  readonly weightDecay: number;
  readonly params: NamedParameter[];
}

export interface LayerInfo {
  i: number;
  from: number | number[];
  n: number;
  params: number;
  module: string;
  args: string;
}

/** Sees a parameter's gradient as soon as the backward produced it (see forwardBackward). */
export type GradientHook = (variable: tf.Variable, grad: tf.Tensor) => void;

/** The first layer with trainable parameters (layers.length when none): nothing below it needs a backward. */
function firstTrainedLayer(layerVars: readonly NamedParameter[][]): number {
  const first = layerVars.findIndex((vars) => vars.length > 0);
  return first < 0 ? layerVars.length : first;
}

export class YoloModel {
  readonly yaml: ModelYaml;
  readonly nc: number;
  readonly ch: number;
  readonly detect: Detect;
  readonly plan: LayerPlan[];
  private readonly blocks: Block[] = [];
  private readonly froms: number[][] = [];
  private readonly save = new Set<number>();
  private readonly entries: StateEntry[];
  private moments: MomentsFn;

  constructor(cfg: string | ModelYaml, opts: CreateModelOptions = {}) {
    this.yaml = readModelYaml(cfg);
    const { plan, nc, anchors, ch } = planModel(this.yaml, opts);
    this.plan = plan;
    this.nc = nc;
    this.ch = ch;
    this.moments = opts.moments ?? localMoments;
    const reg = new StateRegistry(new Rng(opts.seed ?? 0));
    let detect: Detect | null = null;
    for (const layer of plan) {
      const prefix = `model.${layer.i}`;
      const froms = (Array.isArray(layer.from) ? layer.from : [layer.from]).map((f) =>
        f === -1 ? -1 : f < 0 ? layer.i + f : f,
      );
      this.froms.push(froms);
      froms.filter((f) => f !== -1).forEach((f) => this.save.add(f));
      if (layer.spec.type === 'Detect') {
        detect = new Detect(reg, prefix, layer.spec.nc, anchors, layer.spec.ch);
        continue;
      }
      const spec = layer.spec;
      if (layer.repeats > 1) {
        const inner: Block[] = [];
        for (let j = 0; j < layer.repeats; j++) inner.push(makeBlock(reg, `${prefix}.${j}`, spec));
        this.blocks.push(new Sequential(inner));
      } else this.blocks.push(makeBlock(reg, prefix, spec));
    }
    if (!detect) throw new Error('model has no Detect layer');
    this.detect = detect;
    this.entries = reg.entries;
    this.initStrides(opts.strideProbe ?? 64);
  }

  get nl(): number {
    return this.detect.nl;
  }
  get na(): number {
    return this.detect.na;
  }
  /** 5 + nc: outputs per anchor. */
  get no(): number {
    return this.detect.no;
  }
  get stride(): number[] {
    return [...this.detect.stride];
  }
  /** model.24.anchors: [nl, na, 2] flat, grid units. */
  get anchors(): Float32Array {
    return Float32Array.from(this.detect.anchors);
  }
  /** Anchors in pixels (anchors * stride), [nl, na, 2] flat. */
  get anchorsPixels(): Float32Array {
    const a = this.anchors;
    const per = this.na * 2;
    return a.map((v, k) => v * this.detect.stride[Math.floor(k / per)]!);
  }

  /** Strides by a dry forward (s / ny), then check_anchor_order, anchors /= stride, _initialize_biases. */
  private initStrides(s: number): void {
    const shapes = tf.tidy(() => {
      const ctx: ForwardContext = { training: false, updateStats: false, moments: this.moments };
      const raw = this.detect.forwardRaw(this.runBody(tf.zeros([1, s, s, this.ch]) as tf.Tensor4D, ctx));
      return raw.map((r) => r.shape[2]);
    });
    this.detect.stride = shapes.map((ny) => s / ny);
    this.detect.anchors = checkAnchorOrder(this.detect.anchors, this.detect.stride, this.na);
    this.detect.anchors = this.detect.anchors.map((v, k) => v / this.detect.stride[Math.floor(k / (this.na * 2))]!);
    this.detect.clearCache();
    this.detect.initializeBiases();
  }

  /**
   * Replace the anchors (pixels, [nl*na*2]) as AutoAnchor does: order check against the
   * strides, then store in grid units.
   */
  setAnchorsPixels(pixels: ArrayLike<number>): void {
    if (pixels.length !== this.nl * this.na * 2)
      throw new Error(`setAnchorsPixels: expected ${this.nl * this.na * 2} values, got ${pixels.length}`);
    const a = checkAnchorOrder(Float32Array.from(pixels), this.detect.stride, this.na);
    this.detect.anchors = a.map((v, k) => v / this.detect.stride[Math.floor(k / (this.na * 2))]!);
    this.detect.clearCache();
  }

  /** Use another BatchNorm moments function (e.g. ddp's SyncBatchNorm). */
  setMomentsFn(fn: MomentsFn): void {
    this.moments = fn;
  }

  private runBody(x: tf.Tensor4D, ctx: ForwardContext, onLayer?: (i: number, y: tf.Tensor4D) => void): tf.Tensor4D[] {
    if (x.rank !== 4 || x.shape[3] !== this.ch)
      throw new Error(`model input must be NHWC [bs, H, W, ${this.ch}], got [${x.shape}]`);
    const gs = this.detect.stride.length ? Math.max(...this.detect.stride) : 1;
    if (x.shape[1] % gs || x.shape[2] % gs)
      throw new Error(
        `image size ${x.shape[1]}x${x.shape[2]} must be a multiple of the max stride ${gs} (letterbox or check_img_size first)`,
      );
    // Without a gradient tape (eval) every layer runs in its own tidy and each output is freed
    // after its last consumer: the peak is a few activations instead of all of them.
    const frugal = !ctx.training;
    const L = this.blocks.length;
    const outs: (tf.Tensor4D | null)[] = new Array(L).fill(null);
    const src = (i: number, f: number): number => (f === -1 ? i - 1 : f);
    const lastUse = new Array(L).fill(-1);
    for (let i = 0; i <= L; i++)
      for (const f of this.froms[i]!) if (src(i, f) >= 0) lastUse[src(i, f)] = Math.max(lastUse[src(i, f)], i);
    for (let i = 0; i < L; i++) {
      const ins = this.froms[i]!.map((f) => (src(i, f) < 0 ? x : outs[src(i, f)]!));
      const y = frugal ? tf.tidy(() => this.blocks[i]!.forward(ins, ctx)) : this.blocks[i]!.forward(ins, ctx);
      outs[i] = y;
      onLayer?.(i, y);
      if (frugal)
        for (const f of this.froms[i]!) {
          const j = src(i, f);
          if (j >= 0 && lastUse[j] === i) {
            outs[j]!.dispose();
            outs[j] = null;
          }
        }
    }
    return this.froms[L]!.map((f) => outs[src(L, f)]!);
  }

  /**
   * Training-mode forward: BatchNorm uses batch statistics (via the moments function) and
   * updates running stats; returns raw Detect outputs per layer, [bs, na, ny, nx, 5+nc].
   * @param x images NHWC [bs, H, W, ch], float 0..1, H and W multiples of the max stride.
   */
  forwardTrain(x: tf.Tensor4D, opts: { updateStats?: boolean } = {}): tf.Tensor5D[] {
    return this.forwardWithFeatures(x, { training: true, updateStats: opts.updateStats ?? true }).raw;
  }

  /**
   * The raw Detect outputs and Detect's inputs (the neck's feature maps P3, P4, P5, NHWC), what
   * feature distillation compares. Training mode as forwardTrain; `training: false` uses the BN
   * running statistics and frees other activations as forwardEval does.
   */
  forwardWithFeatures(
    x: tf.Tensor4D,
    opts: { training: boolean; updateStats?: boolean },
  ): { raw: tf.Tensor5D[]; features: tf.Tensor4D[] } {
    const ctx: ForwardContext = {
      training: opts.training,
      updateStats: opts.training && (opts.updateStats ?? true),
      moments: this.moments,
    };
    const features = this.runBody(x, ctx);
    return { raw: this.detect.forwardRaw(features), features };
  }

  /**
   * Eval-mode forward (BN running stats, folded into the convs): decoded predictions
   * [bs, sum(na*ny*nx), 5+nc] (xywh pixels, obj and class probabilities) and the raw layers.
   * `onLayer` sees every model.model[i] output (NHWC) except Detect's, for debugging; a tensor
   * handed to it is only valid during the call (eval frees activations after their last use).
   */
  forwardEval(
    x: tf.Tensor4D,
    onLayer?: (i: number, y: tf.Tensor4D) => void,
  ): { pred: tf.Tensor3D; raw: tf.Tensor5D[] } {
    const ctx: ForwardContext = { training: false, updateStats: false, moments: this.moments };
    const raw = this.detect.forwardRaw(this.runBody(x, ctx, onLayer));
    return { pred: this.detect.decode(raw), raw };
  }

  /**
   * Training forward + backward with per-layer recomputation (gradient checkpointing).
   * tfjs keeps every activation and every intermediate gradient of a tf.grads call alive
   * until it returns, which for YOLOv5 at 640 exceeds the wasm heap. Here the forward keeps
   * only each layer's output (no tape); the loss is differentiated w.r.t. the Detect inputs;
   * then each layer, last to first, is re-run under tf.grads with its output gradient as dy,
   * after which its output and that gradient are freed. Cost: one extra forward.
   * BN running stats are updated once (first forward); the recomputation uses the same batch
   * statistics (an injected MomentsFn is called again there).
   * `onGradient` sees each parameter's gradient the moment it exists, last layer first (for
   * DDP to start all-reducing while earlier layers are still differentiated); it must not
   * dispose it. `extraVariables` (the loss's own, e.g. distillation adapters) get theirs from
   * the loss's backward, right after Detect's and before any layer's.
   * @returns the loss and gradients (keyed by YOLOv5 name) of every trainable parameter
   */
  forwardBackward(
    x: tf.Tensor4D,
    lossFn: (p: tf.Tensor5D[], features: tf.Tensor4D[]) => tf.Scalar,
    onGradient?: GradientHook,
    extraVariables: readonly tf.Variable[] = [],
  ): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const fwd: ForwardContext = { training: true, updateStats: true, moments: this.moments };
    const re: ForwardContext = { training: true, updateStats: false, moments: this.moments };
    const L = this.blocks.length;
    const layerVars = this.layerTrainables();
    // first layer whose parameters train: nothing below it needs a backward pass
    const lowest = firstTrainedLayer(layerVars);
    const srcOf = (i: number, f: number): number => (f === -1 ? i - 1 : f); // -1 on layer 0 = the image
    const outs: (tf.Tensor4D | null)[] = new Array(L).fill(null);
    const inputsOf = (i: number): tf.Tensor4D[] =>
      this.froms[i]!.map((f) => (srcOf(i, f) < 0 ? x : outs[srcOf(i, f)]!));
    for (let i = 0; i < L; i++) {
      const ins = inputsOf(i);
      outs[i] = tf.tidy(() => this.blocks[i]!.forward(ins, fwd));
    }
    const grads = new Map<string, tf.Tensor>();
    const dOut: (tf.Tensor | null)[] = new Array(L).fill(null);
    const addGrad = (j: number, g: tf.Tensor): void => {
      const prev = dOut[j];
      if (!prev) dOut[j] = g;
      else {
        dOut[j] = tf.add(prev, g);
        prev.dispose();
        g.dispose();
      }
    };
    // Detect + loss
    const detSrc = this.froms[L]!.map((f) => srcOf(L, f));
    const detIn = detSrc.map((j) => outs[j]!);
    const detVars = layerVars[L]!;
    // the loss also sees Detect's inputs (feature distillation), and may own variables of its
    // own (distillation adapters): their gradients come from this same head backward
    const head = tf.valueAndGrads((...args: tf.Tensor[]) => {
      const features = args.slice(0, detIn.length) as tf.Tensor4D[];
      return lossFn(this.detect.forwardRaw(features), features);
    });
    const { value: loss, grads: hg } = head([...detIn, ...detVars.map((v) => v.variable), ...extraVariables]);
    detVars.forEach((v, k) => {
      grads.set(v.name, hg[detIn.length + k]!);
      onGradient?.(v.variable, hg[detIn.length + k]!);
    });
    // the loss's own variables are done here too, before any layer's backward: handed over now
    // (after Detect's), so that DDP can reduce them with Detect's instead of after the backward
    extraVariables.forEach((v, k) => {
      grads.set(v.name, hg[detIn.length + detVars.length + k]!);
      onGradient?.(v, hg[detIn.length + detVars.length + k]!);
    });
    detSrc.forEach((j, k) => (j >= lowest ? addGrad(j, hg[k]!) : hg[k]!.dispose()));
    // layers, last to first
    for (let i = L - 1; i >= 0; i--) {
      const dy = dOut[i];
      dOut[i] = null;
      if (dy && i >= lowest) {
        const src = this.froms[i]!.map((f) => srcOf(i, f));
        const tensorIdx = src.map((j, k) => (j >= 0 ? k : -1)).filter((k) => k >= 0);
        const ins = inputsOf(i);
        const vars = layerVars[i]!;
        if (tensorIdx.length + vars.length) {
          const g = this.recomputedGrads(i, ins, tensorIdx, vars, dy, re);
          tensorIdx.forEach((k, n) => (src[k]! >= lowest ? addGrad(src[k]!, g[n]!) : g[n]!.dispose()));
          vars.forEach((v, n) => {
            grads.set(v.name, g[tensorIdx.length + n]!);
            onGradient?.(v.variable, g[tensorIdx.length + n]!);
          });
        }
      }
      dy?.dispose();
      outs[i]?.dispose();
      outs[i] = null;
    }
    outs.forEach((t) => t?.dispose());
    dOut.forEach((t) => t?.dispose());
    return { loss, grads };
  }

  /**
   * Layer i's backward by recomputation: its forward re-run under tf.grads with `dy` as the
   * output gradient. Returns the gradients of the inputs at `tensorIdx` (the ones that are
   * layer outputs, not the image), then of `vars`, in that order.
   */
  private recomputedGrads(
    i: number,
    ins: tf.Tensor4D[],
    tensorIdx: number[],
    vars: readonly NamedParameter[],
    dy: tf.Tensor,
    re: ForwardContext,
  ): tf.Tensor[] {
    const wrt = [...tensorIdx.map((k) => ins[k]!), ...vars.map((v) => v.variable)];
    return tf.grads((...args: tf.Tensor[]) => {
      const call = ins.map((t, k) => {
        const pos = tensorIdx.indexOf(k);
        return pos >= 0 ? (args[pos] as tf.Tensor4D) : t;
      });
      return this.blocks[i]!.forward(call, re);
    })(wrt, dy);
  }

  /** Trainable parameters per layer (index L = Detect), state_dict order inside a layer. */
  private layerTrainables(): NamedParameter[][] {
    const per: NamedParameter[][] = Array.from({ length: this.blocks.length + 1 }, () => []);
    for (const p of this.trainableParameters()) per[Number(p.name.split('.')[1])]!.push(p);
    return per;
  }

  /** Decoded eval predictions only (what NMS takes). */
  predict(x: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => this.forwardEval(x).pred);
  }

  /** All state_dict entries (params, BN buffers, num_batches_tracked, anchors) in PyTorch order. */
  stateEntries(): readonly StateEntry[] {
    return this.entries;
  }

  /** Trainable tensors in state_dict order (conv weights, BN weight/bias, Detect biases). */
  parameters(): NamedParameter[] {
    return this.entries
      .filter(
        (e) => e.role === 'conv.weight' || e.role === 'conv.bias' || e.role === 'bn.weight' || e.role === 'bn.bias',
      )
      .map((e) => ({ name: e.name, role: e.role, variable: e.variable! }));
  }

  /** Parameters that currently get gradients (not frozen). */
  trainableParameters(): NamedParameter[] {
    return this.parameters().filter((p) => p.variable.trainable);
  }

  /** BatchNorm running_mean / running_var variables in state_dict order. */
  buffers(): NamedBuffer[] {
    return this.entries
      .filter((e) => e.role === 'bn.running_mean' || e.role === 'bn.running_var')
      .map((e) => ({ name: e.name, role: e.role, variable: e.variable! }));
  }

  /** Sum of numel over parameters() (what YOLOv5 prints as "parameters"). */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.variable.size, 0);
  }

  /** The per-layer table YOLOv5 prints (from, n, params, module, args). */
  layers(): LayerInfo[] {
    const params = this.parameters();
    return this.plan.map((l) => ({
      i: l.i,
      from: l.from,
      n: l.n,
      params: params.filter((p) => p.name.startsWith(`model.${l.i}.`)).reduce((s, p) => s + p.variable.size, 0),
      module: l.module,
      args: l.args,
    }));
  }

  /** train.py's three optimizer groups (see ParamGroup). Frozen parameters stay in their group, like upstream. */
  paramGroups(weightDecay = 5e-4): [ParamGroup, ParamGroup, ParamGroup] {
    const ps = this.parameters();
    return [
      { kind: 'bias', weightDecay: 0, params: ps.filter((p) => p.role === 'bn.bias' || p.role === 'conv.bias') },
      { kind: 'weight', weightDecay, params: ps.filter((p) => p.role === 'conv.weight') },
      { kind: 'bn_weight', weightDecay: 0, params: ps.filter((p) => p.role === 'bn.weight') },
    ];
  }

  /**
   * train.py --freeze: a single number N freezes layers 0..N-1, a list freezes those layers
   * (matching 'model.{i}.' prefixes). Frozen parameters get trainable = false.
   */
  freeze(layers: number | number[]): string[] {
    const idx =
      Array.isArray(layers) && layers.length > 1
        ? layers
        : Array.from({ length: Array.isArray(layers) ? (layers[0] ?? 0) : layers }, (_, i) => i);
    return this.freezePrefixes(idx.map((i) => `model.${i}.`));
  }

  /** Freeze every parameter whose name contains one of the prefixes; returns the frozen names. */
  freezePrefixes(prefixes: string[]): string[] {
    const frozen: string[] = [];
    for (const p of this.parameters()) {
      const f = prefixes.some((x) => p.name.includes(x));
      p.variable.trainable = !f;
      if (f) frozen.push(p.name);
    }
    return frozen;
  }

  /** Export the state dict (PyTorch names, order and layouts; conv weights transposed back to OIHW). */
  stateDict(): StateDict {
    const sd: StateDict = {};
    for (const e of this.entries) sd[e.name] = { shape: [...e.shape], data: e.read() };
    return sd;
  }

  /**
   * Load a state dict in PyTorch layout (as stateDict() exports, or converted from a YOLOv5 .pt):
   * conv weights [out, in, kh, kw] are transposed to HWIO. strict: every key must match both ways.
   */
  loadStateDict(sd: Record<string, StateTensor>, opts: { strict?: boolean } = {}): void {
    const strict = opts.strict ?? true;
    const names = new Set(this.entries.map((e) => e.name));
    const missing = this.entries.filter((e) => !(e.name in sd)).map((e) => e.name);
    const unexpected = Object.keys(sd).filter((k) => !names.has(k));
    if (strict && (missing.length || unexpected.length))
      throw new Error(
        `loadStateDict: missing keys [${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}], unexpected keys [${unexpected.slice(0, 10).join(', ')}${unexpected.length > 10 ? ', ...' : ''}]`,
      );
    for (const e of this.entries) {
      const t = sd[e.name];
      if (!t) continue;
      const want = e.shape.reduce((a, b) => a * b, 1);
      if (t.shape.length !== e.shape.length || t.shape.some((d, k) => d !== e.shape[k]) || t.data.length !== want)
        throw new Error(
          `loadStateDict: ${e.name} has shape [${t.shape}] (${t.data.length} values), the model needs [${e.shape}]`,
        );
      e.write(t.data);
    }
  }

  dispose(): void {
    for (const e of this.entries) e.variable?.dispose();
    this.detect.clearCache();
  }
}

function makeBlock(reg: StateRegistry, prefix: string, spec: ModuleSpec): Block {
  switch (spec.type) {
    case 'Conv':
      return new ConvBlock(reg, prefix, spec);
    case 'Focus':
      return new Focus(reg, prefix, spec);
    case 'Bottleneck':
      return new Bottleneck(reg, prefix, spec.c1, spec.c2, spec.shortcut, spec.e);
    case 'C3':
      return new C3(reg, prefix, spec.c1, spec.c2, spec.n, spec.shortcut, spec.e);
    case 'SPPF':
      return new SPPF(reg, prefix, spec.c1, spec.c2, spec.k);
    case 'SPP':
      return new SPP(reg, prefix, spec.c1, spec.c2, spec.k);
    case 'Concat':
      return new Concat();
    case 'Upsample':
      return new Upsample(spec.scale);
    case 'Detect':
      throw new Error('Detect is built by the model');
  }
}

/**
 * utils.autoanchor.check_anchor_order: if the mean anchor area does not grow in the same
 * direction as the strides, reverse the layer order of the anchors.
 */
export function checkAnchorOrder(anchors: Float32Array, stride: number[], na: number): Float32Array {
  const nl = stride.length;
  const area = (l: number): number => {
    let s = 0;
    for (let a = 0; a < na; a++) s += Math.fround(anchors[(l * na + a) * 2]! * anchors[(l * na + a) * 2 + 1]!);
    return s / na;
  };
  const da = area(nl - 1) - area(0);
  const ds = stride[nl - 1]! - stride[0]!;
  if (da !== 0 && Math.sign(da) !== Math.sign(ds)) {
    const out = new Float32Array(anchors.length);
    for (let l = 0; l < nl; l++) out.set(anchors.subarray((nl - 1 - l) * na * 2, (nl - l) * na * 2), l * na * 2);
    return out;
  }
  return anchors;
}

/** Build a model from a YOLOv5 YAML path or object. */
export function createModel(cfg: string | ModelYaml, opts: CreateModelOptions = {}): YoloModel {
  return new YoloModel(cfg, opts);
}
