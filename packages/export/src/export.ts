/**
 * export.py's run(): load the weights, build the fused inference graph once, write each
 * requested format beside the weights (best.pt -> best.onnx, best_web_model/), and print
 * what YOLOv5 prints (output shape, per-format time and size, how to use the result).
 */
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '@yolo-launch/backend';
import { checkImgSize } from '@yolo-launch/yolo';
import { writeDirAtomic, writeFileAtomic } from './atomic.js';
import { buildExportGraph, outputRows, type ExportGraph } from './graph.js';
import { toOnnx } from './onnx/emit.js';
import type { ExportFormat, ExportOptions } from './options.js';
import { toTfjsGraph } from './tfjs/emit.js';
import { graphModelFiles } from './tfjs/files.js';
import { loadWeights } from './weights.js';

export const PRODUCER_VERSION = '0.1.0';

export interface ExportedFile {
  format: ExportFormat;
  path: string;
  bytes: number;
  seconds: number;
}

export interface ExportResult {
  files: ExportedFile[];
  /** [height, width] after rounding up to the model's stride. */
  imgsz: [number, number];
  outputShape: [number, number, number];
  seconds: number;
}

/** Where export.py puts each format: Path(weights).with_suffix('.onnx'), '<stem>_web_model'. */
export function outputPath(weights: string, format: ExportFormat): string {
  const parsed = path.parse(weights);
  return format === 'onnx'
    ? path.join(parsed.dir, `${parsed.name}.onnx`)
    : path.join(parsed.dir, `${parsed.name}_web_model`);
}

/** YOLOv5 stores names as a dict; export.py writes str(dict) into the ONNX metadata. */
export function pythonNamesRepr(names: readonly string[]): string {
  const quote = (s: string) =>
    s.includes("'") && !s.includes('"') ? `"${s}"` : `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return `{${names.map((n, i) => `${i}: ${quote(n)}`).join(', ')}}`;
}

export async function runExport(opts: ExportOptions, log: (line: string) => void = console.log): Promise<ExportResult> {
  const started = performance.now();
  await initBackend({ backend: opts.backend });
  const { model, names, file } = loadWeights(opts.weights);
  const gs = Math.max(...model.stride);
  const imgsz = opts.imgsz.map((v) => checkImgSize(v, gs)) as [number, number];
  if (imgsz[0] !== opts.imgsz[0] || imgsz[1] !== opts.imgsz[1])
    log(
      `WARNING ⚠️ --img-size ${opts.imgsz.join(' ')} must be multiple of max stride ${gs}, updating to ${imgsz.join(' ')}`,
    );
  const graph = buildExportGraph(model);
  const outputShape: [number, number, number] = [
    opts.batchSize,
    outputRows(graph, imgsz[0], imgsz[1]),
    graph.detect.no,
  ];
  log(
    `\nWeights: starting from ${file} with output shape (${outputShape.join(', ')}) (${megabytes(statSync(file).size)} MB)`,
  );
  const files: ExportedFile[] = [];
  for (const format of opts.include) {
    const t0 = performance.now();
    const target = outputPath(file, format);
    const { label, write } = WRITERS[format];
    log(`\n${label}: starting export with yolo-launch ${PRODUCER_VERSION}...`);
    const bytes = write({ graph, target, opts, height: imgsz[0], width: imgsz[1], stride: gs, names });
    const seconds = (performance.now() - t0) / 1000;
    files.push({ format, path: target, bytes, seconds });
    log(`${label}: export success ✅ ${seconds.toFixed(1)}s, saved as ${target} (${megabytes(bytes)} MB)`);
  }
  model.dispose();
  const seconds = (performance.now() - started) / 1000;
  log(`\nExport complete (${seconds.toFixed(1)}s)\nResults saved to ${path.resolve(path.dirname(file))}`);
  for (const f of files) log(usageHint(f));
  return { files, imgsz, outputShape, seconds };
}

/** What writing one format needs: the graph, where to, the options, and the metadata export.py records. */
interface WriteJob {
  graph: ExportGraph;
  target: string;
  opts: ExportOptions;
  height: number;
  width: number;
  stride: number;
  names: string[];
}

/** Writes `target` atomically; returns the bytes written. */
function writeOnnx({ graph, target, opts, height, width, stride, names }: WriteJob): number {
  const bytes = toOnnx(graph, {
    height,
    width,
    batch: opts.batchSize,
    dynamic: opts.dynamic,
    opset: opts.opset,
    metadata: { stride: String(stride), names: pythonNamesRepr(names) },
    producerVersion: PRODUCER_VERSION,
  });
  writeFileAtomic(target, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return bytes.byteLength;
}

/** Writes the `target` folder atomically; returns the bytes of its files. */
function writeTfjs({ graph, target, opts, height, width, stride, names }: WriteJob): number {
  const model = toTfjsGraph(graph, {
    height,
    width,
    batch: opts.dynamic ? -1 : opts.batchSize,
    metadata: { stride, names, imgsz: [height, width] },
    convertedBy: `yolo-launch ${PRODUCER_VERSION}`,
  });
  const files = graphModelFiles(model);
  writeDirAtomic(target, files);
  return [...files.values()].reduce((n, d) => n + (typeof d === 'string' ? Buffer.byteLength(d) : d.byteLength), 0);
}

/** Each format's name in export.py's log lines, and its writer. */
const WRITERS: Record<ExportFormat, { label: string; write: (job: WriteJob) => number }> = {
  onnx: { label: 'ONNX', write: writeOnnx },
  tfjs: { label: 'TensorFlow.js', write: writeTfjs },
};

function usageHint(f: ExportedFile): string {
  if (f.format === 'onnx')
    return `ONNX:            onnxruntime / cv2.dnn.readNetFromONNX('${f.path}'): input 'images' NCHW float 0-1, output 'output0' [B, N, 5+nc] xywh pixels`;
  return `TensorFlow.js:   tf.loadGraphModel('${path.basename(f.path)}/model.json'): input NHWC float 0-1, output [B, N, 5+nc] xywh 0-1 (see examples/web)`;
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}
