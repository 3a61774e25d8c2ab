/**
 * Matching an official-layout state dict against the model's entry table.
 */
import { compareStateDict, isFloatDType, toFloat32Array, type DType, type RawTensor, type StateDict } from '@var/checkpoint';
import { CheckpointError } from '@var/core';
import type { StateEntry } from './shapes.js';

/** A tensor as @var/checkpoint returns it (RawTensor): dtype name, shape, dense row-major data. */
export interface RawTensorLike {
  dtype: string;
  shape: number[];
  data: ArrayLike<number> | BigInt64Array | ArrayBufferView;
}
/** A state dict: name → tensor (e.g. @var/checkpoint's `StateDict`). */
export type StateDictLike = ReadonlyMap<string, RawTensorLike>;
/** What {@link VQVAE.stateDict} returns (structurally @var/checkpoint's `StateDict`). */
export type StateDictOut = Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>;

const BUFFER_SV = 'quantize.ema_vocab_hit_SV';

/**
 * Check `sd` against `entries` (through @var/checkpoint's `compareStateDict`); returns
 * the names to load. Throws one CheckpointError listing every missing (strict),
 * unexpected (strict), mis-shaped and non-float key. `quantize.ema_vocab_hit_SV` may be
 * absent, and one with another number of scales is skipped (as the official
 * `VQVAE.load_state_dict` does).
 */
export function checkStateDict(
  sd: StateDictLike | ReadonlyMap<string, Pick<RawTensorLike, 'dtype' | 'shape'>>,
  entries: readonly StateEntry[],
  strict: boolean,
  model: string,
): Set<string> {
  if (!(sd instanceof Map)) {
    throw new CheckpointError(`${model}: expected a state dict (Map of name → tensor); got ${sd === null ? 'null' : typeof sd}`);
  }
  const kinds = new Map(entries.map((e) => [e.name, e]));
  const report = compareStateDict(sd as unknown as StateDict, Object.fromEntries(entries.map((e) => [e.name, e.shape])));
  const missing = report.missing.filter((k) => kinds.get(k)?.kind !== 'buffer');
  const unexpected = report.unexpected;
  const skip = new Set<string>(report.missing);
  const misShaped: string[] = [];
  for (const m of report.mismatched) {
    skip.add(m.key);
    if (m.key === BUFFER_SV && m.found.length === 2 && m.found[1] === m.expected[1]) continue; // official: keep the model's buffer
    misShaped.push(`${m.key}: checkpoint [${m.found.join(', ')}] vs model [${m.expected.join(', ')}]`);
  }
  const badDtype: string[] = [];
  for (const e of entries) {
    const t = sd.get(e.name);
    if (t && !skip.has(e.name) && !isFloatDType(t.dtype as DType)) {
      badDtype.push(`${e.name}: ${t.dtype}`);
      skip.add(e.name);
    }
  }
  const problems: string[] = [];
  const list = (xs: string[]) => xs.slice(0, 20).join('; ') + (xs.length > 20 ? `; … (${xs.length - 20} more)` : '');
  if (misShaped.length) problems.push(`${misShaped.length} mis-shaped key(s): ${list(misShaped)}`);
  if (badDtype.length) problems.push(`${badDtype.length} key(s) with a non-float dtype: ${list(badDtype)}`);
  if (strict && missing.length) problems.push(`${missing.length} missing key(s): ${list(missing)}`);
  if (strict && unexpected.length) problems.push(`${unexpected.length} unexpected key(s): ${list(unexpected)}`);
  if (problems.length) {
    const err = new CheckpointError(
      `${model}: the state dict does not match the model (${problems.join(' | ')}). ` +
        `Check that the config matches the checkpoint (vocabSize, zChannels, ch, chMult, vPatchNums, shareQuantResi, quantResi), or pass { strict: false } to skip missing/unexpected keys.`,
    );
    Object.assign(err, { missing, unexpected, misShaped });
    throw err;
  }
  return new Set(entries.map((e) => e.name).filter((k) => !skip.has(k)));
}

/**
 * Float data of a checked entry (F64 / F16 / BF16 converted by @var/checkpoint): a new
 * Float32Array, or with `view` the entry's own F32 data where it has it (for @var/core's
 * weightTensor, which copies it into backend memory and keeps nothing).
 */
export function entryToFloat32(t: RawTensorLike, opts: { view?: boolean } = {}): Float32Array {
  const f = toFloat32Array(t as unknown as RawTensor);
  return f === (t.data as unknown) && !opts.view ? new Float32Array(f) : f;
}
