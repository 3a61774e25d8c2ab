#!/usr/bin/env node
/**
 * The `var` executable. Installs one documented Node resolution workaround, then runs the CLI.
 *
 * Workaround (remove once @var/tokenizer no longer needs it): `@var/tokenizer`'s training
 * module imports `@tensorflow/tfjs-core/dist/register_all_gradients` (no extension) at top
 * level. tfjs-core's `dist/*.js` are ES modules whose own relative imports have no extension
 * either, which plain Node's ESM resolver refuses (vitest/vite and bundlers accept them). The
 * hook below retries such imports — only for files inside `@tensorflow/tfjs-core/dist/` — with
 * `.js` (or `/index.js`) appended. Inference does not need gradients; the hook only makes the
 * import resolvable.
 */
import { register } from 'node:module';

const hook = `
const TF = /[\\\\/]@tensorflow[\\\\/]tfjs-core[\\\\/]dist[\\\\/]/;
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    const fromTf = context.parentURL && TF.test(context.parentURL) && specifier.startsWith('.');
    const deep = specifier.startsWith('@tensorflow/tfjs-core/dist/');
    if (err && err.code === 'ERR_MODULE_NOT_FOUND' && (fromTf || deep) && !specifier.endsWith('.js')) {
      try { return await next(specifier + '.js', context); } catch { return next(specifier + '/index.js', context); }
    }
    throw err;
  }
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`, import.meta.url);

const { main } = await import('./main.js');
process.exitCode = await main(process.argv.slice(2));
