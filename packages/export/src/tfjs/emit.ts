/**
 * The export graph as a TF.js graph model (model.json + weight shards), with the convention
 * of YOLOv5's `export.py --include tfjs` (`*_web_model/`, made from models/tf.py's TFModel):
 *   input  `x`        [B, H, W, 3] NHWC float 0-1
 *   output `Identity` [B, N, 5+nc]: xywh normalised to 0-1 by (W, H), then obj and class
 *          probabilities; rows cell-major, (gy*nx + gx)*na + a per layer, layers P3, P4, P5
 *          (TFDetect's reshape order, which differs from the ONNX/PyTorch row order).
 * Convolutions hold the BN-folded weights as HWIO filters with explicit padding, as
 * tensorflowjs_converter writes them (_FusedConv2D + BiasAdd; SiLU as x * Sigmoid(x)).
 */
import { oihwToHwio } from '@yolo-launch/yolo';
import {
  cellGrid,
  featureShapes,
  INPUT,
  outputRows,
  type DetectLayer,
  type ExportGraph,
  type GraphNode,
} from '../graph.js';
import { attr, tensorShape, TfGraphBuilder, type NodeDef, type WeightSpec } from './graph-def.js';

export const TFJS_INPUT = 'x';
export const TFJS_OUTPUT = 'Identity';

export interface TfjsExportOptions {
  height: number;
  width: number;
  batch: number;
  metadata: Record<string, unknown>;
  convertedBy: string;
}

/** model.json's content before the shard paths are known. */
export interface TfjsGraphModel {
  modelJson: {
    format: 'graph-model';
    generatedBy: string;
    convertedBy: string;
    signature: Record<
      'inputs' | 'outputs',
      Record<string, { name: string; dtype: 'DT_FLOAT'; tensorShape: ReturnType<typeof tensorShape> }>
    >;
    modelTopology: { node: NodeDef[]; library: Record<string, never>; versions: Record<string, never> };
    userDefinedMetadata: Record<string, unknown>;
  };
  weights: WeightSpec[];
  weightData: (Float32Array | Int32Array)[];
}

type Shapes = Map<string, [number, number, number]>;

export function toTfjsGraph(graph: ExportGraph, opts: TfjsExportOptions): TfjsGraphModel {
  const b = new TfGraphBuilder();
  const shapes = featureShapes(graph, opts.height, opts.width);
  const inputDims = [opts.batch, opts.height, opts.width, graph.channels];
  // our node names refer to the image as INPUT: give the placeholder YOLOv5's name and alias it
  b.placeholder(TFJS_INPUT, inputDims);
  b.op('Identity', INPUT, [TFJS_INPUT]);
  for (const node of graph.nodes) lowerNode(b, node, shapes);
  const parts = graph.detect.layers.map((layer) => detectLayer(b, graph, layer, opts));
  const cat = concat(b, 'detect.concat', parts, 1);
  b.op('Identity', TFJS_OUTPUT, [cat]);
  const outputDims = [opts.batch, outputRows(graph, opts.height, opts.width), graph.detect.no];
  return {
    modelJson: {
      format: 'graph-model',
      generatedBy: 'yolo-launch export',
      convertedBy: opts.convertedBy,
      signature: {
        inputs: { [TFJS_INPUT]: { name: `${TFJS_INPUT}:0`, dtype: 'DT_FLOAT', tensorShape: tensorShape(inputDims) } },
        outputs: {
          [TFJS_OUTPUT]: { name: `${TFJS_OUTPUT}:0`, dtype: 'DT_FLOAT', tensorShape: tensorShape(outputDims) },
        },
      },
      modelTopology: { node: b.nodes, library: {}, versions: {} },
      userDefinedMetadata: opts.metadata,
    },
    weights: b.weights,
    weightData: b.weightData,
  };
}

function concat(b: TfGraphBuilder, name: string, inputs: string[], axis: number): string {
  return b.op('ConcatV2', name, [...inputs, b.scalarInt(`${name}/axis`, axis)], {
    N: attr.int(inputs.length),
    Tidx: attr.dtype('DT_INT32'),
  });
}

function conv2d(
  b: TfGraphBuilder,
  name: string,
  input: string,
  weightOihw: Float32Array,
  shape: [number, number, number, number],
  bias: Float32Array,
  stride: number,
  pad: number,
): string {
  const [out, inCh, kh, kw] = shape;
  const filter = b.floats(`${name}/filter`, oihwToHwio(weightOihw, shape), [kh, kw, inCh, out]);
  return b.op('_FusedConv2D', name, [input, filter, b.floats(`${name}/bias`, bias, [out])], {
    num_args: attr.int(1),
    fused_ops: attr.strings(['BiasAdd']),
    strides: attr.ints([1, stride, stride, 1]),
    padding: attr.string('EXPLICIT'),
    explicit_paddings: attr.ints([0, 0, pad, pad, pad, pad, 0, 0]),
    dilations: attr.ints([1, 1, 1, 1]),
    data_format: attr.string('NHWC'),
  });
}

function lowerNode(b: TfGraphBuilder, node: GraphNode, shapes: Shapes): void {
  switch (node.kind) {
    case 'conv': {
      if (!node.act) {
        conv2d(b, node.name, node.input, node.weight, node.shape, node.bias, node.stride, node.pad);
        return;
      }
      const y = conv2d(b, `${node.name}/conv`, node.input, node.weight, node.shape, node.bias, node.stride, node.pad);
      b.op('Mul', node.name, [y, b.op('Sigmoid', `${node.name}/sigmoid`, [y])]);
      return;
    }
    case 'add':
      b.op('AddV2', node.name, node.inputs);
      return;
    case 'concat':
      concat(b, node.name, node.inputs, 3);
      return;
    case 'maxpool':
      // stride 1, odd kernel: SAME pads k//2 on each side and ignores the padding, like PyTorch's -inf padding
      b.op('MaxPool', node.name, [node.input], {
        ksize: attr.ints([1, node.k, node.k, 1]),
        strides: attr.ints([1, 1, 1, 1]),
        padding: attr.string('SAME'),
        data_format: attr.string('NHWC'),
      });
      return;
    case 'upsample': {
      const [h, w] = shapes.get(node.name)!;
      b.op('ResizeNearestNeighbor', node.name, [node.input, b.ints(`${node.name}/size`, [h, w])], {
        align_corners: attr.bool(false),
        half_pixel_centers: attr.bool(false),
      });
      return;
    }
    case 'space-to-depth': {
      // [B, h/2, dh, w/2, dw, c] -> [B, h/2, w/2, dw, dh, c]: channel block 2*dw + dh, as Focus
      const [h, w, c] = shapes.get(node.name)!;
      const blocks = b.op(
        'Reshape',
        `${node.name}/blocks`,
        [node.input, b.ints(`${node.name}/blocks/shape`, [-1, h, 2, w, 2, c / 4])],
        { Tshape: attr.dtype('DT_INT32') },
      );
      const moved = b.op('Transpose', `${node.name}/moved`, [blocks, b.ints(`${node.name}/perm`, [0, 1, 3, 4, 2, 5])], {
        Tperm: attr.dtype('DT_INT32'),
      });
      b.op('Reshape', node.name, [moved, b.ints(`${node.name}/shape`, [-1, h, w, c])], {
        Tshape: attr.dtype('DT_INT32'),
      });
      return;
    }
  }
}

/** TFDetect.call for one layer: decoded, normalised [B, ny*nx*na, no]. */
function detectLayer(b: TfGraphBuilder, graph: ExportGraph, layer: DetectLayer, opts: TfjsExportOptions): string {
  const { na, no } = graph.detect;
  const p = layer.name;
  const ny = opts.height / layer.stride;
  const nx = opts.width / layer.stride;
  const conv = conv2d(b, `${p}/conv`, layer.input, layer.weight, [na * no, layer.channels, 1, 1], layer.bias, 1, 0);
  const reshape = { Tshape: attr.dtype('DT_INT32') };
  const cells = b.op('Reshape', `${p}/cells`, [conv, b.ints(`${p}/cells/shape`, [-1, ny * nx, na, no])], reshape);
  const s = b.op('Sigmoid', `${p}/sigmoid`, [cells]);
  b.op('SplitV', `${p}/split`, [s, b.ints(`${p}/split/sizes`, [2, 2, no - 4]), b.scalarInt(`${p}/split/axis`, -1)], {
    num_split: attr.int(3),
    Tlen: attr.dtype('DT_INT32'),
  });
  const two = b.floats(`${p}/two`, Float32Array.of(2), []);
  const imageWh = b.floats(`${p}/image_wh`, Float32Array.of(opts.width, opts.height), [2]);
  const grid = b.floats(`${p}/grid`, cellGrid(ny, nx), [1, ny * nx, 1, 2]);
  const xy2 = b.op('AddV2', `${p}/xy_grid`, [b.op('Mul', `${p}/xy2`, [`${p}/split`, two]), grid]);
  const xy = b.op('RealDiv', `${p}/xy`, [
    b.op('Mul', `${p}/xy_px`, [xy2, b.floats(`${p}/stride`, Float32Array.of(layer.stride), [])]),
    imageWh,
  ]);
  const wh2 = b.op('Square', `${p}/wh_sq`, [b.op('Mul', `${p}/wh2`, [`${p}/split:1`, two])]);
  const wh = b.op('RealDiv', `${p}/wh`, [
    b.op('Mul', `${p}/wh_px`, [wh2, b.floats(`${p}/anchor_grid`, layer.anchors, [1, 1, na, 2])]),
    imageWh,
  ]);
  const decoded = concat(b, `${p}/decoded`, [xy, wh, `${p}/split:2`], 3);
  return b.op('Reshape', `${p}/out`, [decoded, b.ints(`${p}/out/shape`, [-1, ny * nx * na, no])], reshape);
}
