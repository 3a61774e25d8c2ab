/**
 * Matching an official-layout state dict against the model's entry table.
 */
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

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Check `sd` against `entries`; returns the names to load. Throws one CheckpointError
 * listing every missing (strict), unexpected (strict) and mis-shaped key.
 * `quantize.ema_vocab_hit_SV` with another number of scales is skipped (as the official
 * `VQVAE.load_state_dict` does), not an error.
 */
export function checkStateDict(sd: StateDictLike, entries: readonly StateEntry[], strict: boolean, model: string): Set<string> {
  if (!(sd instanceof Map)) {
    throw new CheckpointError(`${model}: expected a state dict (Map of name → tensor); got ${sd === null ? 'null' : typeof sd}`);
  }
  const expected = new Map(entries.map((e) => [e.name, e]));
  const missing: string[] = [];
  const unexpected: string[] = [];
  const misShaped: string[] = [];
  const badDtype: string[] = [];
  const usable = new Set<string>();
  for (const e of entries) {
    const t = sd.get(e.name);
    if (!t) {
      if (e.kind !== 'buffer') missing.push(e.name);
      continue;
    }
    if (!t || !Array.isArray(t.shape)) {
      misShaped.push(`${e.name}: not a tensor`);
      continue;
    }
    if (!sameShape(t.shape, e.shape)) {
      if (e.name === BUFFER_SV && t.shape.length === 2 && t.shape[1] === e.shape[1]) continue; // official: keep the model's buffer
      misShaped.push(`${e.name}: checkpoint [${t.shape.join(', ')}] vs model [${e.shape.join(', ')}]`);
      continue;
    }
    if (!['F32', 'F64', 'F16', 'BF16'].includes(t.dtype)) {
      badDtype.push(`${e.name}: ${t.dtype}`);
      continue;
    }
    usable.add(e.name);
  }
  for (const k of sd.keys()) if (!expected.has(k)) unexpected.push(k);
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
  return usable;
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Float data of a checked entry as a Float32Array (F32 copied; F64 / F16 / BF16 converted). */
export function entryToFloat32(name: string, t: RawTensorLike): Float32Array {
  const d = t.data as ArrayLike<number>;
  switch (t.dtype) {
    case 'F32':
    case 'F64':
      return Float32Array.from(d);
    case 'F16': {
      const out = new Float32Array(d.length);
      for (let i = 0; i < d.length; i++) out[i] = f16ToF32(d[i]);
      return out;
    }
    case 'BF16': {
      const u = new Uint32Array(d.length);
      for (let i = 0; i < d.length; i++) u[i] = d[i] << 16;
      return new Float32Array(u.buffer);
    }
    default:
      throw new CheckpointError(`${name}: dtype ${t.dtype} cannot be loaded into a float32 parameter`);
  }
}
