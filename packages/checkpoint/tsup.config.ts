import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  external: [/^@tensorflow\//, /^@var\//],
  // keep `node:fs/promises` (imported lazily, only for paths) recognisable to browser bundlers
  removeNodeProtocol: false,
});
