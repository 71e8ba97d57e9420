// The trainer's view of the detector's tensors: trainable parameters with host master copies
// (the optimizer updates those and writes them back to the tfjs variables), the float state
// the EMA averages (parameters + BatchNorm running statistics), and the translation to and
// from the checkpoint's PyTorch-layout tensors.

import { tf } from '@yolo-launch/backend';
import { hwioToOihw, oihwToHwio, type StateEntry, type YoloModel } from '@yolo-launch/yolo';
import type { NamedTensor } from './checkpoint.js';
import { groupOf, type GroupIndex, type ParamSlot } from './optimizer.js';

export interface TrainParam extends ParamSlot {
  variable: tf.Variable;
  group: GroupIndex;
}

export class ModelState {
  readonly entries: readonly StateEntry[];
  /** Trainable (not frozen) parameters, in state_dict order. */
  readonly params: TrainParam[];
  /** Float entries the EMA keeps: every parameter and BN running statistic (variable layout). */
  readonly floatEntries: readonly StateEntry[];

  constructor(readonly model: YoloModel) {
    this.entries = model.stateEntries();
    this.params = this.entries
      .filter(
        (e) =>
          e.variable &&
          e.variable.trainable &&
          (e.role === 'conv.weight' || e.role === 'conv.bias' || e.role === 'bn.weight' || e.role === 'bn.bias'),
      )
      .map((e) => ({
        name: e.name,
        variable: e.variable!,
        group: groupOf(e.name, e.role === 'bn.weight'),
        data: Float32Array.from(e.variable!.dataSync() as Float32Array),
      }));
    this.floatEntries = this.entries.filter((e) => e.variable !== null);
  }

  /** Write the master copies into the tfjs variables (after an optimizer step). */
  pushParams(): void {
    for (const p of this.params) tf.tidy(() => p.variable.assign(tf.tensor(p.data, p.variable.shape, 'float32')));
  }

  /** Re-read master copies from the variables (after loading weights). */
  pullParams(): void {
    for (const p of this.params) p.data = Float32Array.from(p.variable.dataSync() as Float32Array);
  }

  /** Every float entry in variable layout (copies). */
  floatState(): Map<string, Float32Array> {
    return new Map(this.floatEntries.map((e) => [e.name, Float32Array.from(e.variable!.dataSync() as Float32Array)]));
  }

  /** Float state without copies where the master copy is current (for EMA updates). */
  floatStateView(): Map<string, Float32Array> {
    const master = new Map(this.params.map((p) => [p.name, p.data]));
    return new Map(
      this.floatEntries.map((e) => [e.name, master.get(e.name) ?? (e.variable!.dataSync() as Float32Array)]),
    );
  }

  assignFloatState(state: ReadonlyMap<string, Float32Array>): void {
    for (const e of this.floatEntries) {
      const v = state.get(e.name);
      if (!v) continue;
      tf.tidy(() => e.variable!.assign(tf.tensor(v, e.variable!.shape, 'float32')));
    }
    const byName = new Map(this.params.map((p) => [p.name, p]));
    for (const [name, v] of state) {
      const p = byName.get(name);
      if (p) p.data = Float32Array.from(v);
    }
  }

  /** PyTorch-layout tensor of one entry from variable-layout data. */
  static toTorch(e: StateEntry, data: Float32Array): Float32Array {
    return e.role === 'conv.weight' ? hwioToOihw(data, e.shape) : data;
  }

  static fromTorch(e: StateEntry, data: Float32Array): Float32Array {
    return e.role === 'conv.weight' ? oihwToHwio(data, e.shape) : data;
  }

  /** The full state_dict (PyTorch layout) for a checkpoint; `floatOverride` replaces float entries (the EMA). */
  checkpointTensors(floatOverride?: ReadonlyMap<string, Float32Array>): NamedTensor[] {
    return this.entries.map((e) => {
      const over = floatOverride?.get(e.name);
      const data = over ? ModelState.toTorch(e, over) : e.read();
      return { name: e.name, shape: [...e.shape], data: Float32Array.from(data) };
    });
  }

  /** Float entries of a checkpoint section as variable-layout arrays (for the EMA). */
  floatStateFromCheckpoint(tensors: readonly NamedTensor[]): Map<string, Float32Array> {
    const byName = new Map(tensors.map((t) => [t.name, t]));
    const out = new Map<string, Float32Array>();
    for (const e of this.floatEntries) {
      const t = byName.get(e.name);
      if (!t) throw new Error(`checkpoint has no ${e.name}`);
      out.set(e.name, ModelState.fromTorch(e, Float32Array.from(t.data)));
    }
    return out;
  }

  /**
   * Load tensors by name where the shape matches (YOLOv5's intersect_dicts); returns how many
   * of the model's entries were transferred. `strict` requires all of them.
   */
  loadTensors(tensors: readonly NamedTensor[], opts: { strict: boolean; exclude?: readonly string[] }): number {
    const byName = new Map(tensors.map((t) => [t.name, t]));
    let n = 0;
    for (const e of this.entries) {
      const t = byName.get(e.name);
      const excluded = opts.exclude?.some((x) => e.name.includes(x)) ?? false;
      const ok = t && !excluded && t.shape.length === e.shape.length && t.shape.every((d, k) => d === e.shape[k]);
      if (!ok) {
        if (opts.strict)
          throw new Error(
            `checkpoint entry ${e.name} is missing or has another shape ([${t?.shape ?? ''}] vs [${e.shape}])`,
          );
        continue;
      }
      e.write(t.data);
      n++;
    }
    this.pullParams();
    return n;
  }
}
