/**
 * State-dict checks: keys and shapes against the model's table (via @var/checkpoint's
 * compareStateDict), with one CheckpointError listing every missing, unexpected and mis-shaped key;
 * and the one layout change at the state-dict boundary: linear weights are official (out, in)
 * in state dicts, stored (in, out) by the model.
 */
import {
  compareStateDict,
  formatStateDictReport,
  toFloat32Array,
  type RawTensor,
  type StateDict,
  type TensorData,
  type TensorShapes,
} from '@var/checkpoint';
import { CheckpointError, transpose2DInto } from '@var/core';
import { paramShapes, type ParamSpec, type VARConfig } from './config.js';

export type { RawTensor, StateDict };

/** Throw CheckpointError when `sd` does not fit `specs` (missing/unexpected keys only when strict; buffers may be absent). */
export function checkStateDict(specs: ParamSpec[], sd: StateDict | TensorShapes, strict: boolean): void {
  if (!(sd instanceof Map)) throw new CheckpointError(`expected a state dict (Map of name → tensor), got ${typeof sd}`);
  const expected: Record<string, number[]> = {};
  for (const s of specs) if (s.kind === 'param' || sd.has(s.name)) expected[s.name] = s.shape;
  const r = compareStateDict(sd, expected);
  const missing = strict ? r.missing : [];
  const unexpected = strict ? r.unexpected : [];
  if (missing.length || unexpected.length || r.mismatched.length) {
    const report = formatStateDictReport({ ...r, missing, unexpected, ok: false, name: 'the VAR config' }, { limit: 12 });
    // the one difference users meet most: a shared-AdaLN checkpoint (one shared_ada_lin, per-block ada_gss) against a
    // per-block config, or the reverse
    const fileShared = sd.has('shared_ada_lin.1.weight');
    const configShared = specs.some((s) => s.name === 'shared_ada_lin.1.weight');
    const hint =
      fileShared !== configShared
        ? `\nThe checkpoint ${fileShared ? 'uses' : 'does not use'} shared AdaLN (shared_ada_lin.*${fileShared ? ' and blocks.N.ada_gss' : ''}) and the config ${configShared ? 'does' : 'does not'}: load it with sharedAln: ${fileShared} in the VAR config (CLI: a --config file with "shared_aln": ${fileShared}).`
        : '';
    throw new CheckpointError(
      `${report}${hint}\nCheck that the config (depth, embed_dim, num_heads, patch_nums, vocab size, Cvae, shared_aln, attn_l2_norm) is the one the checkpoint was trained with.`,
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

/** Tile side of {@link transpose2D} (a tile of 64×64 float32 is 16 KiB: both sides stay in cache). */
const TILE = 64;

/** `data` read as a row-major (rows, cols) matrix, transposed into a new array of the same type (cols, rows). */
export function transpose2D<T extends TensorData | Float32Array>(data: T, rows: number, cols: number): T {
  if (data.length !== rows * cols) throw new CheckpointError(`transpose2D: ${data.length} values do not form a ${rows}×${cols} matrix`);
  if (data instanceof Float32Array) {
    const f = new Float32Array(data.length);
    transpose2DInto(data, rows, cols, f); // @var/core's monomorphic tiled loop: ~5x the generic one below
    return f as T;
  }
  const src = data as unknown as { [i: number]: number | bigint };
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const dst = out as unknown as { [i: number]: number | bigint };
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(rows, r0 + TILE);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(cols, c0 + TILE);
      for (let r = r0; r < r1; r++) {
        const row = r * cols;
        for (let c = c0; c < c1; c++) dst[c * rows + r] = src[row + c];
      }
    }
  }
  return out;
}

function linearNames(config: VARConfig): Map<string, number[]> {
  return new Map(
    paramShapes(config)
      .filter((s) => s.linear)
      .map((s) => [s.name, s.shape]),
  );
}

/** A tensor keyed by parameter name in {@link toOfficialLayout}: a `RawTensor`, an AdamW moment or a fixture tensor. */
export interface LayoutTensor {
  dtype: string;
  shape: number[];
  data: ArrayLike<number | bigint>;
}

function relayout<T extends LayoutTensor>(config: VARConfig, tensors: ReadonlyMap<string, T>, toOfficial: boolean): Map<string, T> {
  const lin = linearNames(config);
  const out = new Map<string, T>();
  for (const [key, t] of tensors) {
    const name = lin.has(key) ? key : key.slice(key.indexOf('.') + 1);
    const official = lin.get(name);
    if (!official) {
      out.set(key, t);
      continue;
    }
    const want = toOfficial ? [official[1], official[0]] : official;
    if (t.shape.length !== 2 || t.shape[0] !== want[0] || t.shape[1] !== want[1]) {
      throw new CheckpointError(
        `${key}: shape [${t.shape}], expected [${want}] (${name} is ${toOfficial ? 'stored (in, out) by the model' : '(out, in) in the official layout'})`,
      );
    }
    out.set(key, { ...t, shape: [t.shape[1], t.shape[0]], data: transpose2D(t.data as TensorData, t.shape[0], t.shape[1]) });
  }
  return out;
}

/**
 * Tensors keyed by parameter name, or by `<prefix>.<name>` (AdamW's `m.<name>` / `v.<name>`
 * moments), from the model's layout (`trainableVariables()`, `lossGrads`, AdamW state) to the
 * official one: linear weights (in, out) → (out, in), new arrays; every other tensor is passed
 * through as it is. The inverse is {@link fromOfficialLayout}.
 * @throws CheckpointError when a linear weight does not have the model's (in, out) shape
 */
export function toOfficialLayout<T extends LayoutTensor>(config: VARConfig, tensors: ReadonlyMap<string, T>): Map<string, T> {
  return relayout(config, tensors, true);
}

/**
 * Tensors keyed like {@link toOfficialLayout}'s, from the official layout to the model's:
 * linear weights (out, in) → (in, out).
 * @throws CheckpointError when a linear weight does not have the official (out, in) shape
 */
export function fromOfficialLayout<T extends LayoutTensor>(config: VARConfig, tensors: ReadonlyMap<string, T>): Map<string, T> {
  return relayout(config, tensors, false);
}
