import { tf } from '@yolo-launch/backend';
import { hwioToOihw, oihwToHwio } from './layout.js';
import type { Rng } from '../util/rng.js';

/** What a state_dict entry is, in YOLOv5 terms; decides optimizer group and layout. */
export type EntryRole =
  | 'conv.weight' // 4-D conv filter; PyTorch OIHW, stored HWIO
  | 'conv.bias' // Detect 1x1 conv bias
  | 'bn.weight'
  | 'bn.bias'
  | 'bn.running_mean'
  | 'bn.running_var'
  | 'bn.num_batches_tracked'
  | 'anchors';

/** One entry of the model's state dict, in PyTorch's order and with PyTorch's name and shape. */
export interface StateEntry {
  readonly name: string;
  readonly role: EntryRole;
  /** PyTorch shape (OIHW for conv weights; [] for num_batches_tracked). */
  readonly shape: readonly number[];
  /** Backing variable (params and BN running stats). num_batches_tracked and anchors have none. */
  readonly variable: tf.Variable | null;
  /** Values in PyTorch layout. */
  read(): Float32Array;
  /** Overwrite from PyTorch-layout values. */
  write(data: ArrayLike<number>): void;
}

let modelCounter = 0;

/**
 * Collects state entries while modules are constructed, so that registration order is the
 * state_dict order (modules register in the same order as their PyTorch __init__).
 */
export class StateRegistry {
  readonly entries: StateEntry[] = [];
  private readonly uid = `yolo${modelCounter++}`;
  constructor(readonly rng: Rng) {}

  /** A 4-D conv weight given by its PyTorch shape [out, in, kh, kw]; kaiming-uniform(a=sqrt(5)) init like PyTorch. */
  convWeight(name: string, oihw: [number, number, number, number]): tf.Variable<tf.Rank.R4> {
    const [o, i, kh, kw] = oihw;
    const bound = 1 / Math.sqrt(i * kh * kw);
    const init = new Float32Array(o * i * kh * kw);
    for (let k = 0; k < init.length; k++) init[k] = this.rng.uniform(-bound, bound);
    const v = tf.variable(tf.tensor4d(init, [kh, kw, i, o]), true, `${this.uid}/${name}`) as tf.Variable<tf.Rank.R4>;
    this.entries.push({
      name,
      role: 'conv.weight',
      shape: oihw,
      variable: v,
      read: () => hwioToOihw(v.dataSync(), oihw),
      write: (data) => assignData(v, oihwToHwio(data, oihw)),
    });
    return v;
  }

  vector(name: string, role: EntryRole, init: Float32Array, trainable: boolean): tf.Variable<tf.Rank.R1> {
    const v = tf.variable(tf.tensor1d(init), trainable, `${this.uid}/${name}`) as tf.Variable<tf.Rank.R1>;
    this.entries.push({
      name,
      role,
      shape: [init.length],
      variable: v,
      read: () => Float32Array.from(v.dataSync()),
      write: (data) => assignData(v, Float32Array.from(data)),
    });
    return v;
  }

  /** Host-side entries (num_batches_tracked, anchors). */
  host(
    name: string,
    role: EntryRole,
    shape: number[],
    read: () => Float32Array,
    write: (d: ArrayLike<number>) => void,
  ): void {
    this.entries.push({ name, role, shape, variable: null, read, write });
  }
}

function assignData(v: tf.Variable, data: Float32Array): void {
  if (data.length !== v.size) throw new Error(`state entry ${v.name}: expected ${v.size} values, got ${data.length}`);
  tf.tidy(() => v.assign(tf.tensor(data, v.shape)));
}
