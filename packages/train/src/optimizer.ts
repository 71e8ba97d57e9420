// YOLOv5's optimizer (utils/torch_utils.py smart_optimizer) with PyTorch's update rules,
// written over host Float32Arrays. tfjs's own optimizers differ from PyTorch's (tf's
// momentum has no nesterov-with-dampening form, its Adam folds epsilon differently), and
// reproducing train.py number for number matters more than keeping the update on device.
//
// Three parameter groups, in train.py order:
//   group 0: every bias (no weight decay)
//   group 1: conv/linear weights (weight decay = hyp.weight_decay scaled by nbs)
//   group 2: BatchNorm weights (no weight decay)

export type OptimizerName = 'SGD' | 'Adam' | 'AdamW';
export type GroupIndex = 0 | 1 | 2;

export interface ParamSlot {
  name: string;
  group: GroupIndex;
  /** The master copy of the parameter, updated in place by step(). */
  data: Float32Array;
}

/** Group of a YOLOv5 state_dict parameter name, given whether its module is a BatchNorm. */
export function groupOf(name: string, isBatchNorm: boolean): GroupIndex {
  if (name.endsWith('.bias')) return 0;
  if (name.endsWith('.weight') && isBatchNorm) return 2;
  return 1;
}

export interface OptimizerState {
  name: OptimizerName;
  /** Number of steps taken (Adam's bias correction uses it; stored for every optimizer). */
  step: number;
  /** Per-parameter buffers, keyed `<param>/<buffer>` (momentum_buffer, exp_avg, exp_avg_sq). */
  buffers: Map<string, Float32Array>;
}

export interface GroupHyper {
  lr: number;
  /** SGD momentum, or Adam beta1. */
  momentum: number;
  weightDecay: number;
}

export class YoloOptimizer {
  readonly name: OptimizerName;
  readonly params: ParamSlot[];
  /** Per-group hyper-parameters; lr and momentum are driven by the Schedule. */
  readonly groups: [GroupHyper, GroupHyper, GroupHyper];
  private stepCount = 0;
  private readonly buffers = new Map<string, Float32Array>();
  readonly beta2 = 0.999;
  readonly eps = 1e-8;

  constructor(name: OptimizerName, params: ParamSlot[], opts: { lr: number; momentum: number; decay: number }) {
    if (name !== 'SGD' && name !== 'Adam' && name !== 'AdamW') {
      throw new Error(`Optimizer ${String(name)} not implemented; choose SGD, Adam or AdamW`);
    }
    this.name = name;
    this.params = params;
    this.groups = [
      { lr: opts.lr, momentum: opts.momentum, weightDecay: 0 },
      { lr: opts.lr, momentum: opts.momentum, weightDecay: opts.decay },
      { lr: opts.lr, momentum: opts.momentum, weightDecay: 0 },
    ];
  }

  /** "optimizer: SGD(lr=0.01) with parameter groups 57 weight(decay=0.0), 60 weight(decay=0.0005), 60 bias" */
  describe(): string {
    const n = [0, 0, 0];
    for (const p of this.params) n[p.group]!++;
    const lr = this.groups[0].lr;
    const extra = this.name === 'SGD' ? '' : `, momentum=${this.groups[0].momentum}`;
    return `optimizer: ${this.name}(lr=${lr}${extra}) with parameter groups ${n[2]} weight(decay=0.0), ${n[1]} weight(decay=${this.groups[1].weightDecay}), ${n[0]} bias`;
  }

  setSchedule(lr: readonly number[], momentum: number): void {
    for (let j = 0; j < 3; j++) {
      this.groups[j]!.lr = lr[j]!;
      this.groups[j]!.momentum = momentum;
    }
  }

  get steps(): number {
    return this.stepCount;
  }

  /** One optimizer step; grads[k] is the gradient of params[k] (already averaged/clipped). */
  step(grads: readonly Float32Array[]): void {
    if (grads.length !== this.params.length)
      throw new Error(`step: ${grads.length} gradients for ${this.params.length} parameters`);
    this.stepCount++;
    for (let k = 0; k < this.params.length; k++) {
      const p = this.params[k]!;
      const g = grads[k]!;
      if (g.length !== p.data.length)
        throw new Error(`step: gradient of ${p.name} has ${g.length} values, parameter ${p.data.length}`);
      const h = this.groups[p.group];
      if (this.name === 'SGD') this.sgd(p, g, h);
      else this.adam(p, g, h, this.name === 'AdamW');
    }
  }

  /** torch.optim.SGD(nesterov=True, dampening=0): buf = m*buf + g (buf = g at first); g += m*buf. */
  private sgd(p: ParamSlot, grad: Float32Array, h: GroupHyper): void {
    const key = `${p.name}/momentum_buffer`;
    let buf = this.buffers.get(key);
    const first = buf === undefined;
    if (!buf) {
      buf = new Float32Array(grad.length);
      this.buffers.set(key, buf);
    }
    const x = p.data;
    const { lr, momentum: m, weightDecay: wd } = h;
    for (let i = 0; i < x.length; i++) {
      const d = wd !== 0 ? Math.fround(grad[i]! + wd * x[i]!) : grad[i]!;
      const b = first ? d : Math.fround(Math.fround(buf[i]! * m) + d);
      buf[i] = b;
      const dn = Math.fround(d + m * b); // nesterov
      x[i] = Math.fround(x[i]! - lr * dn);
    }
  }

  /**
   * torch.optim.Adam / AdamW (amsgrad=False), betas=(momentum, 0.999), eps=1e-8:
   *   Adam: g += wd*p;  AdamW: p *= 1 - lr*wd
   *   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g²
   *   p -= (lr / (1 - b1^t)) * m / (sqrt(v)/sqrt(1 - b2^t) + eps)
   */
  private adam(p: ParamSlot, grad: Float32Array, h: GroupHyper, decoupled: boolean): void {
    const mKey = `${p.name}/exp_avg`;
    const vKey = `${p.name}/exp_avg_sq`;
    let mBuf = this.buffers.get(mKey);
    let vBuf = this.buffers.get(vKey);
    if (!mBuf || !vBuf) {
      mBuf = new Float32Array(grad.length);
      vBuf = new Float32Array(grad.length);
      this.buffers.set(mKey, mBuf);
      this.buffers.set(vKey, vBuf);
    }
    const { lr, momentum: b1, weightDecay: wd } = h;
    const b2 = this.beta2;
    const t = this.stepCount;
    const bc1 = 1 - Math.pow(b1, t);
    const bc2Sqrt = Math.sqrt(1 - Math.pow(b2, t));
    const stepSize = lr / bc1;
    const x = p.data;
    for (let i = 0; i < x.length; i++) {
      let g = grad[i]!;
      if (decoupled) {
        if (wd !== 0) x[i] = Math.fround(x[i]! * (1 - lr * wd));
      } else if (wd !== 0) {
        g = Math.fround(g + wd * x[i]!);
      }
      const m = Math.fround(mBuf[i]! + (g - mBuf[i]!) * (1 - b1)); // exp_avg.lerp_(g, 1-b1)
      const v = Math.fround(Math.fround(vBuf[i]! * b2) + (1 - b2) * g * g);
      mBuf[i] = m;
      vBuf[i] = v;
      const denom = Math.fround(Math.fround(Math.sqrt(v) / bc2Sqrt) + this.eps);
      x[i] = Math.fround(x[i]! - stepSize * (m / denom));
    }
  }

  state(): OptimizerState {
    return {
      name: this.name,
      step: this.stepCount,
      buffers: new Map([...this.buffers].map(([k, v]) => [k, v.slice()])),
    };
  }

  loadState(state: OptimizerState): void {
    if (state.name !== this.name) {
      throw new Error(
        `checkpoint optimizer is ${state.name}, this run uses ${this.name}; resume with --optimizer ${state.name}`,
      );
    }
    this.stepCount = state.step;
    this.buffers.clear();
    const sizes = new Map(this.params.map((p) => [p.name, p.data.length]));
    for (const [k, v] of state.buffers) {
      const pname = k.slice(0, k.lastIndexOf('/'));
      const n = sizes.get(pname);
      if (n === undefined) continue; // parameter no longer trained (e.g. frozen now)
      if (n !== v.length) throw new Error(`optimizer buffer ${k} has ${v.length} values, parameter has ${n}`);
      this.buffers.set(k, v.slice());
    }
  }
}

/**
 * torch.nn.utils.clip_grad_norm_(params, max_norm): total 2-norm over all gradients; every
 * gradient is multiplied by min(max_norm / (total + 1e-6), 1). Returns the total norm.
 */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm = 10.0): number {
  let sq = 0;
  for (const g of grads) {
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
    sq += s;
  }
  const total = Math.sqrt(sq);
  const coef = Math.min(maxNorm / (total + 1e-6), 1.0);
  if (coef < 1.0) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = Math.fround(g[i]! * coef);
  return total;
}
