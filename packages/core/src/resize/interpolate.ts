/**
 * Differentiable, backend-independent resize of NCHW tensors with PyTorch's
 * `F.interpolate` semantics, as precomputed interpolation matrices applied with 2-D
 * `tf.matMul` (every backend runs the same arithmetic; gradients come from matMul).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, ValueError } from '../errors.js';
import { assertResizeMode, assertSize, interpolationMatrixT, kroneckerMatrixT, type ResizeMode } from './matrix.js';

/**
 * Largest Kronecker matrix (inH*inW*outH*outW entries) applied as one matMul; larger
 * resizes run separably (two matMuls and two transposes). 2^16 entries = 256 KiB.
 */
const KRON_MAX_ENTRIES = 1 << 16;

function normaliseSize(size: [number, number] | number): [number, number] {
  if (typeof size === 'number') {
    assertSize('interpolate: size', size);
    return [size, size];
  }
  if (!Array.isArray(size) || size.length !== 2) {
    throw new ShapeError(`interpolate: size must be a positive integer or [outH, outW]; got ${JSON.stringify(size)}`);
  }
  assertSize('interpolate: size[0] (outH)', size[0]);
  assertSize('interpolate: size[1] (outW)', size[1]);
  return [size[0], size[1]];
}

/**
 * Resize `x` (B, C, H, W) to (B, C, outH, outW) exactly as PyTorch's
 * `F.interpolate(x, size=(outH, outW), mode)` does (float32):
 *
 * - `'bicubic'`: `align_corners=False`, cubic convolution with A = -0.75, source
 *   `(dst+0.5)*in/out - 0.5`, taps clamped to the border; no antialiasing when
 *   downsampling (as PyTorch's default `antialias=False`).
 * - `'bilinear'`: `align_corners=False`, source clamped at 0 below; at the upper border
 *   both taps fall on the last sample.
 * - `'area'`: adaptive average pooling, windows `[floor(i*in/out), ceil((i+1)*in/out))`.
 *
 * `size` is `[outH, outW]` or one number for both. Differentiable, safe inside `tf.tidy`
 * (returns one new tensor, no other tensor is left alive). Equal sizes return a copy.
 *
 * Inputs are expected finite: the resize is a dense matMul, so a NaN or ±Infinity reaches
 * every output of its (B, C) map (times a zero weight), not only its neighbours as in
 * PyTorch.
 *
 * @throws ShapeError when `x` is not rank 4 or a size is not a positive integer.
 * @throws ValueError for an unknown mode or a non-float32 input.
 */
export function interpolate(x: tf.Tensor4D, size: [number, number] | number, mode: ResizeMode): tf.Tensor4D {
  if (!(x instanceof tf.Tensor)) {
    throw new ShapeError(`interpolate: x must be a tf.Tensor of shape (B, C, H, W); got ${x === null ? 'null' : typeof x}`);
  }
  if (x.rank !== 4) {
    throw new ShapeError(`interpolate: x must be rank 4 (B, C, H, W); got rank ${x.rank} with shape [${x.shape.join(', ')}]`);
  }
  assertResizeMode(mode);
  if (x.dtype !== 'float32') {
    throw new ValueError(`interpolate: x must be float32; got ${x.dtype} (cast it first with tf.cast(x, 'float32'))`);
  }
  const [outH, outW] = normaliseSize(size);
  const [B, C, H, W] = x.shape;
  if (H === 0 || W === 0) {
    throw new ShapeError(`interpolate: input spatial size must be positive; got H=${H}, W=${W}`);
  }
  const kron = H * W * outH * outW <= KRON_MAX_ENTRIES;
  // The gradient is the transposed resize (the op is linear). It is given explicitly with
  // tf.customGrad so interpolate is differentiable even where tfjs-core's gradient
  // registry is empty (Node without the @tensorflow/tfjs umbrella).
  const run = tf.customGrad(((xx: tf.Tensor4D) => {
    const value = forward(xx, B, C, H, W, outH, outW, mode, kron);
    const gradFunc = (dy: tf.Tensor4D) => backward(dy, B, C, H, W, outH, outW, mode, kron);
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return run(x) as unknown as tf.Tensor4D;
}

/** Sizes equal: copy. Kronecker: one matMul. Else separable, cheaper axis first. */
function forward(
  x: tf.Tensor4D,
  B: number,
  C: number,
  H: number,
  W: number,
  outH: number,
  outW: number,
  mode: ResizeMode,
  kron: boolean,
): tf.Tensor4D {
  if (H === outH && W === outW) return tf.clone(x);
  return tf.tidy(() => {
    if (kron) {
      const k = tf.tensor2d(kroneckerMatrixT(H, W, outH, outW, mode), [H * W, outH * outW]);
      return tf.reshape(tf.matMul(tf.reshape(x, [B * C, H * W]), k), [B, C, outH, outW]);
    }
    const mh = H === outH ? null : tf.tensor2d(interpolationMatrixT(H, outH, mode), [H, outH]);
    const mw = W === outW ? null : tf.tensor2d(interpolationMatrixT(W, outW, mode), [W, outW]);
    return separable(x, mh, mw, false, outH, outW);
  });
}

/** The adjoint: dX = Mhᵀ · dY · Mw with the same matrices, transposed inside matMul. */
function backward(
  dy: tf.Tensor4D,
  B: number,
  C: number,
  H: number,
  W: number,
  outH: number,
  outW: number,
  mode: ResizeMode,
  kron: boolean,
): tf.Tensor4D {
  if (H === outH && W === outW) return tf.clone(dy);
  return tf.tidy(() => {
    if (kron) {
      const k = tf.tensor2d(kroneckerMatrixT(H, W, outH, outW, mode), [H * W, outH * outW]);
      return tf.reshape(tf.matMul(tf.reshape(dy, [B * C, outH * outW]), k, false, true), [B, C, H, W]);
    }
    const mh = H === outH ? null : tf.tensor2d(interpolationMatrixT(H, outH, mode), [H, outH]);
    const mw = W === outW ? null : tf.tensor2d(interpolationMatrixT(W, outW, mode), [W, outW]);
    return separable(dy, mh, mw, true, H, W);
  });
}

/**
 * y[n, a, b] = Σ_ij x[n, i, j] · Lh[i, a] · Lw[j, b] with 2-D matMuls only, where
 * Lh = mh (or mhᵀ when `transposed`), likewise Lw; a null matrix is the identity.
 * (B, C, h, w) -> (B, C, outH, outW), applying the cheaper axis first.
 */
function separable(
  x: tf.Tensor4D,
  mh: tf.Tensor2D | null,
  mw: tf.Tensor2D | null,
  transposed: boolean,
  outH: number,
  outW: number,
): tf.Tensor4D {
  const [B, C, h, w] = x.shape;
  const N = B * C;
  const alongW = (t: tf.Tensor, rows: number): tf.Tensor2D =>
    mw ? tf.matMul(tf.reshape(t, [rows, w]), mw, false, transposed) : (tf.reshape(t, [rows, w]) as tf.Tensor2D);
  const alongH = (t: tf.Tensor, rows: number): tf.Tensor2D =>
    mh ? tf.matMul(tf.reshape(t, [rows, h]), mh, false, transposed) : (tf.reshape(t, [rows, h]) as tf.Tensor2D);
  if (!mh) return tf.reshape(alongW(x, N * h), [B, C, outH, outW]);
  // multiply-adds: W first = h*w*outW + outW*h*outH; H first = w*h*outH + outH*w*outW
  if (h * w * outW + outW * h * outH <= w * h * outH + outH * w * outW) {
    const a = tf.reshape(alongW(x, N * h), [N, h, outW]);
    const b = tf.reshape(alongH(tf.transpose(a, [0, 2, 1]), N * outW), [N, outW, outH]);
    return tf.reshape(tf.transpose(b, [0, 2, 1]), [B, C, outH, outW]);
  }
  const a = tf.reshape(alongH(tf.transpose(tf.reshape(x, [N, h, w]), [0, 2, 1]), N * w), [N, w, outH]);
  return tf.reshape(alongW(tf.transpose(a, [0, 2, 1]), N * outH), [B, C, outH, outW]);
}
