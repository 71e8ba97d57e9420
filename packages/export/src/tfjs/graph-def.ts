/**
 * A TensorFlow GraphDef in the JSON form tfjs-converter writes into model.json
 * (`modelTopology`): NodeDefs with proto3-JSON attributes (int64 as strings, bytes as
 * base64), constants as `Const` nodes whose values live in the weight shards under the same
 * name. The builder keeps the nodes and the constants' data together so they cannot disagree.
 */

export type TfDtype = 'DT_FLOAT' | 'DT_INT32';

/** tensorflow.AttrValue, JSON mapping. */
export type AttrValue =
  | { i: string }
  | { b: boolean }
  | { s: string }
  | { type: TfDtype }
  | { shape: TensorShape }
  | { list: { i?: string[]; s?: string[] } }
  | { tensor: { dtype: TfDtype; tensorShape: TensorShape } };

export interface TensorShape {
  dim: { size: string }[];
}

export interface NodeDef {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, AttrValue>;
}

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
}

export const attr = {
  int: (v: number): AttrValue => ({ i: String(v) }),
  bool: (v: boolean): AttrValue => ({ b: v }),
  string: (v: string): AttrValue => ({ s: Buffer.from(v, 'utf8').toString('base64') }),
  ints: (v: number[]): AttrValue => ({ list: { i: v.map(String) } }),
  strings: (v: string[]): AttrValue => ({ list: { s: v.map((x) => Buffer.from(x, 'utf8').toString('base64')) } }),
  dtype: (v: TfDtype): AttrValue => ({ type: v }),
  shape: (dims: number[]): AttrValue => ({ shape: tensorShape(dims) }),
};

export function tensorShape(dims: number[]): TensorShape {
  return { dim: dims.map((d) => ({ size: String(d) })) };
}

export class TfGraphBuilder {
  readonly nodes: NodeDef[] = [];
  readonly weights: WeightSpec[] = [];
  readonly weightData: (Float32Array | Int32Array)[] = [];
  private readonly names = new Set<string>();

  /** A float op (attribute T = DT_FLOAT); returns its output name. */
  op(op: string, name: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    this.add({ name, op, input: inputs, attr: { T: attr.dtype('DT_FLOAT'), ...attrs } });
    return name;
  }

  placeholder(name: string, dims: number[]): string {
    this.add({ name, op: 'Placeholder', attr: { dtype: attr.dtype('DT_FLOAT'), shape: attr.shape(dims) } });
    return name;
  }

  floats(name: string, data: Float32Array, shape: number[]): string {
    return this.constant(name, data, shape, 'DT_FLOAT');
  }

  ints(name: string, values: number[]): string {
    return this.constant(name, Int32Array.from(values), [values.length], 'DT_INT32');
  }

  /** Scalar int32 (axes). */
  scalarInt(name: string, value: number): string {
    return this.constant(name, Int32Array.of(value), [], 'DT_INT32');
  }

  private constant(name: string, data: Float32Array | Int32Array, shape: number[], dtype: TfDtype): string {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== data.length)
      throw new Error(`TF graph: constant ${name} has ${data.length} values for shape [${shape}]`);
    this.add({
      name,
      op: 'Const',
      attr: { value: { tensor: { dtype, tensorShape: tensorShape(shape) } }, dtype: attr.dtype(dtype) },
    });
    this.weights.push({ name, shape, dtype: dtype === 'DT_FLOAT' ? 'float32' : 'int32' });
    this.weightData.push(data);
    return name;
  }

  private add(node: NodeDef): void {
    if (this.names.has(node.name)) throw new Error(`TF graph: the node name ${node.name} is used twice`);
    this.names.add(node.name);
    this.nodes.push(node);
  }
}
