/**
 * Gradients TensorFlow.js 4.22 does not define but training graphs run into (backend
 * independent). Registered only where tfjs-core has none, so a later tfjs that defines them
 * wins.
 *
 *  - GatherNd: d params = scatterND(indices, dy, params.shape) (repeated indices add up).
 *  - Comparisons and logical ops (Greater, Less, LessEqual, Equal, NotEqual, Logical*):
 *    zero gradients. Without them `tf.where(tf.greater(x, 0), x, y)` with a differentiable
 *    `x` fails ("gradient function not found for Greater"), because the tape walks through
 *    the condition even though Select gives it a zero gradient.
 *
 * Note: tfjs-core's gradients themselves are registered by
 * `@tensorflow/tfjs-core/dist/register_all_gradients` (the umbrella @tensorflow/tfjs
 * imports it; code using tfjs-core alone must import it once).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';

const zeroGrad = (kernelName: string, inputs: string[]): GradConfig => ({
  kernelName,
  inputsToSave: inputs,
  gradFunc: (_dy: Tensor | Tensor[], saved: Tensor[]) => Object.fromEntries(inputs.map((name, i) => [name, () => tf.zerosLike(saved[i])])),
});

const gatherNdGrad: GradConfig = {
  kernelName: tf.GatherNd,
  inputsToSave: ['params', 'indices'],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], _attrs: NamedAttrMap) => {
    const [params, indices] = saved;
    return {
      params: () => tf.scatterND(indices, dy as Tensor, params.shape),
      indices: () => tf.zerosLike(indices),
    };
  },
};

/** The gradients {@link registerMissingGradients} adds where tfjs-core has none. */
export const MISSING_GRADIENTS: readonly GradConfig[] = [
  gatherNdGrad,
  zeroGrad(tf.Greater, ['a', 'b']),
  zeroGrad(tf.GreaterEqual, ['a', 'b']),
  zeroGrad(tf.Less, ['a', 'b']),
  zeroGrad(tf.LessEqual, ['a', 'b']),
  zeroGrad(tf.Equal, ['a', 'b']),
  zeroGrad(tf.NotEqual, ['a', 'b']),
  zeroGrad(tf.LogicalAnd, ['a', 'b']),
  zeroGrad(tf.LogicalOr, ['a', 'b']),
  zeroGrad(tf.LogicalXor, ['a', 'b']),
  zeroGrad(tf.LogicalNot, ['x']),
];

/**
 * Register the gradients of {@link MISSING_GRADIENTS} that tfjs-core has not registered.
 * Idempotent; returns the kernel names registered by this call. Called by `initBackend`.
 */
export function registerMissingGradients(): string[] {
  const added: string[] = [];
  for (const g of MISSING_GRADIENTS) {
    if (tf.getGradient(g.kernelName) === undefined) {
      tf.registerGradient(g);
      added.push(g.kernelName);
    }
  }
  return added;
}
