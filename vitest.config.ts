import { defineConfig } from 'vitest/config';

// One vitest run over every package (used by `pnpm test` and CI). Each package also has
// its own vitest config so `pnpm --filter @var/<pkg> test` works alone.
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'apps/*/vitest.config.ts', 'tooling/*/vitest.config.ts'],
  },
});
