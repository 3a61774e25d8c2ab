import { defineConfig, type Options } from 'tsup';

/**
 * The build of every published package (one place): ESM + `.d.ts` from `src/index.ts`, ES2022,
 * TensorFlow.js and sibling @var packages left external (peers and dependencies, never bundled).
 * A package's `tsup.config.ts` passes only what differs.
 */
export function library(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    external: [/^@tensorflow\//, /^@var\//],
    ...overrides,
  });
}
