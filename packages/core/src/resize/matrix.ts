/**
 * PyTorch-exact 1-D interpolation matrices.
 *
 * A 2-D resize in PyTorch's `F.interpolate` (modes `bicubic`, `bilinear` with
 * `align_corners=False`, and `area`) is separable: `out = Mh · X · Mwᵀ` where `Mh`
 * (outH x inH) and `Mw` (outW x inW) are the 1-D matrices built here.
 *
 * The source positions, tap weights and pooling windows are computed the way PyTorch's
 * CPU kernels compute them for a float32 tensor (ATen `UpSample.h`,
 * `AdaptiveAveragePooling.cpp`): the scale `in/out` and every weight operation are
 * rounded to float32 (`Math.fround` at each step), so each per-tap weight is bit-identical
 * to PyTorch's. Taps that the border clamp sends to the same sample are summed in float64
 * and rounded once. (Weights from exact float64 math differ from PyTorch's in the last
 * bit often enough to flip `> 0.5` decisions on resized edit masks: ~1% of rectangle masks
 * at 16 -> 13 against a float32 re-enactment of PyTorch's kernel; with its float32 weights
 * none flips.)
 */
import { ShapeError, ValueError } from '../errors.js';

/** Interpolation modes with PyTorch semantics (`align_corners=False`, no antialias). */
export type ResizeMode = 'bicubic' | 'area' | 'bilinear';

const MODES: readonly ResizeMode[] = ['bicubic', 'area', 'bilinear'];

/** The cubic-convolution constant PyTorch uses for `mode='bicubic'`. */
export const BICUBIC_A = -0.75;

const f32 = Math.fround;

/** Keys's cubic convolution kernel for |x| <= 1, float32 step by step (as ATen). */
function cubic1(x: number): number {
  const A = BICUBIC_A;
  return f32(f32(f32(f32(f32((A + 2) * x) - (A + 3)) * x) * x) + 1);
}

/** Keys's cubic convolution kernel for 1 < |x| < 2, float32 step by step (as ATen). */
function cubic2(x: number): number {
  const A = BICUBIC_A;
  return f32(f32(f32(f32(f32(f32(A * x) - 5 * A) * x) + 8 * A) * x) - 4 * A);
}

/**
 * PyTorch's `area_pixel_compute_source_index` for align_corners=False with a float32
 * scale: `scale * (dst + 0.5) - 0.5` evaluated in double, stored as float32.
 */
function sourceIndex(scale32: number, dst: number): number {
  return f32(scale32 * (dst + 0.5) - 0.5);
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
 * sample `i` for the given mode (each weight a float32 value, as PyTorch computes it).
 */
function fillRow(m: Float64Array, i: number, inSize: number, outSize: number, mode: ResizeMode): void {
  const row = i * inSize;
  const scale = f32(inSize / outSize); // float(in) / out in float32
  switch (mode) {
    case 'area': {
      // adaptive_avg_pool: window [floor((float)(i*in)/out), ceil((float)((i+1)*in)/out)),
      // the divisions in float32 as ATen's start_index / end_index.
      const start = Math.floor(f32(f32(i * inSize) / outSize));
      const end = Math.ceil(f32(f32((i + 1) * inSize) / outSize));
      const w = 1 / (end - start);
      for (let j = start; j < end; j++) m[row + j] += w;
      return;
    }
    case 'bilinear': {
      // compute_source_index_and_lambda: source clamped at 0 below (not cubic). Unlike the
      // bicubic path, torch 1.13's linear weights keep the source index `scale32 * (dst + 0.5) - 0.5`
      // in double and round only the lambdas to float32 (measured: 8 -> 6 gives 0.49999994 /
      // 0.50000006 at dst 1, not 0.5 / 0.5), which decides `> 0.5` on resized edit masks.
      let src = scale * (i + 0.5) - 0.5;
      if (src < 0) src = 0;
      const i0 = Math.trunc(src);
      const i1 = i0 < inSize - 1 ? i0 + 1 : i0; // upper border: both taps on the last sample
      const l1d = Math.min(Math.max(src - i0, 0), 1);
      const l1 = f32(l1d);
      const l0 = f32(1 - l1d);
      m[row + i0] += l0;
      m[row + i1] += l1;
      return;
    }
    case 'bicubic': {
      // cubic: source index not clamped; the four taps clamped to [0, in-1].
      const src = sourceIndex(scale, i);
      const i0 = Math.floor(src);
      const t = f32(src - i0);
      const x2 = f32(1 - t);
      const w = [cubic2(f32(t + 1)), cubic1(t), cubic1(x2), cubic2(f32(x2 + 1))];
      for (let k = 0; k < 4; k++) {
        const j = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
        m[row + j] += w[k];
      }
      return;
    }
  }
}

/** (outSize x inSize) interpolation matrix in float64 (uncached, for internal use). */
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

/**
 * Matrices are cached as plain arrays (never tensors) under a byte budget; the oldest
 * entries are dropped first. VAR's token maps need well under 1 MiB.
 */
const cache = new Map<string, Float32Array>();
const CACHE_BYTES = 32 * 1024 * 1024;
let cacheBytes = 0;

function cached(key: string, make: () => Float32Array): Float32Array {
  const hit = cache.get(key);
  if (hit) {
    // refresh: most recently used last
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const m = make();
  while (cache.size > 0 && cacheBytes + m.byteLength > CACHE_BYTES) {
    const oldest = cache.keys().next().value as string;
    cacheBytes -= (cache.get(oldest) as Float32Array).byteLength;
    cache.delete(oldest);
  }
  cache.set(key, m);
  cacheBytes += m.byteLength;
  return m;
}

/**
 * The (outSize x inSize) row-major matrix `M` with `out = M · in` for a 1-D resize with
 * PyTorch's `F.interpolate` semantics: PyTorch's float32 tap weights, taps clamped onto
 * the same sample summed in float64, then rounded to float32.
 * Cached per (inSize, outSize, mode); each call returns a fresh copy.
 *
 * @throws ShapeError when a size is not a positive integer; ValueError for an unknown mode.
 */
export function interpolationMatrix(inSize: number, outSize: number, mode: ResizeMode): Float32Array {
  return cached(`${mode}:${inSize}:${outSize}`, () => Float32Array.from(interpolationMatrix64(inSize, outSize, mode))).slice();
}

/** Transposed matrix (inSize x outSize), float32, cached. */
export function interpolationMatrixT(inSize: number, outSize: number, mode: ResizeMode): Float32Array {
  return cached(`T:${mode}:${inSize}:${outSize}`, () => {
    const m = interpolationMatrix64(inSize, outSize, mode);
    const t = new Float32Array(inSize * outSize);
    for (let i = 0; i < outSize; i++) for (let j = 0; j < inSize; j++) t[j * outSize + i] = m[i * inSize + j];
    return t;
  });
}

/**
 * Transposed Kronecker product (Mh ⊗ Mw)ᵀ, shape (inH*inW x outH*outW), float32, cached:
 * `X.reshape(N, inH*inW) · K` resizes N maps in one 2-D matMul. Each entry is the float64
 * product of the two 1-D weights, rounded once.
 */
export function kroneckerMatrixT(inH: number, inW: number, outH: number, outW: number, mode: ResizeMode): Float32Array {
  return cached(`K:${mode}:${inH}:${inW}:${outH}:${outW}`, () => {
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
    return k;
  });
}
