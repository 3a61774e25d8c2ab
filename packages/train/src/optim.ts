/**
 * The optimiser of the training runs: @var/core's AdamW (saveable state, per-parameter
 * weight-decay scale) and gradient-norm clipping, re-exported under the names this
 * package has used.
 */
export { AdamW, clipGradNorm as clipGradients, type AdamWOptions } from '@var/core';
