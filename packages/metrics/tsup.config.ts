import { defineConfig } from 'tsup';

// The typed errors come from @var/core's tfjs-free entry `@var/core/errors` (a dependency, not
// bundled), so `instanceof` works across packages and the metrics load without TensorFlow.js.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  splitting: true,
  external: [/^@tensorflow\//, /^@var\//, 'fflate'],
});
