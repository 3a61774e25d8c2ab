/**
 * @tensorflow/tfjs-core with its gradients registered, for Node scripts.
 */
import { register } from 'node:module';

// tfjs-core registers its gradients only through the ESM file
// dist/register_all_gradients.js (the umbrella @tensorflow/tfjs imports it), whose
// relative imports have no extension; this resolve hook lets Node load it.
register(
  'data:text/javascript,' +
    encodeURIComponent(`export async function resolve(s, c, next) {
  try { return await next(s, c); } catch (e) {
    if (e && (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'ERR_UNSUPPORTED_DIR_IMPORT') && /^\\.\\.?\\//.test(s) && !s.endsWith('.js')) return next(s + '.js', c);
    throw e;
  }
}`),
);

/** Import tfjs-core and register its gradients (idempotent). */
export async function loadTfWithGradients() {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  return tf;
}
