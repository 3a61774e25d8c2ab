/**
 * Node setup for the training scripts (import it first: `await import('./node-setup.mjs')`).
 * tfjs-core alone registers no gradients; `ensureGradients()` from @var/core registers them,
 * in plain Node too (it installs the resolve hook tfjs-core's extensionless ESM files need).
 */
import { ensureGradients } from '@var/core';

await ensureGradients();
