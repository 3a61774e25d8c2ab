/**
 * Gradient functions of the kernels the VQVAE training graph records on the tape.
 *
 * tfjs-core alone registers no gradients; the official ones live in
 * `@tensorflow/tfjs-core/dist/register_all_gradients`, an ES module whose own imports
 * have no file extensions, so plain Node cannot load it (bundlers and vitest can). To
 * keep this package loadable everywhere, {@link ensureTrainingGradients} registers the
 * few gradients training needs, each only where none is registered yet (tfjs' own, when
 * loaded, take precedence). Convolutions, resizes, codebook lookups and the
 * non-differentiable nearest-code search use custom gradients (`tf.customGrad`) and
 * record nothing else on the tape.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';

/** Axes of `outShape` that were broadcast from `inShape` (to be summed in the gradient). */
function reductionAxes(inShape: number[], outShape: number[]): number[] {
  const axes: number[] = [];
  const off = outShape.length - inShape.length;
  for (let i = 0; i < outShape.length; i++) {
    const d = i < off ? 1 : inShape[i - off];
    if (d === 1 && outShape[i] !== 1) axes.push(i);
  }
  return axes;
}

/** Sum `g` (of the broadcast output shape) back to `shape`. */
function unbroadcast(g: Tensor, shape: number[]): Tensor {
  const axes = reductionAxes(shape, g.shape);
  return tf.reshape(axes.length ? tf.sum(g, axes) : g, shape);
}

function binary(
  kernelName: string,
  da: (dy: Tensor, a: Tensor, b: Tensor) => Tensor,
  db: (dy: Tensor, a: Tensor, b: Tensor) => Tensor,
): GradConfig {
  return {
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const [a, b] = saved;
      const g = dy as Tensor;
      return { a: () => unbroadcast(da(g, a, b), a.shape), b: () => unbroadcast(db(g, a, b), b.shape) };
    },
  };
}

function normAxes(axis: unknown, rank: number): number[] {
  const list = axis === undefined || axis === null ? [...Array(rank).keys()] : Array.isArray(axis) ? (axis as number[]) : [axis as number];
  return list.map((a) => (a < 0 ? a + rank : a));
}

/** Undo a reduction: reshape dy to keep-dims shape and broadcast it to x's shape. */
function expandTo(dy: Tensor, xShape: number[], axes: number[]): Tensor {
  const kept = xShape.map((d, i) => (axes.includes(i) ? 1 : d));
  return tf.mul(tf.reshape(dy, kept), tf.ones(xShape));
}

export const TRAINING_GRADIENTS: readonly GradConfig[] = [
  binary(
    tf.Add,
    (dy) => dy,
    (dy) => dy,
  ),
  binary(
    tf.Sub,
    (dy) => dy,
    (dy) => tf.neg(dy),
  ),
  binary(
    tf.Multiply,
    (dy, _a, b) => tf.mul(dy, b),
    (dy, a) => tf.mul(dy, a),
  ),
  binary(
    tf.RealDiv,
    (dy, _a, b) => tf.div(dy, b),
    (dy, a, b) => tf.neg(tf.div(tf.mul(dy, a), tf.square(b))),
  ),
  binary(
    tf.SquaredDifference,
    (dy, a, b) => tf.mul(dy, tf.mul(tf.sub(a, b), 2)),
    (dy, a, b) => tf.mul(dy, tf.mul(tf.sub(b, a), 2)),
  ),
  {
    kernelName: tf.Square,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.mul(dy as Tensor, tf.mul(saved[0], 2)) }),
  },
  {
    kernelName: tf.Neg,
    gradFunc: (dy) => ({ x: () => tf.neg(dy as Tensor) }),
  },
  {
    kernelName: tf.Abs,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.mul(dy as Tensor, tf.sign(saved[0])) }),
  },
  {
    kernelName: tf.Rsqrt,
    inputsToSave: ['x'],
    outputsToSave: [true],
    // d x^-1/2 = -1/2 x^-3/2 = -y^3 / 2
    gradFunc: (dy, saved) => ({ x: () => tf.mul(dy as Tensor, tf.mul(tf.pow(saved[1], 3), -0.5)) }),
  },
  {
    kernelName: tf.Sigmoid,
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [y] = saved;
      return { x: () => tf.mul(dy as Tensor, tf.mul(y, tf.sub(1, y))) };
    },
  },
  {
    kernelName: tf.Softmax,
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs: NamedAttrMap) => {
      const [y] = saved;
      const dim = attrs.dim as number;
      const dyy = tf.mul(dy as Tensor, y);
      return { logits: () => tf.sub(dyy, tf.mul(tf.sum(dyy, [dim], true), y)) };
    },
  },
  {
    kernelName: tf.Sum,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs: NamedAttrMap) => {
      const [x] = saved;
      return { x: () => expandTo(dy as Tensor, x.shape, normAxes(attrs.axis, x.rank)) };
    },
  },
  {
    kernelName: tf.Mean,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs: NamedAttrMap) => {
      const [x] = saved;
      const axes = normAxes(attrs.axis, x.rank);
      const n = axes.reduce((p, a) => p * x.shape[a], 1);
      return { x: () => tf.div(expandTo(dy as Tensor, x.shape, axes), n) };
    },
  },
  {
    kernelName: tf.BatchMatMul,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs: NamedAttrMap) => {
      const [a, b] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      const tA = attrs.transposeA as boolean;
      const tB = attrs.transposeB as boolean;
      if (!tA && !tB) return { a: () => tf.matMul(g, b, false, true), b: () => tf.matMul(a, g, true, false) };
      if (!tA && tB) return { a: () => tf.matMul(g, b, false, false), b: () => tf.matMul(g, a, true, false) };
      if (tA && !tB) return { a: () => tf.matMul(b, g, false, true), b: () => tf.matMul(a, g, false, false) };
      return { a: () => tf.matMul(b, g, true, true), b: () => tf.matMul(g, a, true, true) };
    },
  },
  {
    kernelName: tf.Reshape,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.reshape(dy as Tensor, saved[0].shape) }),
  },
  {
    kernelName: tf.Transpose,
    gradFunc: (dy, _saved, attrs: NamedAttrMap) => {
      const perm = attrs.perm as number[];
      const undo = new Array<number>(perm.length);
      perm.forEach((p, i) => (undo[p] = i));
      return { x: () => tf.transpose(dy as Tensor, undo) };
    },
  },
  {
    kernelName: tf.Slice,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs: NamedAttrMap) => {
      const [x] = saved;
      const g = dy as Tensor;
      const begin = attrs.begin as number[];
      const pads = x.shape.map((d, i) => [begin[i], d - begin[i] - g.shape[i]] as [number, number]);
      return { x: () => tf.pad(g, pads) };
    },
  },
  {
    kernelName: tf.PadV2,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs: NamedAttrMap) => {
      const [x] = saved;
      const paddings = attrs.paddings as Array<[number, number]>;
      return {
        x: () =>
          tf.slice(
            dy as Tensor,
            paddings.map((p) => p[0]),
            x.shape,
          ),
      };
    },
  },
  {
    kernelName: tf.SplitV,
    gradFunc: (dy, _saved, attrs: NamedAttrMap) => ({ x: () => tf.concat(dy as Tensor[], attrs.axis as number) }),
  },
  {
    kernelName: tf.Concat,
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs: NamedAttrMap) => {
      const axis = normAxes(attrs.axis, saved[0].rank)[0];
      const parts = tf.split(
        dy as Tensor,
        saved.map((t) => t.shape[axis]),
        axis,
      );
      return parts.map((t) => () => t) as unknown as Record<string, () => Tensor>;
    },
  },
  {
    kernelName: tf.Tile,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs: NamedAttrMap) => {
      const [x] = saved;
      const reps = attrs.reps as number[];
      // (r0*d0, r1*d1, ...) → (r0, d0, r1, d1, ...) and sum the r axes
      const split: number[] = [];
      x.shape.forEach((d, i) => split.push(reps[i], d));
      const axes = reps.map((_, i) => 2 * i);
      return { x: () => tf.reshape(tf.sum(tf.reshape(dy as Tensor, split), axes), x.shape) };
    },
  },
];

let registered = false;

/**
 * Register the gradients of {@link TRAINING_GRADIENTS} for kernels that have none yet.
 * Idempotent and cheap; called by the training functions of this package.
 * Returns the kernel names this call registered.
 */
export function ensureTrainingGradients(): string[] {
  if (registered) return [];
  const added: string[] = [];
  for (const g of TRAINING_GRADIENTS) {
    if (tf.getGradient(g.kernelName) === undefined) {
      tf.registerGradient(g);
      added.push(g.kernelName);
    }
  }
  registered = true;
  return added;
}
