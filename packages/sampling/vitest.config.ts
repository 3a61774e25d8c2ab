import { defineProject } from 'vitest/config';
import { varAliases, workerSetupFiles } from '../../tooling/vitest.shared';

export default defineProject({
  resolve: { alias: varAliases },
  test: {
    name: '@var/sampling',
    include: ['test/**/*.test.ts'],
    setupFiles: workerSetupFiles,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
