import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // tfjs-core's gradient registrations ship only as extensionless ESM (not loadable by Node
  // directly), so that one side-effect entry is bundled; everything else stays external.
  external: [/^@tensorflow\/(?!tfjs-core\/dist\/register_all_gradients)/, /^@var\//],
  noExternal: [/^@tensorflow\/tfjs-core\/dist\/register_all_gradients/],
});
