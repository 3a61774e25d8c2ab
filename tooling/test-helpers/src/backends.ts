/**
 * The backend matrix for parity tests. `VAR_TEST_BACKENDS` (comma list, e.g. "cpu,wasm,webgpu")
 * narrows it; by default tests run on cpu and wasm, plus webgpu where a test asks for it
 * and an adapter is available.
 */
export type TestBackend = 'cpu' | 'wasm' | 'webgpu';

export function testBackends(wanted: TestBackend[] = ['cpu', 'wasm']): TestBackend[] {
  const env = process.env.VAR_TEST_BACKENDS;
  if (!env) return wanted;
  const allowed = new Set(
    env
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  return wanted.filter((b) => allowed.has(b));
}

/** Count live tensors around `fn` and return the difference (0 means no leak). */
export async function tensorDelta(tf: { memory(): { numTensors: number } }, fn: () => unknown | Promise<unknown>): Promise<number> {
  const before = tf.memory().numTensors;
  await fn();
  return tf.memory().numTensors - before;
}

/** The case fields {@link caseBackends} reads (a {@link FixtureCase}'s parsed config.json). */
export interface CaseCostInput {
  dir?: string;
  config: { img_size: number; batch: number; VQVAE: { ch: number }; VAR?: { depth: number; embed_dim: number }; derived?: { L: number } };
}

/**
 * Relative cost of one VQVAE encode + decode of the case: batch · pixels · ch² (the convolutions
 * dominate), 1 for var-tiny's 2 × 64² px at ch 32.
 */
export function vqvaeCost(fc: CaseCostInput): number {
  const { img_size: s, batch: b, VQVAE } = fc.config;
  return (b * s * s * VQVAE.ch * VQVAE.ch) / (2 * 64 * 64 * 32 * 32);
}

/** Largest {@link vqvaeCost} the cpu backend (plain JS, ~20 s for var-tiny's recon checks) runs within the suites' 120 s timeouts. */
export const CPU_MAX_VQVAE_COST = 2;

/**
 * The backends a parity suite runs a case on: {@link testBackends}(wanted), minus `cpu` when the
 * case's VQVAE is too large for the plain-JS backend to finish within the timeouts (it is ~30×
 * slower than wasm on convolutions). The check itself still runs on every other backend; the
 * reason is logged. `VAR_TEST_CPU_ANY_SIZE=1` keeps cpu for any size (for a long, deliberate run).
 */
export function caseBackends(fc: CaseCostInput, wanted: TestBackend[] = ['cpu', 'wasm'], what = 'parity'): TestBackend[] {
  const list = testBackends(wanted);
  const cost = vqvaeCost(fc);
  if (!list.includes('cpu') || cost <= CPU_MAX_VQVAE_COST || process.env.VAR_TEST_CPU_ANY_SIZE === '1') return list;
  const rest = list.filter((b) => b !== 'cpu');
  const c = fc.config;
  console.log(
    `[${what}] cpu backend left out for ${fc.dir ?? 'this case'}: VQVAE cost ${cost.toFixed(1)}× var-tiny ` +
      `(${c.batch} × ${c.img_size}² px, ch ${c.VQVAE.ch}) > ${CPU_MAX_VQVAE_COST}× would run past the 120 s timeout on cpu; ` +
      `checking on ${rest.join(', ') || 'no other backend'} (VAR_TEST_CPU_ANY_SIZE=1 keeps cpu)`,
  );
  if (rest.length === 0) return list; // never drop the only backend asked for: the check must run somewhere
  return rest;
}
