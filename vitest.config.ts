import { defineConfig } from 'vitest/config';

// One vitest run over every package and example (used by `pnpm test` and CI). Each package
// also has its own vitest config so `pnpm --filter @var/<pkg> test` works alone.
// The release checks (tooling/pack-test: pack + install every package alone from the npm
// registry, `changeset version`, API reference) run with VAR_RELEASE_TESTS=1 (`pnpm test:release`).
const release = process.env.VAR_RELEASE_TESTS === '1';
export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'apps/*/vitest.config.ts',
      'tooling/*/vitest.config.ts',
      'examples/*/vitest.config.ts',
      ...(release ? [] : ['!tooling/pack-test/vitest.config.ts']),
    ],
  },
});
