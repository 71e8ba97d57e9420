// Whether the backward pass recomputes each layer's forward (yolo's forwardBackward) or keeps
// every intermediate on one tf.variableGrads tape. Keeping them is ~20-25% less compute
// (yolov5n, wasm, 160 px, batch 8: 396 vs 497 CPU-ms a step), but the tape's peak memory is
// about 4x larger, and wasm has one 4 GB heap per process that never shrinks. So on wasm we
// keep the tape when its estimated peak fits a budget and recompute otherwise; other
// backends always keep it.

/** Tape peak per input pixel per image at width_multiple 1 (measured with tf.profile on wasm:
 * yolov5n 443 MiB and yolov5s 922 MiB at 160 px batch 8, i.e. ~9.1 KB x width_multiple;
 * yolov5n at 320 px batch 8 1712 MiB). Deeper models (depth_multiple > 0.33) scale it up. */
const TAPE_BYTES_PER_PIXEL = 9.1e3;
/** Plus what does not grow with the batch: weights, their gradients and the loss's tensors,
 * about 3 float32 copies of the parameters (yolov5n at 96 px batch 2: 61.5 MB measured). */
const TAPE_PARAM_COPIES = 3;
/** What the tape may take of wasm's 4 GB heap (the rest: weights, optimizer, the batch,
 * allocator slack). */
export const TAPE_BUDGET_BYTES = 2 * 2 ** 30;

export interface RecomputeInput {
  backend: string;
  /** images per forward on this rank */
  batch: number;
  /** the largest training image side this run feeds (1.5x + gs with --multi-scale) */
  maxSide: number;
  widthMultiple: number;
  depthMultiple: number;
  /** trainable parameter count */
  params: number;
  /** YOLO_TRAIN_RECOMPUTE: '1' forces recompute, '0' forces the tape */
  env?: string | undefined;
}

export interface RecomputeChoice {
  recompute: boolean;
  /** estimated peak of the tape, bytes */
  tapeBytes: number;
  reason: string;
}

export function chooseRecompute(x: RecomputeInput): RecomputeChoice {
  const tapeBytes =
    TAPE_PARAM_COPIES * 4 * x.params +
    TAPE_BYTES_PER_PIXEL * x.widthMultiple * Math.max(1, x.depthMultiple / 0.33) * x.batch * x.maxSide * x.maxSide;
  const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
  if (x.env === '1' || x.env === '0')
    return { recompute: x.env === '1', tapeBytes, reason: `YOLO_TRAIN_RECOMPUTE=${x.env}` };
  if (x.backend !== 'wasm') return { recompute: false, tapeBytes, reason: `${x.backend} backend` };
  return tapeBytes <= TAPE_BUDGET_BYTES
    ? {
        recompute: false,
        tapeBytes,
        reason: `estimated tape ${mib(tapeBytes)} fits the ${mib(TAPE_BUDGET_BYTES)} budget`,
      }
    : {
        recompute: true,
        tapeBytes,
        reason: `estimated tape ${mib(tapeBytes)} exceeds the ${mib(TAPE_BUDGET_BYTES)} budget of wasm's 4 GB heap`,
      };
}
