/**
 * Python/NumPy rounding. Python's round() and np.round() round half to even (round(2.5) == 2),
 * which Math.round does not; YOLOv5 depends on it in parse_model (depth scaling), ap_per_class
 * (tp/fp counts), letterbox sizes, the accumulate and warmup counts.
 */

/**
 * Python's round(x): half to even. For -0.5 <= x < 0 it gives -0 (Python's int 0; -0 === 0), as
 * the yolo and train copies did; test/rounding.test.ts compares it with the three former copies.
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; step back when that lands on an odd integer at an exact half.
  if (Math.abs(x % 1) === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/** Python's a % b for floats (result has the sign of b), as np.mod. */
export function pyMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/** YOLOv5's make_divisible: the smallest multiple of divisor that is >= x. */
export function makeDivisible(x: number, divisor: number): number {
  return Math.ceil(x / divisor) * divisor;
}

/**
 * general.py check_img_size: the image size rounded up to a multiple of the max stride
 * (and at least `floor`), so that every detection layer gets a whole grid.
 */
export function checkImgSize(imgsz: number, stride = 32, floor = 0): number {
  return Math.max(makeDivisible(imgsz, Math.trunc(stride)), floor);
}
