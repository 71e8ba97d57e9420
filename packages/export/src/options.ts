/**
 * export.py's command line (YOLOv5 v7.0 names and defaults), checked before any work starts.
 * Formats and flags YOLOv5 has but this export does not produce are refused by name with
 * what we support, never silently ignored.
 */
import yargs from 'yargs';
import { existsSync } from 'node:fs';
import { missingWeights, UsageError } from './errors.js';

export { UsageError };

/** export.py's --include names, and the ones written here. */
export const YOLOV5_FORMATS = [
  'torchscript',
  'onnx',
  'openvino',
  'engine',
  'coreml',
  'saved_model',
  'pb',
  'tflite',
  'edgetpu',
  'tfjs',
  'paddle',
] as const;
export const SUPPORTED_FORMATS = ['onnx', 'tfjs'] as const;
export type ExportFormat = (typeof SUPPORTED_FORMATS)[number];
/** ONNX opsets the writer produces (Slice with steps and Resize need 11; Resize changes again in 18). */
export const ONNX_OPSETS = { min: 11, max: 17 };

export interface ExportOptions {
  weights: string;
  include: ExportFormat[];
  /** [height, width] as given (rounded up to a stride multiple once the model is known). */
  imgsz: [number, number];
  batchSize: number;
  dynamic: boolean;
  opset: number;
  backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
}

/** export.py flags that only concern formats or devices we do not have. */
const REFUSED_FLAGS: Record<string, string> = {
  half: '--half: FP16 export needs a GPU in YOLOv5 (--device 0); this export runs on the CPU, use FP32',
  int8: '--int8 is for CoreML/TF INT8 quantization; onnx and tfjs exports are FP32',
  keras: '--keras is for TF SavedModel export; supported formats: onnx, tfjs',
  optimize: '--optimize is for TorchScript mobile; supported formats: onnx, tfjs',
  nms: '--nms adds TF NMS to saved_model/tflite/tfjs in YOLOv5; not supported here: run NMS on the output (see examples/web)',
  'agnostic-nms': '--agnostic-nms adds TF NMS in YOLOv5; not supported here: run NMS on the output (see examples/web)',
  workspace: '--workspace is for TensorRT engines; supported formats: onnx, tfjs',
};

function parser(argv: readonly string[]) {
  return yargs([...argv])
    .scriptName('yolo-launch export')
    .usage('$0 --weights runs/train/exp/weights/best.pt --include onnx tfjs [--imgsz 640] [--dynamic]')
    .option('weights', { type: 'string', describe: 'model checkpoint (best.pt / last.pt from train)' })
    .option('include', {
      type: 'string',
      array: true,
      default: ['onnx'],
      describe: `formats: ${SUPPORTED_FORMATS.join(', ')} (YOLOv5's default, torchscript, is not available)`,
    })
    .option('imgsz', {
      type: 'number',
      array: true,
      alias: ['img', 'img-size'],
      default: [640, 640],
      describe: 'image (h, w)',
    })
    .option('batch-size', { type: 'number', default: 1, describe: 'batch size' })
    .option('dynamic', {
      type: 'boolean',
      default: false,
      describe: 'ONNX: dynamic batch, height and width; TF.js: dynamic batch',
    })
    .option('opset', { type: 'number', default: 12, describe: `ONNX opset (${ONNX_OPSETS.min}-${ONNX_OPSETS.max})` })
    .option('simplify', {
      type: 'boolean',
      default: false,
      describe: 'ONNX: accepted; the graph is written with constants already folded',
    })
    .option('device', { type: 'string', default: 'cpu', describe: 'cpu (the only device export runs on)' })
    .option('data', {
      type: 'string',
      describe: 'accepted for compatibility (YOLOv5 uses it for TF INT8 calibration only)',
    })
    .option('inplace', {
      type: 'boolean',
      default: false,
      describe: 'accepted for compatibility (no effect on the exported graph)',
    })
    .option('verbose', { type: 'boolean', default: false, describe: 'accepted for compatibility' })
    .option('backend', {
      type: 'string',
      default: 'auto',
      choices: ['auto', 'tensorflow', 'wasm', 'cpu'],
      describe: 'tfjs backend used to load the model',
    })
    .option('half', { type: 'boolean', hidden: true })
    .option('int8', { type: 'boolean', hidden: true })
    .option('keras', { type: 'boolean', hidden: true })
    .option('optimize', { type: 'boolean', hidden: true })
    .option('nms', { type: 'boolean', hidden: true })
    .option('agnostic-nms', { type: 'boolean', hidden: true })
    .option('workspace', { type: 'number', hidden: true })
    .strict()
    .version(false)
    .help('help')
    .alias('help', 'h')
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    });
}

/** Parses and validates; null when --help was printed. Throws UsageError. */
export async function parseExportArgs(argv: readonly string[]): Promise<ExportOptions | null> {
  const args = await parser(argv).parseAsync();
  if (args.help) return null;
  for (const [flag, why] of Object.entries(REFUSED_FLAGS))
    if (args[flag] !== undefined && args[flag] !== false) throw new UsageError(why);
  if (!args.weights) throw new UsageError('--weights is required, e.g. --weights runs/train/exp/weights/best.pt');
  if (args.device !== 'cpu')
    throw new UsageError(`--device ${args.device}: export runs on the CPU only (--device cpu)`);
  const include = args.include.flatMap((f) => f.split(',')).map((f) => f.trim().toLowerCase());
  for (const f of include) {
    if ((SUPPORTED_FORMATS as readonly string[]).includes(f)) continue;
    const known = (YOLOV5_FORMATS as readonly string[]).includes(f)
      ? `YOLOv5's ${f} format is not supported here`
      : `unknown format ${f}`;
    throw new UsageError(`--include ${f}: ${known}; supported: ${SUPPORTED_FORMATS.join(', ')}`);
  }
  const imgsz = args.imgsz.length === 1 ? [args.imgsz[0]!, args.imgsz[0]!] : args.imgsz;
  if (imgsz.length !== 2 || imgsz.some((v) => !Number.isInteger(v) || v <= 0))
    throw new UsageError(`--imgsz ${args.imgsz.join(' ')}: give one size or (height width), positive integers`);
  if (!Number.isInteger(args['batch-size']) || args['batch-size'] < 1)
    throw new UsageError(`--batch-size ${args['batch-size']}: must be a positive integer`);
  if (!Number.isInteger(args.opset) || args.opset < ONNX_OPSETS.min || args.opset > ONNX_OPSETS.max)
    throw new UsageError(
      `--opset ${args.opset}: this export writes opsets ${ONNX_OPSETS.min} to ${ONNX_OPSETS.max} (YOLOv5's default is 12)`,
    );
  if (!existsSync(args.weights)) throw missingWeights(args.weights);
  return {
    weights: args.weights,
    include: [...new Set(include)] as ExportFormat[],
    imgsz: [imgsz[0]!, imgsz[1]!],
    batchSize: args['batch-size'],
    dynamic: args.dynamic,
    opset: args.opset,
    backend: args.backend as ExportOptions['backend'],
  };
}
