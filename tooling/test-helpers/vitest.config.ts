import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: '@var/test-helpers', include: ['test/**/*.test.ts'] },
});
