import { fileURLToPath } from 'node:url';
import { defineConfig } from 'tsup';

/**
 * The typed errors of @var/core are bundled from its `src/errors.ts` (a few small
 * classes, no imports): @var/core's entry imports @tensorflow/tfjs-core, and the metrics
 * must load without tfjs installed. Drop this once @var/core has a tfjs-free entry
 * (e.g. `@var/core/errors`).
 */
const coreErrors = fileURLToPath(new URL('../core/src/errors.ts', import.meta.url));

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: { resolve: ['@var/core'] },
  sourcemap: true,
  clean: true,
  target: 'es2022',
  splitting: true,
  external: [/^@tensorflow\//, 'fflate'],
  noExternal: ['@var/core'],
  esbuildPlugins: [
    {
      name: 'var-core-errors',
      setup(build) {
        build.onResolve({ filter: /^@var\/core$/ }, () => ({ path: coreErrors }));
      },
    },
  ],
});
