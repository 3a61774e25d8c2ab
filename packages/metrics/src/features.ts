/**
 * A set of n feature vectors of dimension d, row-major (row i = data[i*d .. i*d+d)).
 */
import { NonFiniteError, ShapeError } from './errors.js';

export type FloatArray = Float32Array | Float64Array;

export interface Features {
  /** Row-major n×d values. */
  data: FloatArray;
  /** Number of vectors (rows). */
  n: number;
  /** Dimension of each vector (columns). */
  d: number;
}

/** Wrap a row-major array as {@link Features}, checking its size. */
export function features(data: FloatArray, n: number, d: number): Features {
  checkFeatures({ data, n, d }, 'features');
  return { data, n, d };
}

/** Throws ShapeError unless `f` is a well-formed n×d float array. */
export function checkFeatures(f: Features, what: string, minRows = 1): void {
  if (!f || typeof f !== 'object') throw new ShapeError(`${what}: expected { data, n, d }, got ${String(f)}`);
  const { data, n, d } = f;
  if (!(data instanceof Float32Array || data instanceof Float64Array)) {
    throw new ShapeError(`${what}: data must be a Float32Array or Float64Array, got ${Object.prototype.toString.call(data)}`);
  }
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(d) || d < 1) {
    throw new ShapeError(`${what}: n and d must be integers with n >= 0, d >= 1; got n=${n}, d=${d}`);
  }
  if (data.length !== n * d) {
    throw new ShapeError(`${what}: expected n*d = ${n}*${d} = ${n * d} values, got ${data.length}`);
  }
  if (n < minRows) throw new ShapeError(`${what}: expected at least ${minRows} feature vectors, got ${n}`);
}

/** Throws NonFiniteError naming the first NaN/Infinity in `a`. */
export function checkFinite(a: ArrayLike<number>, what: string, d?: number): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (!Number.isFinite(v)) {
      const where = d ? `row ${Math.floor(i / d)}, column ${i % d}` : `index ${i}`;
      throw new NonFiniteError(`${what}: expected finite values, found ${v} at ${where}`);
    }
  }
}

/** Copy rows [r0, r1) of `f` to a Float64Array (optionally the listed rows instead). */
export function rowsAsFloat64(f: Features, r0: number, r1: number): Float64Array {
  return f.data instanceof Float64Array ? f.data.slice(r0 * f.d, r1 * f.d) : Float64Array.from(f.data.subarray(r0 * f.d, r1 * f.d));
}

/** Gather the listed rows of `f` into a Float64Array (|idx|×d). */
export function gatherRows(f: Features, idx: ArrayLike<number>): Float64Array {
  const { d } = f;
  const out = new Float64Array(idx.length * d);
  for (let i = 0; i < idx.length; i++) {
    const src = idx[i] * d;
    for (let j = 0; j < d; j++) out[i * d + j] = f.data[src + j];
  }
  return out;
}
