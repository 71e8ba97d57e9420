// Checkpoints store tensors in PyTorch layout (YOLOv5 state_dict names and shapes; conv
// weights OIHW) so that they convert to and from .pt state_dicts by name. In memory, tfjs
// conv filters are HWIO; these two functions translate.

/** HWIO flat -> OIHW flat, given the OIHW shape. */
export function hwioToOihw(src: ArrayLike<number>, oihw: readonly number[]): Float32Array {
  const [O, I, KH, KW] = oihw as [number, number, number, number];
  const out = new Float32Array(O * I * KH * KW);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KW; kw++) out[((o * I + i) * KH + kh) * KW + kw] = src[((kh * KW + kw) * I + i) * O + o]!;
  return out;
}

/** OIHW flat -> HWIO flat, given the OIHW shape. */
export function oihwToHwio(src: ArrayLike<number>, oihw: readonly number[]): Float32Array {
  const [O, I, KH, KW] = oihw as [number, number, number, number];
  const out = new Float32Array(O * I * KH * KW);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KW; kw++) out[((kh * KW + kw) * I + i) * O + o] = src[((o * I + i) * KH + kh) * KW + kw]!;
  return out;
}
