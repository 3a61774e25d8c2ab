/**
 * State-dict checks: keys and shapes against the model's table (via @var/checkpoint's
 * compareStateDict), with one CheckpointError listing every missing, unexpected and mis-shaped key.
 */
import { compareStateDict, formatStateDictReport, toFloat32Array, type RawTensor, type StateDict } from '@var/checkpoint';
import { CheckpointError } from '@var/core';
import type { ParamSpec } from './config.js';

export type { RawTensor, StateDict };

/** Throw CheckpointError when `sd` does not fit `specs` (missing/unexpected keys only when strict; buffers may be absent). */
export function checkStateDict(specs: ParamSpec[], sd: StateDict, strict: boolean): void {
  if (!(sd instanceof Map)) throw new CheckpointError(`expected a state dict (Map of name → tensor), got ${typeof sd}`);
  const expected: Record<string, number[]> = {};
  for (const s of specs) if (s.kind === 'param' || sd.has(s.name)) expected[s.name] = s.shape;
  const r = compareStateDict(sd, expected);
  const missing = strict ? r.missing : [];
  const unexpected = strict ? r.unexpected : [];
  if (missing.length || unexpected.length || r.mismatched.length) {
    const report = formatStateDictReport({ ...r, missing, unexpected, ok: false, name: 'the VAR config' }, { limit: 12 });
    throw new CheckpointError(
      `${report}\nCheck that the config (depth, embed_dim, num_heads, patch_nums, vocab size, Cvae, shared_aln, attn_l2_norm) is the one the checkpoint was trained with.`,
    );
  }
}

/** Float32 view/copy of a checkpoint tensor (F32, F16, BF16, F64, ints). */
export function rawToFloat32(name: string, t: RawTensor): Float32Array {
  try {
    return toFloat32Array(t);
  } catch (e) {
    throw new CheckpointError(`${name}: cannot read as float32: ${(e as Error).message}`, { cause: e });
  }
}
