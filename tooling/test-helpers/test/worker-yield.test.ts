import { stat } from 'node:fs';
import { describe, expect, it } from 'vitest';

// tooling/vitest-worker-yield.ts (every project's setup file) takes the worker once round the
// event loop after each test, so the I/O a test started (here a stat of a file; in vitest, the reply
// to its RPC) is read before the next test runs, however long the tests compute synchronously.
describe('worker yield between tests (setup file)', () => {
  let done = 0;
  for (let i = 0; i < 5; i++) {
    it(`test ${i}: starts a stat, then computes synchronously; the one before it has completed`, () => {
      expect(done).toBe(i);
      stat(__filename, () => {
        done++;
      });
      const t0 = Date.now();
      while (Date.now() - t0 < 100) {
        // busy: the stat completes in the thread pool meanwhile, its callback waits for a poll
      }
    });
  }
});
