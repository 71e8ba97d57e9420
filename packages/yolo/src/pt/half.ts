// IEEE 754 half precision <-> float32, as torch's .half() / .float() do (round to nearest even,
// subnormals kept, overflow to infinity). fp16 -> fp32 is exact.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The fp16 bit pattern nearest to `value` (ties to even). */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // inf / NaN
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00; // overflow
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign; // underflows to signed zero
    mantissa |= 0x800000; // implicit leading 1
    const shift = 14 - halfExponent;
    const rounded = roundShift(mantissa, shift);
    return sign | rounded; // may carry into the smallest normal, which is the right answer
  }
  const rounded = roundShift(mantissa, 13);
  return (sign | (halfExponent << 10)) + rounded; // a carry out of the mantissa bumps the exponent
}

/** value >> shift, rounded to nearest, ties to even. */
function roundShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && kept & 1) ? kept + 1 : kept;
}

/** The float value of an fp16 bit pattern. */
export function fromHalfBits(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

let halfTable: Float32Array | null = null;

/** fp16 bit patterns -> float32 values, through a 65536-entry table (built on first use). */
export function halfToFloat32(bits: Uint16Array, out: Float32Array = new Float32Array(bits.length)): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let k = 0; k < 65536; k++) halfTable[k] = fromHalfBits(k);
  }
  for (let k = 0; k < bits.length; k++) out[k] = halfTable[bits[k]!]!;
  return out;
}
