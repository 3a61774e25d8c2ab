import { defineProject } from 'vitest/config';
import { varAliases, workerSetupFiles } from '../../tooling/vitest.shared';

export default defineProject({
  resolve: { alias: varAliases },
  test: {
    name: '@var/web',
    include: ['test/**/*.test.ts'],
    setupFiles: workerSetupFiles,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
