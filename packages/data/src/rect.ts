/**
 * --rect batch shapes: images sorted by aspect ratio, each batch letterboxed to the smallest
 * stride-multiple rectangle that holds it (pad 0.0 for training, 0.5 for validation).
 */

/** Indices of the dataset sorted by aspect ratio h/w (stable), as LoadImagesAndLabels does with --rect. */
export function rectOrder(shapes: ReadonlyArray<[number, number]>): number[] {
  return shapes.map((_, i) => i).sort((a, b) => shapes[a]![1] / shapes[a]![0] - shapes[b]![1] / shapes[b]![0] || a - b);
}

/** Batch shape (h, w) for images of the given (w, h) sizes: ceil([h, w]-ratio * imgsz / stride + pad) * stride. */
export function rectBatchShape(
  shapes: ReadonlyArray<[number, number]>,
  imgsz: number,
  stride = 32,
  pad = 0.0,
): [number, number] {
  let mini = Infinity;
  let maxi = -Infinity;
  for (const [w, h] of shapes) {
    const ar = h / w;
    mini = Math.min(mini, ar);
    maxi = Math.max(maxi, ar);
  }
  let shape: [number, number] = [1, 1];
  if (maxi < 1) shape = [maxi, 1];
  else if (mini > 1) shape = [1, 1 / mini];
  return [Math.ceil((shape[0] * imgsz) / stride + pad) * stride, Math.ceil((shape[1] * imgsz) / stride + pad) * stride];
}

/** All batch shapes of a dataset in rect order, batch i covering positions [i*bs, (i+1)*bs). */
export function rectBatchShapes(
  shapes: ReadonlyArray<[number, number]>,
  batchSize: number,
  imgsz: number,
  stride = 32,
  pad = 0.0,
): Array<[number, number]> {
  const order = rectOrder(shapes);
  const out: Array<[number, number]> = [];
  for (let b = 0; b * batchSize < order.length; b++) {
    out.push(
      rectBatchShape(
        order.slice(b * batchSize, (b + 1) * batchSize).map((i) => shapes[i]!),
        imgsz,
        stride,
        pad,
      ),
    );
  }
  return out;
}
