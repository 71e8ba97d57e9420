// ModelEMA (utils/torch_utils.py): an exponential moving average of every floating-point
// state_dict entry (parameters and BatchNorm running statistics), kept on rank 0.

import { emaDecay } from './schedule.js';

export interface EmaEntry {
  name: string;
  shape: number[];
  data: Float32Array;
}

export class ModelEMA {
  updates: number;
  readonly decay: number;
  readonly tau: number;
  readonly entries: EmaEntry[];

  /** `initial` is copied (the EMA starts equal to the model). */
  constructor(initial: readonly EmaEntry[], opts: { decay?: number; tau?: number; updates?: number } = {}) {
    this.decay = opts.decay ?? 0.9999;
    this.tau = opts.tau ?? 2000;
    this.updates = opts.updates ?? 0;
    this.entries = initial.map((e) => ({ name: e.name, shape: [...e.shape], data: e.data.slice() }));
  }

  /** d(updates) after the increment, as ModelEMA.update computes it. */
  currentDecay(): number {
    return emaDecay(this.updates, this.decay, this.tau);
  }

  /** updates += 1; d = decay(updates); v = d*v + (1-d)*model_v (float32 ops as torch does). */
  update(model: ReadonlyMap<string, Float32Array>): void {
    this.updates++;
    const d = Math.fround(emaDecay(this.updates, this.decay, this.tau));
    const od = Math.fround(1 - d);
    for (const e of this.entries) {
      const src = model.get(e.name);
      if (!src) throw new Error(`EMA: model has no entry ${e.name}`);
      if (src.length !== e.data.length)
        throw new Error(`EMA: ${e.name} has ${src.length} values, EMA ${e.data.length}`);
      const v = e.data;
      for (let i = 0; i < v.length; i++) v[i] = Math.fround(Math.fround(v[i]! * d) + Math.fround(od * src[i]!));
    }
  }

  load(entries: readonly { name: string; data: Float32Array }[], updates: number): void {
    const byName = new Map(entries.map((e) => [e.name, e.data]));
    for (const e of this.entries) {
      const src = byName.get(e.name);
      if (!src) throw new Error(`EMA checkpoint has no entry ${e.name}`);
      if (src.length !== e.data.length)
        throw new Error(`EMA checkpoint entry ${e.name} has ${src.length} values, model ${e.data.length}`);
      e.data.set(src);
    }
    this.updates = updates;
  }
}
