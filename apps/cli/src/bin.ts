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

const hook = String.raw`
const IN_TF = /[\\/]@tensorflow[\\/]tfjs-core[\\/]dist[\\/]/;
export async function resolve(specifier, context, next) {
  const deep = /^@tensorflow\/tfjs-core\/dist\/[^.]+$/.test(specifier);
  const fromTf = context.parentURL && IN_TF.test(context.parentURL) && /^\.\.?\//.test(specifier) && !/\.m?js$/.test(specifier);
  return next(deep || fromTf ? specifier + '.js' : specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`, import.meta.url);

const { main } = await import('./main.js');
process.exitCode = await main(process.argv.slice(2));
