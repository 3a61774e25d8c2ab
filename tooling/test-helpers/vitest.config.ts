import { defineProject } from 'vitest/config';
import { workerSetupFiles } from '../vitest.shared';

export default defineProject({
  test: { name: '@var/test-helpers', include: ['test/**/*.test.ts'], setupFiles: workerSetupFiles },
});
