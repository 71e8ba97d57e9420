/**
 * Class and image weights for train.py's --image-weights (labels_to_class_weights,
 * labels_to_image_weights). Labels are per image n x 5 rows [class, x, y, w, h].
 */

function classCounts(labels: Float32Array, nc: number): Float64Array {
  const counts = new Float64Array(nc);
  for (let i = 0; i < labels.length; i += 5) {
    const c = Math.trunc(labels[i] as number);
    if (c >= 0 && c < nc) counts[c]! += 1;
  }
  return counts;
}

/** Inverse class frequency, normalized to sum 1 (float32 like the torch tensor YOLOv5 returns). */
export function labelsToClassWeights(labels: readonly Float32Array[], nc = 80): Float32Array {
  const counts = new Float64Array(nc);
  for (const l of labels) {
    const c = classCounts(l, nc);
    for (let k = 0; k < nc; k++) counts[k]! += c[k]!;
  }
  const w = new Float64Array(nc);
  let sum = 0;
  for (let k = 0; k < nc; k++) {
    w[k] = 1 / (counts[k] === 0 ? 1 : counts[k]!);
    sum += w[k]!;
  }
  return Float32Array.from(w, (v) => v / sum);
}

/** Per image: sum over classes of classWeights[c] * (count of class c in the image). */
export function labelsToImageWeights(
  labels: readonly Float32Array[],
  nc = 80,
  classWeights?: ArrayLike<number>,
): Float64Array {
  const out = new Float64Array(labels.length);
  labels.forEach((l, i) => {
    const c = classCounts(l, nc);
    let s = 0;
    for (let k = 0; k < nc; k++) s += (classWeights ? Number(classWeights[k]) : 1) * c[k]!;
    out[i] = s;
  });
  return out;
}

/**
 * train.py --image-weights class weights: cw = class_weights*nc * (1 - maps)^2 / nc, where
 * class_weights comes from labelsToClassWeights (float32) and maps are per-class mAPs.
 */
export function imageWeightsClassWeights(classWeights: Float32Array, maps: ArrayLike<number>): Float64Array {
  const nc = classWeights.length;
  const out = new Float64Array(nc);
  for (let k = 0; k < nc; k++) {
    const scaled = Math.fround(classWeights[k]! * nc);
    out[k] = (scaled * (1 - Number(maps[k])) ** 2) / nc;
  }
  return out;
}
