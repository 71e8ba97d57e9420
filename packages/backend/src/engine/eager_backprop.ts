// Backpropagation that frees memory as it goes.
//
// tfjs-core's Engine.gradients keeps the gradient of EVERY intermediate tensor, and every
// tensor saved for backward, until the whole backward pass ends. A training step therefore
// peaks at "all activations + all their gradients": 1.8 GB for a YOLOv5n step at imgsz 320
// batch 8, and imgsz 640 batch 8 exceeds wasm's 4 GB heap and aborts. Here each node's
// output gradients are released as soon as the node has propagated them (a tensor is the
// output of exactly one node, so nothing needs them later), and, when not computing
// higher-order gradients, each node's saved tensors too. The maths and the order of
// operations are unchanged (same tape, same gradient functions, same accumulation order);
// only the lifetimes are shorter. Installed on the engine instance when @yolo-launch/backend
// is imported (index.ts calls setEagerBackprop with switches.ts); opt out with YOLO_EAGER_BACKPROP=0.
import * as tf from '@tensorflow/tfjs-core';

interface TapeNode {
  id: number;
  kernelName: string;
  outputs: tf.Tensor[];
  inputs: Record<string, tf.Tensor>;
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(nameOrFn: string | (() => T), fn?: () => T): T;
  gradients: GradientsFn;
}

type GradientsFn = <T extends tf.Tensor>(
  f: () => T,
  xs: tf.Tensor[],
  dy?: T,
  allowNoGradients?: boolean,
) => { value: T; grads: tf.Tensor[] };

/** The nodes on a path from any of xs to y, with inputs not depending on xs pruned (as tfjs-core). */
export function filterTape(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    for (const name in node.inputs) {
      if (fromX.has(node.inputs[name].id)) {
        for (const o of node.outputs) fromX.add(o.id);
        nodesFromX.add(node.id);
        break;
      }
    }
  }
  const leadToY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => leadToY.has(o.id))) {
      for (const name in node.inputs) leadToY.add(node.inputs[name].id);
      nodesToY.add(node.id);
    }
  }
  const filtered: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const name in node.inputs) if (fromX.has(node.inputs[name].id)) inputs[name] = node.inputs[name];
    filtered.push({ ...node, inputs, outputs: node.outputs });
  }
  return filtered;
}

/** tensor id -> accumulated gradient, with a count of keys per tensor object (one object may serve several keys). */
class GradientMap {
  private readonly byId = new Map<number, tf.Tensor>();
  private readonly refs = new Map<tf.Tensor, number>();
  get(id: number): tf.Tensor | undefined {
    return this.byId.get(id);
  }
  set(id: number, t: tf.Tensor): void {
    const old = this.byId.get(id);
    if (old === t) return;
    if (old != null) this.unref(old);
    this.byId.set(id, t);
    this.refs.set(t, (this.refs.get(t) ?? 0) + 1);
  }
  /** Removes the entry; disposes its tensor unless another entry or `keep` still uses it. */
  release(id: number, keep: ReadonlySet<tf.Tensor>): void {
    const t = this.byId.get(id);
    if (t == null) return;
    this.byId.delete(id);
    if (this.unref(t) === 0 && !keep.has(t)) t.dispose();
  }
  isReferenced(t: tf.Tensor): boolean {
    return (this.refs.get(t) ?? 0) > 0;
  }
  private unref(t: tf.Tensor): number {
    const n = (this.refs.get(t) ?? 1) - 1;
    if (n <= 0) this.refs.delete(t);
    else this.refs.set(t, n);
    return n;
  }
}

function makeEagerGradients(engine: EngineInternals): GradientsFn {
  return function gradients<T extends tf.Tensor>(f: () => T, xs: tf.Tensor[], dy?: T, allowNoGradients = false) {
    if (xs.length === 0) throw new Error('gradients() received an empty list of xs.');
    if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    const y = engine.scopedRun(
      () => engine.startTape(),
      () => engine.endTape(),
      () => engine.tidy('forward', f),
    );
    if (!(y instanceof tf.Tensor)) throw new Error('The result y returned by f() must be a tensor.');
    const tape = engine.state.activeTape ?? [];
    const filtered = filterTape(tape, xs, y);
    if (!allowNoGradients && filtered.length === 0 && xs.length > 0) {
      throw new Error(
        'Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.',
      );
    }
    const eagerSaved = engine.state.gradientDepth === 0;
    return engine.tidy('backward', () => {
      const map = new GradientMap();
      const wanted = new Set(xs.map((x) => x.id));
      const protect = new Set<tf.Tensor>(dy != null ? [dy] : []);
      map.set(y.id, dy ?? tf.ones(y.shape));
      for (let i = filtered.length - 1; i >= 0; i--) {
        const node = filtered[i];
        const dys = node.outputs.map((o) => map.get(o.id) ?? null);
        if (node.gradient == null)
          throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
        const inputGradients = node.gradient(dys);
        for (const name in node.inputs) {
          if (!(name in inputGradients)) {
            throw new Error(
              `Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`,
            );
          }
          const dx = engine.tidy(() => inputGradients[name]());
          if (dx.dtype !== 'float32') {
            throw new Error(
              `Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`,
            );
          }
          const x = node.inputs[name];
          if (!tf.util.arraysEqual(dx.shape, x.shape)) {
            throw new Error(
              `Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
            );
          }
          const current = map.get(x.id);
          if (current == null) {
            map.set(x.id, dx);
          } else {
            map.set(x.id, tf.add(current, dx));
            if (!map.isReferenced(current) && !protect.has(current) && !dys.includes(current)) current.dispose();
            if (!map.isReferenced(dx) && !protect.has(dx) && !dys.includes(dx)) dx.dispose();
          }
        }
        // This node's outputs were produced by it alone: their gradients are spent.
        for (const o of node.outputs) if (!wanted.has(o.id)) map.release(o.id, protect);
        // A gradient function may hand back one of its saved tensors as a gradient: keep those.
        if (eagerSaved && node.saved != null) for (const t of node.saved) if (!map.isReferenced(t)) t.dispose();
      }
      const grads = xs.map((x) => map.get(x.id) as tf.Tensor);
      if (engine.state.gradientDepth === 0) {
        const results = new Set(grads);
        for (const node of tape) for (const t of node.saved ?? []) if (!results.has(t)) t.dispose();
        engine.state.activeTape = null;
      }
      return { value: y, grads };
    }) as { value: T; grads: tf.Tensor[] };
  } as GradientsFn;
}

let original: GradientsFn | null = null;

/** Installs (or, with enabled=false, removes) eager-release backprop on tfjs's engine. */
export function setEagerBackprop(enabled: boolean): void {
  const engine = tf.engine() as unknown as EngineInternals;
  if (enabled && original == null) {
    original = engine.gradients;
    engine.gradients = makeEagerGradients(engine);
  } else if (!enabled && original != null) {
    engine.gradients = original;
    original = null;
  }
}

export function eagerBackpropEnabled(): boolean {
  return original != null;
}
