/** IEEE 754 half-precision (float16) conversions, bit-exact: weights (quantize --fp16), float16 tensors (bench inputs, the server, generation). */
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** float32 → IEEE 754 half bits, round to nearest even; overflow saturates to ±65504 (as onnxconverter-common clamps). */
export function floatToHalf(value: number): number {
  F32[0] = value;
  const x = U32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7e00 : sign | 0x7c00; // NaN, ±Inf
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7bff; // saturate to ±65504
  if (e <= 0) {
    if (e < -10) return sign; // underflow to ±0
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1))) half += 1;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half += 1; // may carry into the exponent: still correct
  if ((half & 0x7fff) >= 0x7c00) return sign | 0x7bff;
  return half;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
