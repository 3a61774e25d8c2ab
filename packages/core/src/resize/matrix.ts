/**
 * PyTorch-exact 1-D interpolation matrices.
 *
 * A 2-D resize in PyTorch's `F.interpolate` (modes `bicubic`, `bilinear` with
 * `align_corners=False`, and `area`) is separable: `out = Mh · X · Mwᵀ` where `Mh`
 * (outH x inH) and `Mw` (outW x inW) are the 1-D matrices built here. The weights are
 * computed in float64 from PyTorch's formulas (ATen `UpSample.h`,
 * `AdaptiveAveragePooling.cpp`) and rounded once to float32.
 */
import { ShapeError, ValueError } from '../errors.js';

/** Interpolation modes with PyTorch semantics (`align_corners=False`, no antialias). */
export type ResizeMode = 'bicubic' | 'area' | 'bilinear';

const MODES: readonly ResizeMode[] = ['bicubic', 'area', 'bilinear'];

/** The cubic-convolution constant PyTorch uses for `mode='bicubic'`. */
export const BICUBIC_A = -0.75;

/** Keys's cubic convolution kernel for |x| <= 1. */
function cubic1(x: number, a: number): number {
  return ((a + 2) * x - (a + 3)) * x * x + 1;
}

/** Keys's cubic convolution kernel for 1 < |x| < 2. */
function cubic2(x: number, a: number): number {
  return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

export function assertResizeMode(mode: unknown): asserts mode is ResizeMode {
  if (typeof mode !== 'string' || !(MODES as readonly string[]).includes(mode)) {
    throw new ValueError(`resize mode must be one of ${MODES.map((m) => `'${m}'`).join(', ')}; got ${JSON.stringify(mode)}`);
  }
}

export function assertSize(what: string, n: unknown): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) {
    throw new ShapeError(`${what} must be a positive integer; got ${typeof n === 'number' ? n : JSON.stringify(n)}`);
  }
}

/**
 * Fill row `i` of a (outSize x inSize) float64 matrix with the weights of output
 * sample `i` for the given mode.
 */
function fillRow(m: Float64Array, i: number, inSize: number, outSize: number, mode: ResizeMode): void {
  const row = i * inSize;
  const scale = inSize / outSize;
  switch (mode) {
    case 'area': {
      // adaptive_avg_pool: window [floor(i*in/out), ceil((i+1)*in/out)), integer math.
      const start = Math.floor((i * inSize) / outSize);
      const end = Math.ceil(((i + 1) * inSize) / outSize);
      const w = 1 / (end - start);
      for (let j = start; j < end; j++) m[row + j] += w;
      return;
    }
    case 'bilinear': {
      // area_pixel_compute_source_index (align_corners=False, not cubic): clamp at 0 below.
      const src = Math.max(scale * (i + 0.5) - 0.5, 0);
      const i0 = Math.floor(src);
      const i1 = i0 < inSize - 1 ? i0 + 1 : i0; // upper border: both taps on the last sample
      const l1 = src - i0;
      const l0 = 1 - l1;
      m[row + i0] += l0;
      m[row + i1] += l1;
      return;
    }
    case 'bicubic': {
      // cubic: source index is not clamped; the four taps are clamped to [0, in-1].
      const src = scale * (i + 0.5) - 0.5;
      const i0 = Math.floor(src);
      const t = src - i0;
      const w = [cubic2(t + 1, BICUBIC_A), cubic1(t, BICUBIC_A), cubic1(1 - t, BICUBIC_A), cubic2(2 - t, BICUBIC_A)];
      for (let k = 0; k < 4; k++) {
        const j = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
        m[row + j] += w[k];
      }
      return;
    }
  }
}

/** (outSize x inSize) float64 interpolation matrix (uncached, for internal use). */
export function interpolationMatrix64(inSize: number, outSize: number, mode: ResizeMode): Float64Array {
  assertSize('interpolationMatrix: inSize', inSize);
  assertSize('interpolationMatrix: outSize', outSize);
  assertResizeMode(mode);
  const m = new Float64Array(outSize * inSize);
  if (inSize === outSize) {
    // Every mode is the identity at equal sizes (PyTorch copies the input).
    for (let i = 0; i < inSize; i++) m[i * inSize + i] = 1;
    return m;
  }
  for (let i = 0; i < outSize; i++) fillRow(m, i, inSize, outSize, mode);
  return m;
}

const cache = new Map<string, Float32Array>();
const CACHE_LIMIT = 256;

/**
 * The (outSize x inSize) row-major matrix `M` with `out = M · in` for a 1-D resize with
 * PyTorch's `F.interpolate` semantics, computed in float64 then rounded to float32.
 * Cached per (inSize, outSize, mode); each call returns a fresh copy.
 *
 * @throws ShapeError when a size is not a positive integer; ValueError for an unknown mode.
 */
export function interpolationMatrix(inSize: number, outSize: number, mode: ResizeMode): Float32Array {
  const key = `${mode}:${inSize}:${outSize}`;
  let m = cache.get(key);
  if (!m) {
    m = Float32Array.from(interpolationMatrix64(inSize, outSize, mode));
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(key, m);
  }
  return m.slice();
}

/** Transposed matrix (inSize x outSize), float32, cached. */
export function interpolationMatrixT(inSize: number, outSize: number, mode: ResizeMode): Float32Array {
  const key = `T:${mode}:${inSize}:${outSize}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const m = interpolationMatrix64(inSize, outSize, mode);
  const t = new Float32Array(inSize * outSize);
  for (let i = 0; i < outSize; i++) for (let j = 0; j < inSize; j++) t[j * outSize + i] = m[i * inSize + j];
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(key, t);
  return t;
}

/**
 * Transposed Kronecker product (Mh ⊗ Mw)ᵀ, shape (inH*inW x outH*outW), float32, cached:
 * `X.reshape(N, inH*inW) · K` resizes N maps in one 2-D matMul. Each entry is the float64
 * product of the two 1-D weights, rounded once.
 */
export function kroneckerMatrixT(inH: number, inW: number, outH: number, outW: number, mode: ResizeMode): Float32Array {
  const key = `K:${mode}:${inH}:${inW}:${outH}:${outW}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const mh = interpolationMatrix64(inH, outH, mode);
  const mw = interpolationMatrix64(inW, outW, mode);
  const nIn = inH * inW;
  const nOut = outH * outW;
  const k = new Float32Array(nIn * nOut);
  for (let oy = 0; oy < outH; oy++) {
    for (let iy = 0; iy < inH; iy++) {
      const a = mh[oy * inH + iy];
      if (a === 0) continue;
      for (let ox = 0; ox < outW; ox++) {
        const col = oy * outW + ox;
        for (let ix = 0; ix < inW; ix++) {
          const b = mw[ox * inW + ix];
          if (b !== 0) k[(iy * inW + ix) * nOut + col] = a * b;
        }
      }
    }
  }
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(key, k);
  return k;
}
