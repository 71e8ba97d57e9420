/**
 * utils/general.py box helpers and utils/metrics.py box_iou, on host arrays. Boxes are
 * rows of 4 numbers at a given row stride (so [n, 6] detections can be used in place).
 */
const f = Math.fround;

/** [x, y, w, h] -> [x1, y1, x2, y2] (float32 like torch). */
export function xywh2xyxy(b: ArrayLike<number>, n = b.length / 4, stride = 4): Float32Array {
  const out = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const x = b[i * stride]!;
    const y = b[i * stride + 1]!;
    const w2 = f(b[i * stride + 2]! / 2);
    const h2 = f(b[i * stride + 3]! / 2);
    out[i * 4] = f(x - w2);
    out[i * 4 + 1] = f(y - h2);
    out[i * 4 + 2] = f(x + w2);
    out[i * 4 + 3] = f(y + h2);
  }
  return out;
}

/** [x1, y1, x2, y2] -> [x, y, w, h]. */
export function xyxy2xywh(b: ArrayLike<number>, n = b.length / 4, stride = 4): Float32Array {
  const out = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const x1 = b[i * stride]!;
    const y1 = b[i * stride + 1]!;
    const x2 = b[i * stride + 2]!;
    const y2 = b[i * stride + 3]!;
    out[i * 4] = f(f(x1 + x2) / 2);
    out[i * 4 + 1] = f(f(y1 + y2) / 2);
    out[i * 4 + 2] = f(x2 - x1);
    out[i * 4 + 3] = f(y2 - y1);
  }
  return out;
}

/** Normalised [x, y, w, h] -> pixel [x1, y1, x2, y2] (xywhn2xyxy with padding). */
export function xywhn2xyxy(b: ArrayLike<number>, w = 640, h = 640, padw = 0, padh = 0): Float32Array {
  const n = b.length / 4;
  const out = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const [x, y, bw, bh] = [b[i * 4]!, b[i * 4 + 1]!, b[i * 4 + 2]!, b[i * 4 + 3]!];
    out[i * 4] = w * (x - bw / 2) + padw;
    out[i * 4 + 1] = h * (y - bh / 2) + padh;
    out[i * 4 + 2] = w * (x + bw / 2) + padw;
    out[i * 4 + 3] = h * (y + bh / 2) + padh;
  }
  return out;
}

/** Pixel [x1, y1, x2, y2] -> normalised [x, y, w, h] (xyxy2xywhn; clip first when asked). */
export function xyxy2xywhn(b: ArrayLike<number>, w = 640, h = 640, clip = false): Float32Array {
  const n = b.length / 4;
  const src = Float32Array.from(b);
  if (clip) clipBoxes(src, [h, w], 4);
  const out = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const [x1, y1, x2, y2] = [src[i * 4]!, src[i * 4 + 1]!, src[i * 4 + 2]!, src[i * 4 + 3]!];
    out[i * 4] = (x1 + x2) / 2 / w;
    out[i * 4 + 1] = (y1 + y2) / 2 / h;
    out[i * 4 + 2] = (x2 - x1) / w;
    out[i * 4 + 3] = (y2 - y1) / h;
  }
  return out;
}

/** clip_boxes in place: x to [0, width], y to [0, height]; shape is (height, width). */
export function clipBoxes(b: Float32Array | number[], shape: readonly [number, number], stride = 4): void {
  const [h, w] = shape;
  const n = Math.floor(b.length / stride);
  for (let i = 0; i < n; i++) {
    const o = i * stride;
    b[o] = Math.min(Math.max(b[o]!, 0), w);
    b[o + 1] = Math.min(Math.max(b[o + 1]!, 0), h);
    b[o + 2] = Math.min(Math.max(b[o + 2]!, 0), w);
    b[o + 3] = Math.min(Math.max(b[o + 3]!, 0), h);
  }
}

/** letterbox ratio and padding: [[ratio_w, ratio_h], [padw, padh]] as returned by letterbox / dataset shapes. */
export type RatioPad = readonly [readonly [number, number], readonly [number, number]];

/**
 * scale_boxes in place: boxes (xyxy) from the letterboxed img1_shape (h, w) back to img0_shape
 * (h, w), then clipped. Without ratioPad the gain and padding are recomputed like upstream.
 */
export function scaleBoxes(
  img1Shape: readonly [number, number],
  boxes: Float32Array | number[],
  img0Shape: readonly [number, number],
  ratioPad?: RatioPad,
  stride = 4,
): void {
  let gain: number;
  let padX: number;
  let padY: number;
  if (!ratioPad) {
    gain = Math.min(img1Shape[0] / img0Shape[0], img1Shape[1] / img0Shape[1]);
    padX = (img1Shape[1] - img0Shape[1] * gain) / 2;
    padY = (img1Shape[0] - img0Shape[0] * gain) / 2;
  } else {
    gain = ratioPad[0][0];
    [padX, padY] = ratioPad[1];
  }
  const n = Math.floor(boxes.length / stride);
  for (let i = 0; i < n; i++) {
    const o = i * stride;
    boxes[o] = (boxes[o]! - padX) / gain;
    boxes[o + 1] = (boxes[o + 1]! - padY) / gain;
    boxes[o + 2] = (boxes[o + 2]! - padX) / gain;
    boxes[o + 3] = (boxes[o + 3]! - padY) / gain;
  }
  clipBoxes(boxes, img0Shape, stride);
}

/**
 * utils/metrics.py box_iou: IoU of every xyxy box1 [N] with every box2 [M] -> [N*M] row-major,
 * inter / (area1 + area2 - inter + eps).
 */
export function boxIou(
  box1: ArrayLike<number>,
  box2: ArrayLike<number>,
  eps = 1e-7,
  stride1 = 4,
  stride2 = 4,
): Float64Array {
  const n = Math.floor(box1.length / stride1);
  const m = Math.floor(box2.length / stride2);
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const a1 = box1[i * stride1]!;
    const b1 = box1[i * stride1 + 1]!;
    const c1 = box1[i * stride1 + 2]!;
    const d1 = box1[i * stride1 + 3]!;
    const area1 = (c1 - a1) * (d1 - b1);
    for (let j = 0; j < m; j++) {
      const a2 = box2[j * stride2]!;
      const b2 = box2[j * stride2 + 1]!;
      const c2 = box2[j * stride2 + 2]!;
      const d2 = box2[j * stride2 + 3]!;
      const iw = Math.max(Math.min(c1, c2) - Math.max(a1, a2), 0);
      const ih = Math.max(Math.min(d1, d2) - Math.max(b1, b2), 0);
      const inter = iw * ih;
      out[i * m + j] = inter / (area1 + (c2 - a2) * (d2 - b2) - inter + eps);
    }
  }
  return out;
}

export type IouVariant = 'IoU' | 'GIoU' | 'DIoU' | 'CIoU';

/**
 * utils/metrics.py bbox_iou for one pair of boxes on the host (xywh or xyxy), float64.
 * The tensor version used by the loss is bboxIouXywh (loss/iou-tensor.ts).
 */
export function bboxIou(
  b1: ArrayLike<number>,
  b2: ArrayLike<number>,
  opts: { xywh?: boolean; kind?: IouVariant; eps?: number } = {},
): number {
  const xywh = opts.xywh ?? true;
  const eps = opts.eps ?? 1e-7;
  const kind = opts.kind ?? 'IoU';
  let b1x1: number, b1y1: number, b1x2: number, b1y2: number, b2x1: number, b2y1: number, b2x2: number, b2y2: number;
  let w1: number, h1: number, w2: number, h2: number;
  if (xywh) {
    [w1, h1, w2, h2] = [b1[2]!, b1[3]!, b2[2]!, b2[3]!];
    [b1x1, b1x2, b1y1, b1y2] = [b1[0]! - w1 / 2, b1[0]! + w1 / 2, b1[1]! - h1 / 2, b1[1]! + h1 / 2];
    [b2x1, b2x2, b2y1, b2y2] = [b2[0]! - w2 / 2, b2[0]! + w2 / 2, b2[1]! - h2 / 2, b2[1]! + h2 / 2];
  } else {
    [b1x1, b1y1, b1x2, b1y2] = [b1[0]!, b1[1]!, b1[2]!, b1[3]!];
    [b2x1, b2y1, b2x2, b2y2] = [b2[0]!, b2[1]!, b2[2]!, b2[3]!];
    [w1, h1, w2, h2] = [b1x2 - b1x1, Math.max(b1y2 - b1y1, eps), b2x2 - b2x1, Math.max(b2y2 - b2y1, eps)];
  }
  const inter =
    Math.max(Math.min(b1x2, b2x2) - Math.max(b1x1, b2x1), 0) * Math.max(Math.min(b1y2, b2y2) - Math.max(b1y1, b2y1), 0);
  const union = w1 * h1 + w2 * h2 - inter + eps;
  const iou = inter / union;
  if (kind === 'IoU') return iou;
  const cw = Math.max(b1x2, b2x2) - Math.min(b1x1, b2x1);
  const ch = Math.max(b1y2, b2y2) - Math.min(b1y1, b2y1);
  if (kind === 'GIoU') {
    const cArea = cw * ch + eps;
    return iou - (cArea - union) / cArea;
  }
  const c2 = cw ** 2 + ch ** 2 + eps;
  const rho2 = ((b2x1 + b2x2 - b1x1 - b1x2) ** 2 + (b2y1 + b2y2 - b1y1 - b1y2) ** 2) / 4;
  if (kind === 'DIoU') return iou - rho2 / c2;
  const v = (4 / Math.PI ** 2) * (Math.atan(w2 / h2) - Math.atan(w1 / h1)) ** 2;
  const alpha = v / (v - iou + (1 + eps));
  return iou - (rho2 / c2 + v * alpha);
}
