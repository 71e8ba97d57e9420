// @yolo-launch/export: export.py for our detectors (ONNX, TF.js graph model); see README.md.
export { buildExportGraph, outputRows, INPUT } from './graph.js';
export type { ExportGraph, GraphNode, DetectLayer } from './graph.js';
export { foldBatchNorm } from './fuse.js';
export type { FoldedConv, BatchNormParams } from './fuse.js';
export { toOnnx, ONNX_OUTPUT, ONNX_OPSETS } from './onnx/emit.js';
export type { OnnxExportOptions } from './onnx/emit.js';
export { loadWeights, WeightsError } from './weights.js';
export type { LoadedWeights } from './weights.js';
export { toTfjsGraph, TFJS_INPUT, TFJS_OUTPUT } from './tfjs/emit.js';
export type { TfjsExportOptions, TfjsGraphModel } from './tfjs/emit.js';
export { graphModelFiles, fileSystemHandler, SHARD_BYTES } from './tfjs/files.js';
export { writeDirAtomic, writeFileAtomic } from './atomic.js';
