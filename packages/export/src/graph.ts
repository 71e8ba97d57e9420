/**
 * The inference graph of a detector, as export formats need it: a flat list of layer nodes
 * (BatchNorm already folded into the convolutions, as YOLOv5's fuse() does before export) and
 * the Detect head's constants. Both writers (ONNX, TF.js) lower this one description, each in
 * its own layout (NCHW / NHWC), so the two formats cannot drift apart in what they compute.
 *
 * It is read from the model's plan (the parsed YAML) and its state dict by YOLOv5's names,
 * so it mirrors models/common.py block by block: Conv, Bottleneck, C3, SPPF, SPP, Focus,
 * Concat, nn.Upsample and Detect.
 */
import type { LayerPlan, StateDict, YoloModel } from '@yolo-launch/yolo';
import { foldBatchNorm, type FoldedConv } from './fuse.js';

/** A node's output is named by the node's name; the image is INPUT. */
export const INPUT = 'images';

export type GraphNode =
  | ({ kind: 'conv'; name: string; input: string; stride: number; pad: number; act: boolean } & FoldedConv)
  | { kind: 'add'; name: string; inputs: [string, string] }
  | { kind: 'concat'; name: string; inputs: string[] }
  | { kind: 'maxpool'; name: string; input: string; k: number }
  | { kind: 'upsample'; name: string; input: string; scale: number }
  /** Focus' space-to-depth: channel block 2*dw + dh (x[..., ::2, ::2], x[..., 1::2, ::2], ...). */
  | { kind: 'space-to-depth'; name: string; input: string };

/** One detection layer: its 1x1 conv (OIHW [na*no, c, 1, 1] + bias), stride and anchors in pixels. */
export interface DetectLayer {
  /** YOLOv5's module name, e.g. model.24.m.0. */
  name: string;
  input: string;
  channels: number;
  weight: Float32Array;
  bias: Float32Array;
  stride: number;
  /** [na * 2] (w, h) pairs in pixels. */
  anchors: Float32Array;
}

export interface ExportGraph {
  channels: number;
  nodes: GraphNode[];
  detect: { na: number; no: number; nc: number; layers: DetectLayer[] };
}

/** The state dict reader every block uses: the tensor named `name`, or a clear error. */
class Weights {
  constructor(private readonly sd: StateDict) {}
  get(name: string): Float32Array {
    const t = this.sd[name];
    if (!t) throw new Error(`export: the model has no state entry ${name}`);
    return t.data;
  }
  shape(name: string): number[] {
    return this.sd[name]?.shape ?? [];
  }
  conv(prefix: string): FoldedConv {
    const w = `${prefix}.conv.weight`;
    return foldBatchNorm(this.get(w), this.shape(w) as [number, number, number, number], {
      weight: this.get(`${prefix}.bn.weight`),
      bias: this.get(`${prefix}.bn.bias`),
      mean: this.get(`${prefix}.bn.running_mean`),
      variance: this.get(`${prefix}.bn.running_var`),
    });
  }
}

/** Appends nodes under unique names; each helper returns its output's name. */
class Builder {
  readonly nodes: GraphNode[] = [];
  constructor(readonly weights: Weights) {}

  conv(prefix: string, input: string, k: number, s: number, p: number | null, act = true): string {
    const folded = this.weights.conv(prefix);
    const pad = p ?? Math.floor(k / 2); // models.common.autopad
    this.nodes.push({ kind: 'conv', name: prefix, input, stride: s, pad, act, ...folded });
    return prefix;
  }

  bottleneck(prefix: string, input: string, shortcut: boolean, c1: number, c2: number): string {
    const y = this.conv(`${prefix}.cv2`, this.conv(`${prefix}.cv1`, input, 1, 1, null), 3, 1, null);
    if (!(shortcut && c1 === c2)) return y;
    this.nodes.push({ kind: 'add', name: `${prefix}.add`, inputs: [input, y] });
    return `${prefix}.add`;
  }

  c3(prefix: string, input: string, n: number, shortcut: boolean, c2: number, e: number): string {
    const c = Math.trunc(c2 * e);
    let y = this.conv(`${prefix}.cv1`, input, 1, 1, null);
    for (let j = 0; j < n; j++) y = this.bottleneck(`${prefix}.m.${j}`, y, shortcut, c, c);
    const cat = this.concat(`${prefix}.cat`, [y, this.conv(`${prefix}.cv2`, input, 1, 1, null)]);
    return this.conv(`${prefix}.cv3`, cat, 1, 1, null);
  }

  pooledConcat(prefix: string, input: string, kernels: number[], chained: boolean): string {
    const x = this.conv(`${prefix}.cv1`, input, 1, 1, null);
    const pools: string[] = [];
    kernels.forEach((k, j) => {
      const name = `${prefix}.m.${j}`;
      this.nodes.push({ kind: 'maxpool', name, input: chained && j > 0 ? pools[j - 1]! : x, k });
      pools.push(name);
    });
    return this.conv(`${prefix}.cv2`, this.concat(`${prefix}.cat`, [x, ...pools]), 1, 1, null);
  }

  concat(name: string, inputs: string[]): string {
    this.nodes.push({ kind: 'concat', name, inputs });
    return name;
  }
}

/** One YAML row (not Detect) as nodes; returns the name of its output. */
function addLayer(b: Builder, layer: LayerPlan, inputs: string[], prefix: string): string {
  const spec = layer.spec;
  const input = inputs[0]!;
  switch (spec.type) {
    case 'Conv':
      return b.conv(prefix, input, spec.k, spec.s, spec.p, spec.act);
    case 'Focus': {
      b.nodes.push({ kind: 'space-to-depth', name: `${prefix}.s2d`, input });
      return b.conv(`${prefix}.conv`, `${prefix}.s2d`, spec.k, spec.s, spec.p, spec.act);
    }
    case 'Bottleneck':
      return b.bottleneck(prefix, input, spec.shortcut, spec.c1, spec.c2);
    case 'C3':
      return b.c3(prefix, input, spec.n, spec.shortcut, spec.c2, spec.e);
    case 'SPPF':
      return b.pooledConcat(prefix, input, [spec.k, spec.k, spec.k], true);
    case 'SPP':
      return b.pooledConcat(prefix, input, spec.k, false);
    case 'Concat':
      return b.concat(prefix, inputs);
    case 'Upsample':
      b.nodes.push({ kind: 'upsample', name: prefix, input, scale: spec.scale });
      return prefix;
    case 'Detect':
      throw new Error('Detect is the head, not a body layer');
  }
}

/** The model's eval-mode graph with BN folded, from its plan and current weights. */
export function buildExportGraph(model: YoloModel): ExportGraph {
  const weights = new Weights(model.stateDict());
  const b = new Builder(weights);
  const outputs: string[] = [];
  const resolve = (i: number, f: number): string => {
    const j = f === -1 ? i - 1 : f < 0 ? i + f : f;
    return j < 0 ? INPUT : outputs[j]!;
  };
  let detect: ExportGraph['detect'] | null = null;
  for (const layer of model.plan) {
    const froms = Array.isArray(layer.from) ? layer.from : [layer.from];
    const inputs = froms.map((f) => resolve(layer.i, f));
    const prefix = `model.${layer.i}`;
    if (layer.spec.type === 'Detect') {
      detect = detectHead(model, weights, prefix, inputs, layer.spec.ch);
      outputs.push(prefix);
      continue;
    }
    let y = inputs;
    // n > 1 repeats of a non-C3 module are nn.Sequential: model.i.0, model.i.1, ...
    for (let r = 0; r < layer.repeats; r++) y = [addLayer(b, layer, y, layer.repeats > 1 ? `${prefix}.${r}` : prefix)];
    outputs.push(y[0]!);
  }
  if (!detect) throw new Error('export: the model has no Detect layer');
  return { channels: model.ch, nodes: b.nodes, detect };
}

function detectHead(
  model: YoloModel,
  weights: Weights,
  prefix: string,
  inputs: string[],
  channels: number[],
): ExportGraph['detect'] {
  const anchors = model.anchorsPixels;
  const { na, no, nc } = model;
  const layers = inputs.map((input, i) => ({
    name: `${prefix}.m.${i}`,
    input,
    channels: channels[i]!,
    weight: weights.get(`${prefix}.m.${i}.weight`),
    bias: weights.get(`${prefix}.m.${i}.bias`),
    stride: model.stride[i]!,
    anchors: anchors.slice(i * na * 2, (i + 1) * na * 2),
  }));
  return { na, no, nc, layers };
}

/** Rows of the inference output [bs, N, no] for an H x W input: sum over layers of na*ny*nx. */
export function outputRows(graph: ExportGraph, height: number, width: number): number {
  return graph.detect.layers.reduce((n, l) => n + graph.detect.na * (height / l.stride) * (width / l.stride), 0);
}

/** [height, width, channels] of every node's output for an H x W input (static shapes). */
export function featureShapes(
  graph: ExportGraph,
  height: number,
  width: number,
): Map<string, [number, number, number]> {
  const shapes = new Map<string, [number, number, number]>([[INPUT, [height, width, graph.channels]]]);
  const of = (name: string): [number, number, number] => {
    const shape = shapes.get(name);
    if (!shape) throw new Error(`export graph: ${name} is used before it is computed`);
    return shape;
  };
  for (const node of graph.nodes) {
    switch (node.kind) {
      case 'conv': {
        const [h, w] = of(node.input);
        const [out, , k] = node.shape;
        const size = (n: number) => Math.floor((n + 2 * node.pad - k) / node.stride) + 1;
        shapes.set(node.name, [size(h), size(w), out]);
        break;
      }
      case 'add':
      case 'maxpool':
        shapes.set(node.name, of(node.kind === 'add' ? node.inputs[0] : node.input));
        break;
      case 'concat': {
        const [h, w] = of(node.inputs[0]!);
        shapes.set(node.name, [h, w, node.inputs.reduce((c, name) => c + of(name)[2], 0)]);
        break;
      }
      case 'upsample': {
        const [h, w, c] = of(node.input);
        shapes.set(node.name, [h * node.scale, w * node.scale, c]);
        break;
      }
      case 'space-to-depth': {
        const [h, w, c] = of(node.input);
        shapes.set(node.name, [h / 2, w / 2, 4 * c]);
        break;
      }
    }
  }
  return shapes;
}

/** Detect's grid minus 0.5, flattened: (gx - 0.5, gy - 0.5) for cell gy*nx + gx, [ny*nx, 2]. */
export function cellGrid(ny: number, nx: number): Float32Array {
  const grid = new Float32Array(ny * nx * 2);
  for (let y = 0; y < ny; y++)
    for (let x = 0; x < nx; x++) {
      grid[(y * nx + x) * 2] = x - 0.5;
      grid[(y * nx + x) * 2 + 1] = y - 0.5;
    }
  return grid;
}
