/**
 * The export graph as ONNX, the way YOLOv5's export.py (torch.onnx.export of the fused model)
 * lays it out: input `images` [B, 3, H, W] (NCHW, float 0-1), output `output0` [B, N, 5+nc]
 * (Detect's decoded inference output, rows a*ny*nx + gy*nx + gx, layers P3, P4, P5),
 * metadata_props `stride` and `names`. With `dynamic`, batch, height and width are symbolic
 * and the Detect grids are computed in the graph from the feature map's shape.
 */
import type { DetectLayer, ExportGraph, GraphNode } from '../graph.js';
import { cellGrid, INPUT, outputRows } from '../graph.js';
import { OnnxGraphBuilder } from './builder.js';

export const ONNX_OUTPUT = 'output0';

export interface OnnxExportOptions {
  height: number;
  width: number;
  batch: number;
  dynamic: boolean;
  opset: number;
  metadata: Record<string, string>;
  producerVersion: string;
}

const INT64_MAX = Number.MAX_SAFE_INTEGER; // Slice end "to the end of the axis"

export function toOnnx(graph: ExportGraph, opts: OnnxExportOptions): Uint8Array {
  const b = new OnnxGraphBuilder();
  for (const node of graph.nodes) lowerNode(b, node);
  const parts = graph.detect.layers.map((layer) => detectLayer(b, graph, layer, opts));
  b.node('Concat', parts, ONNX_OUTPUT, { axis: 1 });
  const batch = opts.dynamic ? 'batch' : opts.batch;
  return b.encode({
    opset: opts.opset,
    inputs: [
      {
        name: INPUT,
        dims: [batch, graph.channels, opts.dynamic ? 'height' : opts.height, opts.dynamic ? 'width' : opts.width],
      },
    ],
    outputs: [
      {
        name: ONNX_OUTPUT,
        dims: [batch, opts.dynamic ? 'anchors' : outputRows(graph, opts.height, opts.width), graph.detect.no],
      },
    ],
    metadata: opts.metadata,
    producerVersion: opts.producerVersion,
  });
}

function lowerNode(b: OnnxGraphBuilder, node: GraphNode): void {
  switch (node.kind) {
    case 'conv': {
      const [, , k] = node.shape;
      const inputs = [
        node.input,
        b.floats(`${node.name}.weight`, node.weight, node.shape),
        b.floats(`${node.name}.bias`, node.bias, [node.bias.length]),
      ];
      const attrs = {
        kernel_shape: [k, k],
        strides: [node.stride, node.stride],
        pads: [node.pad, node.pad, node.pad, node.pad],
      };
      if (!node.act) {
        b.node('Conv', inputs, node.name, attrs);
        return;
      }
      // SiLU as torch.onnx writes it before opset 14: x * Sigmoid(x)
      const conv = b.node('Conv', inputs, `${node.name}.conv`, attrs);
      b.node('Mul', [conv, b.node('Sigmoid', [conv], `${node.name}.sigmoid`)], node.name);
      return;
    }
    case 'add':
      b.node('Add', node.inputs, node.name);
      return;
    case 'concat':
      b.node('Concat', node.inputs, node.name, { axis: 1 });
      return;
    case 'maxpool': {
      const p = Math.floor(node.k / 2);
      b.node('MaxPool', [node.input], node.name, {
        kernel_shape: [node.k, node.k],
        strides: [1, 1],
        pads: [p, p, p, p],
      });
      return;
    }
    case 'upsample': {
      // nn.Upsample(mode='nearest'): out[i] = in[floor(i / s)] = asymmetric + floor
      const roi = b.floats(`${node.name}.roi`, new Float32Array(0), [0]);
      const scales = b.floats(`${node.name}.scales`, Float32Array.of(1, 1, node.scale, node.scale), [4]);
      b.node('Resize', [node.input, roi, scales], node.name, {
        mode: 'nearest',
        coordinate_transformation_mode: 'asymmetric',
        nearest_mode: 'floor',
      });
      return;
    }
    case 'space-to-depth':
      spaceToDepth(b, node.name, node.input);
      return;
  }
}

/** Focus: cat(x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]) on (H, W). */
function spaceToDepth(b: OnnxGraphBuilder, name: string, input: string): void {
  const axes = b.int64s(`${name}.axes`, [2, 3]);
  const steps = b.int64s(`${name}.steps`, [2, 2]);
  const ends = b.int64s(`${name}.ends`, [INT64_MAX, INT64_MAX]);
  const slices = [
    [0, 0],
    [1, 0],
    [0, 1],
    [1, 1],
  ].map(([h, w]) =>
    b.node('Slice', [input, b.int64s(`${name}.starts${h}${w}`, [h!, w!]), ends, axes, steps], `${name}.slice${h}${w}`),
  );
  b.node('Concat', slices, name, { axis: 1 });
}

/**
 * One Detect layer: 1x1 conv, [B, na*no, ny, nx] -> [B, na, ny*nx, no], sigmoid,
 * xy = (2*s + grid) * stride, wh = (2*s)^2 * anchor, rows flattened to [B, na*ny*nx, no].
 */
function detectLayer(b: OnnxGraphBuilder, graph: ExportGraph, layer: DetectLayer, opts: OnnxExportOptions): string {
  const { na, no } = graph.detect;
  const p = layer.name;
  const conv = b.node(
    'Conv',
    [
      layer.input,
      b.floats(`${p}.weight`, layer.weight, [na * no, layer.channels, 1, 1]),
      b.floats(`${p}.bias`, layer.bias, [na * no]),
    ],
    `${p}.conv`,
    {
      kernel_shape: [1, 1],
      strides: [1, 1],
    },
  );
  const ny = opts.height / layer.stride;
  const nx = opts.width / layer.stride;
  const cells = opts.dynamic ? -1 : ny * nx;
  const batch = opts.dynamic ? 0 : opts.batch; // Reshape's 0 copies the input's batch size
  const grouped = b.node('Reshape', [conv, b.int64s(`${p}.shape5`, [batch, na, no, cells])], `${p}.grouped`);
  const cellsFirst = b.node('Transpose', [grouped], `${p}.transposed`, { perm: [0, 1, 3, 2] });
  const s = b.node('Sigmoid', [cellsFirst], `${p}.sigmoid`);
  const axis = b.int64s(`${p}.axis`, [3]);
  const slice = (from: number, to: number, tag: string): string =>
    b.node('Slice', [s, b.int64s(`${p}.${tag}.start`, [from]), b.int64s(`${p}.${tag}.end`, [to]), axis], `${p}.${tag}`);
  const two = b.floats(`${p}.two`, Float32Array.of(2), []);
  // Static grids are expanded to the full [1, na, ny*nx, 2] as Detect._make_grid does:
  // OpenCV's DNN importer cannot broadcast an Add over the anchor axis.
  const grid = opts.dynamic
    ? dynamicGrid(b, p, conv)
    : b.floats(`${p}.grid`, repeat(cellGrid(ny, nx), na), [1, na, ny * nx, 2]);
  const xy2 = b.node('Add', [b.node('Mul', [slice(0, 2, 'xy'), two], `${p}.xy2`), grid], `${p}.xygrid`);
  const xy = b.node('Mul', [xy2, b.floats(`${p}.stride`, Float32Array.of(layer.stride), [])], `${p}.xyd`);
  const wh2 = b.node('Mul', [slice(2, 4, 'wh'), two], `${p}.wh2`);
  const anchorGrid = opts.dynamic
    ? b.floats(`${p}.anchor_grid`, layer.anchors, [1, na, 1, 2])
    : b.floats(`${p}.anchor_grid`, expandAnchors(layer.anchors, na, ny * nx), [1, na, ny * nx, 2]);
  const wh = b.node('Mul', [b.node('Mul', [wh2, wh2], `${p}.whsq`), anchorGrid], `${p}.whd`);
  const decoded = b.node('Concat', [xy, wh, slice(4, no, 'conf')], `${p}.decoded`, { axis: 3 });
  return b.node(
    'Reshape',
    [decoded, b.int64s(`${p}.shape3`, [batch, opts.dynamic ? -1 : na * ny * nx, no])],
    `${p}.out`,
  );
}

function repeat(values: Float32Array, times: number): Float32Array {
  const out = new Float32Array(values.length * times);
  for (let t = 0; t < times; t++) out.set(values, t * values.length);
  return out;
}

/** anchor_grid [1, na, cells, 2]: anchor a's (w, h) in pixels in every cell. */
function expandAnchors(anchors: Float32Array, na: number, cells: number): Float32Array {
  const out = new Float32Array(na * cells * 2);
  for (let a = 0; a < na; a++)
    for (let c = 0; c < cells; c++) {
      out[(a * cells + c) * 2] = anchors[a * 2]!;
      out[(a * cells + c) * 2 + 1] = anchors[a * 2 + 1]!;
    }
  return out;
}

/** The same grid from the feature map's runtime shape (for --dynamic): Range, broadcast, stack. */
function dynamicGrid(b: OnnxGraphBuilder, p: string, featureMap: string): string {
  const shape = b.node('Shape', [featureMap], `${p}.fmshape`);
  const zero = b.int64s(`${p}.zero`, [0], []);
  const one = b.int64s(`${p}.one`, [1], []);
  const axisRange = (axis: number, tag: string, reshapeTo: number[]): string => {
    const size = b.node('Gather', [shape, b.int64s(`${p}.dim${axis}`, [axis], [])], `${p}.${tag}size`, { axis: 0 });
    const range = b.node('Cast', [b.node('Range', [zero, size, one], `${p}.${tag}range`)], `${p}.${tag}float`, {
      to: 1,
    });
    return b.node('Reshape', [range, b.int64s(`${p}.${tag}shape`, reshapeTo)], `${p}.${tag}col`);
  };
  const gy = axisRange(2, 'gy', [-1, 1]); // [ny, 1]
  const gx = axisRange(3, 'gx', [1, -1]); // [1, nx]
  const zeroF = b.floats(`${p}.zerof`, Float32Array.of(0), []);
  // broadcast each to [ny, nx] by adding the other times 0
  const fullX = b.node('Add', [gx, b.node('Mul', [gy, zeroF], `${p}.gy0`)], `${p}.gxfull`);
  const fullY = b.node('Add', [gy, b.node('Mul', [gx, zeroF], `${p}.gx0`)], `${p}.gyfull`);
  const column = b.int64s(`${p}.column`, [-1, 1]);
  const stacked = b.node(
    'Concat',
    [b.node('Reshape', [fullX, column], `${p}.gxflat`), b.node('Reshape', [fullY, column], `${p}.gyflat`)],
    `${p}.gridxy`,
    { axis: 1 },
  );
  const centred = b.node('Sub', [stacked, b.floats(`${p}.half`, Float32Array.of(0.5), [])], `${p}.gridc`);
  return b.node('Reshape', [centred, b.int64s(`${p}.gridshape`, [1, 1, -1, 2])], `${p}.grid`);
}
