import { defineProject } from 'vitest/config';
import { varAliases } from '../../tooling/vitest.shared';

export default defineProject({
  resolve: { alias: varAliases },
  test: {
    name: '@var/data',
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
