/**
 * The backend matrix for parity tests. `VAR_TEST_BACKENDS` (comma list, e.g. "cpu,wasm,webgpu")
 * narrows it; by default tests run on cpu and wasm, plus webgpu where a test asks for it
 * and an adapter is available.
 */
export type TestBackend = 'cpu' | 'wasm' | 'webgpu';

export function testBackends(wanted: TestBackend[] = ['cpu', 'wasm']): TestBackend[] {
  const env = process.env.VAR_TEST_BACKENDS;
  if (!env) return wanted;
  const allowed = new Set(env.split(',').map((s) => s.trim()).filter(Boolean));
  return wanted.filter((b) => allowed.has(b));
}

/** Count live tensors around `fn` and return the difference (0 means no leak). */
export async function tensorDelta(tf: { memory(): { numTensors: number } }, fn: () => unknown | Promise<unknown>): Promise<number> {
  const before = tf.memory().numTensors;
  await fn();
  return tf.memory().numTensors - before;
}
