/**
 * Setup file of every vitest project (tooling/vitest.shared.ts: `workerSetupFiles`).
 *
 * A vitest worker reports to its runner over an RPC channel whose calls time out after a fixed
 * 60 s ("[vitest-worker]: Timeout calling onTaskUpdate"; not configurable in vitest 3). The
 * reply is read only when the worker's event loop polls for I/O. Our tests compute on wasm and
 * cpu synchronously, and `await tensor.data()` there resolves as a microtask, so a file of
 * heavy tests could run back to back for over a minute without one poll: the run then fails with
 * every test passed, more often on a loaded machine.
 *
 * So after every test the worker goes once round the event loop (timers, then I/O poll), and a
 * test that itself kept the loop blocked for more than {@link WARN_MS} is named in a warning, so
 * the next one to grow long is found before it reaches the limit.
 */
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, expect } from 'vitest';
import { yieldToEventLoop } from './test-helpers/src/event-loop.js';

/** A test that blocks its worker longer than this gets a warning (the RPC timeout is 60 s). */
export const WARN_MS = 30_000;

let lastTurn = performance.now();
let longest = 0;
const ticker = setInterval(() => {
  const now = performance.now();
  longest = Math.max(longest, now - lastTurn);
  lastTurn = now;
}, 1000);
ticker.unref();

beforeEach(() => {
  lastTurn = performance.now();
  longest = 0;
});

afterEach(async () => {
  const blocked = Math.max(longest, performance.now() - lastTurn);
  if (blocked > WARN_MS) {
    console.warn(
      `[worker stall] "${expect.getState().currentTestName}" kept its worker's event loop blocked for ${(blocked / 1000).toFixed(0)} s ` +
        `(vitest's RPC times out at 60 s): split it or await yieldToEventLoop() between its heavy steps`,
    );
  }
  await yieldToEventLoop();
});
