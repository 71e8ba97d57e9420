/**
 * Box conversions on n x 5 label rows [class, a, b, c, d] (Float32Array, row-major), the
 * layout YOLOv5's dataset uses: normalized xywh in files, pixel xyxy while augmenting.
 */

/** Normalized xywh -> pixel xyxy with padding (xywhn2xyxy). Returns a new array. */
export function xywhn2xyxy(labels: Float32Array, w: number, h: number, padw = 0, padh = 0): Float32Array {
  const out = new Float32Array(labels.length);
  for (let i = 0; i < labels.length; i += 5) {
    const x = labels[i + 1]!;
    const y = labels[i + 2]!;
    const bw = labels[i + 3]!;
    const bh = labels[i + 4]!;
    out[i] = labels[i]!;
    out[i + 1] = w * (x - bw / 2) + padw;
    out[i + 2] = h * (y - bh / 2) + padh;
    out[i + 3] = w * (x + bw / 2) + padw;
    out[i + 4] = h * (y + bh / 2) + padh;
  }
  return out;
}

/** Pixel xyxy -> normalized xywh, boxes clipped to (w - eps, h - eps) first (xyxy2xywhn clip=True). In place. */
export function xyxy2xywhnInPlace(labels: Float32Array, w: number, h: number, eps = 1e-3): Float32Array {
  const cw = w - eps;
  const ch = h - eps;
  for (let i = 0; i < labels.length; i += 5) {
    const x1 = Math.min(Math.max(labels[i + 1]!, 0), cw);
    const y1 = Math.min(Math.max(labels[i + 2]!, 0), ch);
    const x2 = Math.min(Math.max(labels[i + 3]!, 0), cw);
    const y2 = Math.min(Math.max(labels[i + 4]!, 0), ch);
    labels[i + 1] = (x1 + x2) / 2 / w;
    labels[i + 2] = (y1 + y2) / 2 / h;
    labels[i + 3] = (x2 - x1) / w;
    labels[i + 4] = (y2 - y1) / h;
  }
  return labels;
}

/** Clips pixel xyxy rows to [lo, hi] in place. */
export function clipXyxyInPlace(labels: Float32Array, lo: number, hiX: number, hiY = hiX): void {
  for (let i = 0; i < labels.length; i += 5) {
    labels[i + 1] = Math.min(Math.max(labels[i + 1]!, lo), hiX);
    labels[i + 2] = Math.min(Math.max(labels[i + 2]!, lo), hiY);
    labels[i + 3] = Math.min(Math.max(labels[i + 3]!, lo), hiX);
    labels[i + 4] = Math.min(Math.max(labels[i + 4]!, lo), hiY);
  }
}

export function concatRows(parts: readonly Float32Array[]): Float32Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Float32Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
