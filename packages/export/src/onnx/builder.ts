/**
 * Collects ONNX nodes and initializers and encodes the ModelProto with the onnx.proto schema
 * compiled by protobufjs (the `onnx-proto` package): no hand-written protobuf bytes here.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
/** Every attribute we write is an int, a list of ints or a string. */
type AttributeValue = number | number[] | string;

export interface ValueInfo {
  name: string;
  /** Fixed sizes, or a symbolic name ('batch', 'height', ...) for a dynamic axis. */
  dims: (number | string)[];
}

export interface ModelInfo {
  opset: number;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  metadata: Record<string, string>;
  producerVersion: string;
}

export class OnnxGraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly names = new Set<string>();

  /** Adds a node with one output named `output`; returns that name. */
  node(op: string, inputs: string[], output: string, attributes: Record<string, AttributeValue> = {}): string {
    this.claim(output);
    this.nodes.push({
      opType: op,
      name: `${op}:${output}`,
      input: inputs,
      output: [output],
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    });
    return output;
  }

  /** A float32 initializer (weights, grids, scalars); returns its name. */
  floats(name: string, data: Float32Array, dims: number[]): string {
    this.claim(name);
    const bytes = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytes });
    return name;
  }

  /** An int64 initializer (shapes, slice bounds, indices); dims [] for a scalar. */
  int64s(name: string, values: number[], dims: number[] = [values.length]): string {
    this.claim(name);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({
      name,
      dims,
      dataType: onnx.TensorProto.DataType.INT64,
      rawData: new Uint8Array(data.buffer),
    });
    return name;
  }

  encode(info: ModelInfo): Uint8Array {
    const model = onnx.ModelProto.create({
      // IR 7 for opsets up to 14 (what torch.onnx writes for opset 12), IR 8 above.
      irVersion: info.opset <= 14 ? 7 : 8,
      producerName: 'yolo-launch',
      producerVersion: info.producerVersion,
      opsetImport: [{ domain: '', version: info.opset }],
      graph: {
        name: 'main_graph',
        node: this.nodes,
        initializer: this.initializers,
        input: info.inputs.map(valueInfo),
        output: info.outputs.map(valueInfo),
      },
      metadataProps: Object.entries(info.metadata).map(([key, value]) => ({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`ONNX graph: the value name ${name} is used twice`);
    this.names.add(name);
  }
}

function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const type = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: type.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: type.INTS, ints: value };
  if (!Number.isInteger(value)) throw new Error(`ONNX attribute ${name}: ${value} is not an integer`);
  return { name, type: type.INT, i: value };
}

function valueInfo(v: ValueInfo): onnxProto.onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}
