/**
 * Node setup for the training scripts (import it first: `node --import ./scripts/node-setup.mjs …`
 * or `await import('./node-setup.mjs')` before anything imports TensorFlow.js).
 *
 * In plain Node, `@tensorflow/tfjs-core` registers no gradients (only the umbrella
 * `@tensorflow/tfjs` does), and its ESM build's `register_all_gradients.js` uses
 * extensionless relative imports that Node's ESM resolver refuses. This registers a tiny
 * resolve hook that retries such specifiers inside `@tensorflow/tfjs-core/dist/` with `.js`
 * appended, then imports `register_all_gradients.js` once.
 */
import { register } from 'node:module';

const hook = `
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    const parent = context.parentURL || '';
    const inCore = specifier.includes('@tensorflow/tfjs-core/dist/') ||
      ((specifier.startsWith('./') || specifier.startsWith('../')) && parent.includes('/@tensorflow/tfjs-core/dist/'));
    if (inCore && !specifier.endsWith('.js')) return next(specifier + '.js', context);
    throw e;
  }
}`;
register('data:text/javascript,' + encodeURIComponent(hook));
// Load the main build first: it creates the global engine (and its Tensor class, whose
// chained methods such as clone() work); the ESM gradient files then register into it.
await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
