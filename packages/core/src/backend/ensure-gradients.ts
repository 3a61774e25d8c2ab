/**
 * Make sure TensorFlow.js's gradient functions are registered.
 *
 * `@tensorflow/tfjs-core` alone registers no gradients: the umbrella `@tensorflow/tfjs`
 * imports `@tensorflow/tfjs-core/dist/register_all_gradients` for its users. Code that
 * depends on tfjs-core only (as every var.ts package does) must import that module once
 * before taking gradients. In bundlers and browsers the import just works. In plain Node it
 * does not: the file is ESM with extensionless relative imports (`./gradients/Abs_grad`)
 * that Node's ESM resolver refuses. There we install a resolve hook (`module.register`,
 * Node ≥ 20.6) that retries such specifiers inside `@tensorflow/tfjs-core/dist/` with `.js`
 * appended; nothing else is affected. The gradient modules register into tfjs's global
 * registry, which the CommonJS build used by Node shares.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError } from '../errors.js';
import { isNode, errorMessage } from './env.js';
import { registerMissingGradients } from './gradients.js';

const GRADIENTS_MODULE = '@tensorflow/tfjs-core/dist/register_all_gradients.js';

const RESOLVE_HOOK = `
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    const parent = (context && context.parentURL) || '';
    const inCore = specifier.includes('@tensorflow/tfjs-core/dist/') ||
      ((specifier.startsWith('./') || specifier.startsWith('../')) && parent.includes('/@tensorflow/tfjs-core/dist/'));
    if (inCore && !specifier.endsWith('.js')) return next(specifier + '.js', context);
    throw e;
  }
}`;

let pending: Promise<void> | undefined;
let hookInstalled = false;

/** Whether the core gradients (e.g. of Conv2D, MatMul, Softmax) are registered. */
export function gradientsRegistered(): boolean {
  return ['Conv2D', 'BatchMatMul', 'Softmax', 'Multiply', 'Sum'].every((k) => tf.getGradient(k) !== undefined);
}

async function importGradients(): Promise<void> {
  // A variable specifier keeps bundlers from resolving it at build time.
  const spec: string = GRADIENTS_MODULE;
  // In Node the hook must be in place before the first attempt: Node caches a failed link.
  if (isNode() && !hookInstalled) {
    const mod: any = await import(/* @vite-ignore */ 'node:module' as string);
    if (typeof mod.register === 'function') {
      mod.register('data:text/javascript,' + encodeURIComponent(RESOLVE_HOOK));
      hookInstalled = true;
    }
  }
  await import(/* @vite-ignore */ spec);
}

/**
 * Register tfjs-core's gradients (and var.ts's {@link registerMissingGradients}) once.
 * Idempotent and safe to call concurrently; training entry points call it. Inference
 * needs no gradients.
 *
 * @example
 * await initBackend('wasm');
 * await ensureGradients();
 * const g = tf.grad((x) => tf.sum(tf.square(x)));
 */
export function ensureGradients(): Promise<void> {
  if (gradientsRegistered()) {
    registerMissingGradients();
    return Promise.resolve();
  }
  pending ??= importGradients()
    .then(() => {
      registerMissingGradients();
      if (!gradientsRegistered()) throw new Error('register_all_gradients loaded but gradients are still missing');
    })
    .catch((e) => {
      pending = undefined;
      throw new BackendUnavailableError('gradients', `could not register tfjs-core gradients: ${errorMessage(e)}`, { cause: e });
    });
  return pending;
}
