import { defineConfig } from 'vitest/config';

// One vitest run over every package, app, tooling project (including the release checks of
// tooling/pack-test: pack + install every package alone from the npm registry, `changeset
// version`, API reference) and example (used by `pnpm test` and CI). Each package also has its
// own vitest config so `pnpm --filter @var/<pkg> test` works alone; `pnpm test:release` runs
// the release checks only. VAR_SKIP_RELEASE_TESTS=1 leaves them out (offline work).
const skipRelease = process.env.VAR_SKIP_RELEASE_TESTS === '1';
export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'apps/*/vitest.config.ts',
      'tooling/*/vitest.config.ts',
      'examples/*/vitest.config.ts',
      'experiments/vitest.config.ts',
      ...(skipRelease ? ['!tooling/pack-test/vitest.config.ts'] : []),
    ],
  },
});
