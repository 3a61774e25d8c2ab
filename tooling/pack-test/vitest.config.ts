import { defineProject } from 'vitest/config';
import { workerSetupFiles } from '../vitest.shared';

export default defineProject({
  test: {
    name: '@var/pack-test',
    include: ['test/**/*.test.ts'],
    setupFiles: workerSetupFiles,
    // the pack test installs and runs all nine packages concurrently (limits in src/harness.ts)
    maxConcurrency: 16,
    // generous: under load (both cores busy) an install waits for its slot; on 2 idle cores the whole file takes a few minutes
    testTimeout: 1_800_000,
    hookTimeout: 600_000,
  },
});
