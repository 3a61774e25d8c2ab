import { defineProject } from 'vitest/config';
import { varAliases, workerSetupFiles } from '../../tooling/vitest.shared';

// The test runs the example's command (`node main.mjs`, which imports the packages' built
// dist/) in a child process, and checks its output with the packages' sources (aliases).
export default defineProject({
  resolve: { alias: varAliases },
  test: {
    name: '@var-examples/finetune-folder',
    include: ['test/**/*.test.ts'],
    setupFiles: workerSetupFiles,
    testTimeout: 600_000,
    hookTimeout: 300_000,
  },
});
