/**
 * Once round the event loop: a timer turn, then a check turn, with the I/O poll between them.
 * A test computing synchronously for long (wasm / cpu kernels; `await tensor.data()` there is
 * only a microtask) awaits it between its heavy steps, so its vitest worker can read the replies
 * of its RPC calls, which time out after 60 s (see tooling/vitest-worker-yield.ts, which does it
 * after every test).
 */
export async function yieldToEventLoop(): Promise<void> {
  await new Promise<void>((r) => setTimeout(r, 0));
  await new Promise<void>((r) => setImmediate(r));
}
