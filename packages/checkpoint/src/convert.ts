/**
 * Conversions between RawTensor dtypes and plain Float32Array / Int32Array data,
 * including IEEE half (F16) and bfloat16 (BF16) encoding and decoding.
 */
import { ValueError } from '@var/core/errors';
import { checkRawTensor, fmtShape, type DType, type RawTensor } from './dtypes.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Decode one IEEE-754 half-precision bit pattern. */
export function f16BitsToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Encode a number as IEEE-754 half precision (round to nearest even, overflow to ±Infinity). */
export function floatToF16Bits(v: number): number {
  f32[0] = v; // round to float32 first, like a float32 -> float16 cast
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // Inf / NaN (quiet)
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // subnormal half (or zero)
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // may carry into the exponent: correct (up to Inf)
  return sign | h;
}

/** Decode one bfloat16 bit pattern. */
export function bf16BitsToFloat(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

/** Encode a number as bfloat16 (round to nearest even; NaN stays NaN). */
export function floatToBf16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  const r = x + 0x7fff + ((x >>> 16) & 1);
  return (r >>> 16) & 0xffff;
}

/**
 * The tensor's values as a Float32Array. F16/BF16 are decoded, integers and F64
 * converted (rounded to float32). For an F32 tensor this is `t.data` itself (no copy).
 */
export function toFloat32Array(t: RawTensor): Float32Array {
  checkRawTensor('toFloat32Array', t);
  const d = t.data;
  switch (t.dtype) {
    case 'F32':
      return d as Float32Array;
    case 'F16': {
      const out = new Float32Array(d.length);
      const src = d as Uint16Array;
      for (let i = 0; i < src.length; i++) out[i] = f16BitsToFloat(src[i]);
      return out;
    }
    case 'BF16': {
      const src = d as Uint16Array;
      const out = new Float32Array(src.length);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return out;
    }
    case 'I64': {
      const src = d as BigInt64Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
      return out;
    }
    default:
      return Float32Array.from(d as ArrayLike<number>);
  }
}

/**
 * The tensor's values as an Int32Array. Integer and BOOL dtypes only; I64 values
 * outside the int32 range raise a ValueError naming the first offending element.
 * For an I32 tensor this is `t.data` itself (no copy).
 */
export function toInt32Array(t: RawTensor): Int32Array {
  checkRawTensor('toInt32Array', t);
  switch (t.dtype) {
    case 'I32':
      return t.data as Int32Array;
    case 'I64': {
      const src = t.data as BigInt64Array;
      const out = new Int32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i];
        if (v > 2147483647n || v < -2147483648n) {
          throw new ValueError(`toInt32Array: element ${i} of an I64 tensor ${fmtShape(t.shape)} is ${v}, outside the int32 range`);
        }
        out[i] = Number(v);
      }
      return out;
    }
    case 'I16':
    case 'I8':
    case 'U8':
    case 'BOOL':
      return Int32Array.from(t.data as ArrayLike<number>);
    default:
      throw new ValueError(
        `toInt32Array: expected an integer tensor (I64, I32, I16, I8, U8, BOOL), found ${t.dtype}; use toFloat32Array for floating-point data`,
      );
  }
}

/** A RawTensor from float32 data, stored as F32 (a view of `data`), F16 or BF16. */
export function fromFloat32(data: Float32Array, shape: number[], dtype: 'F32' | 'F16' | 'BF16' = 'F32'): RawTensor {
  if (!(data instanceof Float32Array))
    throw new ValueError(`fromFloat32: expected a Float32Array, found ${(data as object)?.constructor?.name ?? typeof data}`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0) || n !== data.length) {
    throw new ValueError(`fromFloat32: shape ${fmtShape(shape)} does not match ${data.length} elements`);
  }
  if (dtype === 'F32') return { dtype, shape: shape.slice(), data };
  if (dtype !== 'F16' && dtype !== 'BF16') throw new ValueError(`fromFloat32: dtype must be F32, F16 or BF16, found ${String(dtype)}`);
  const out = new Uint16Array(data.length);
  const enc = dtype === 'F16' ? floatToF16Bits : floatToBf16Bits;
  for (let i = 0; i < data.length; i++) out[i] = enc(data[i]);
  return { dtype, shape: shape.slice(), data: out };
}

/** Whether a dtype is floating point. */
export function isFloatDType(d: DType): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}
