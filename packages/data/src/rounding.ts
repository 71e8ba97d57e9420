/** Python's round(): half to even. JavaScript's Math.round rounds half up, which changes letterbox sizes. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Python's a % b for floats (result has the sign of b), as np.mod. */
export function pyMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}
