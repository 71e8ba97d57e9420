/**
 * Layout conversions between PyTorch (NCHW activations, OIHW conv weights) and ours
 * (NHWC activations, HWIO conv weights, which is what tfjs conv2d takes).
 *
 * Loading a YOLOv5 state dict is therefore: conv weight `[out, in, kh, kw]` -> transpose
 * (2, 3, 1, 0) -> `[kh, kw, in, out]`; every 1-D tensor is copied as is.
 */

/** OIHW (PyTorch conv weight) -> HWIO (tfjs filter). */
export function oihwToHwio(src: ArrayLike<number>, shape: readonly number[]): Float32Array {
  const [O, I, KH, KW] = shape as [number, number, number, number];
  const out = new Float32Array(O * I * KH * KW);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KW; kw++)
          out[((kh * KW + kw) * I + i) * O + o] = src[((o * I + i) * KH + kh) * KW + kw]!;
  return out;
}

/** HWIO (tfjs filter) -> OIHW (PyTorch conv weight); `shape` is the OIHW shape. */
export function hwioToOihw(src: ArrayLike<number>, shape: readonly number[]): Float32Array {
  const [O, I, KH, KW] = shape as [number, number, number, number];
  const out = new Float32Array(O * I * KH * KW);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KW; kw++)
          out[((o * I + i) * KH + kh) * KW + kw] = src[((kh * KW + kw) * I + i) * O + o]!;
  return out;
}

/** NCHW flat data -> NHWC flat data (for reading PyTorch images and activations). */
export function nchwToNhwc(src: ArrayLike<number>, shape: readonly number[]): Float32Array {
  const [N, C, H, W] = shape as [number, number, number, number];
  const out = new Float32Array(N * C * H * W);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) out[((n * H + h) * W + w) * C + c] = src[((n * C + c) * H + h) * W + w]!;
  return out;
}

/** NHWC flat data -> NCHW flat data; `shape` is the NHWC shape. */
export function nhwcToNchw(src: ArrayLike<number>, shape: readonly number[]): Float32Array {
  const [N, H, W, C] = shape as [number, number, number, number];
  const out = new Float32Array(N * C * H * W);
  for (let n = 0; n < N; n++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++)
        for (let c = 0; c < C; c++) out[((n * C + c) * H + h) * W + w] = src[((n * H + h) * W + w) * C + c]!;
  return out;
}
