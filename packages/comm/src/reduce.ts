// The element-wise work of the ring. Plain typed-array loops: V8 compiles them to tight
// scalar code; each loop is monomorphic (Float32Array only) so it stays optimised.

/** out[i] = a[i] + b[i] */
export function addInto(out: Float32Array, a: Float32Array, b: Float32Array): void {
  const n = out.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    out[i] = a[i]! + b[i]!;
    out[i + 1] = a[i + 1]! + b[i + 1]!;
    out[i + 2] = a[i + 2]! + b[i + 2]!;
    out[i + 3] = a[i + 3]! + b[i + 3]!;
  }
  for (; i < n; i++) out[i] = a[i]! + b[i]!;
}

/**
 * out[i] = fround(a[i] + b[i]) / d. The sum is rounded to float32 first so that mean is
 * exactly sum-then-divide, as in torch.
 */
export function addDivInto(out: Float32Array, a: Float32Array, b: Float32Array, d: number): void {
  const n = out.length;
  const fr = Math.fround;
  for (let i = 0; i < n; i++) out[i] = fr(a[i]! + b[i]!) / d;
}

/** a[i] += b[i] */
export function addInPlace(a: Float32Array, b: Float32Array): void {
  const n = a.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    a[i] += b[i]!;
    a[i + 1] += b[i + 1]!;
    a[i + 2] += b[i + 2]!;
    a[i + 3] += b[i + 3]!;
  }
  for (; i < n; i++) a[i] += b[i]!;
}

/** a[i] = fround(a[i] + b[i]) / d */
export function addDivInPlace(a: Float32Array, b: Float32Array, d: number): void {
  const n = a.length;
  const fr = Math.fround;
  for (let i = 0; i < n; i++) a[i] = fr(a[i]! + b[i]!) / d;
}
