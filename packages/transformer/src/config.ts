/**
 * VAR transformer configuration: the camelCase twin of the official `VAR(...)` constructor
 * arguments (FoundationVision/VAR models/var.py), the values derived from it (L, begin_ends,
 * head_dim, attention scale) and the parameter table (`paramShapes`) the model allocates from.
 */
import { ConfigError } from '@var/core';

/** Constructor arguments of the official VAR, camelCase. `vocabSize`/`Cvae` come from the VQVAE. */
export interface VARConfig {
  /** Number of classes; class index `numClasses` is the unconditional ("null") class. */
  numClasses: number;
  depth: number;
  embedDim: number;
  numHeads: number;
  mlpRatio: number;
  normEps: number;
  /** Shared AdaLN: one `shared_ada_lin` plus a per-block learned `ada_gss` (official d36). */
  sharedAln: boolean;
  /** Probability of replacing a label by `numClasses` during training (classifier-free guidance). */
  condDropRate: number;
  /** Per-head L2-normalised q, k with a learned, clamped `scale_mul` (softmax scale 1). */
  attnL2Norm: boolean;
  /** Side lengths of the token maps, small to large (e.g. 1,2,3,4,5,6,8,10,13,16). */
  patchNums: number[];
  /** Codebook size V of the VQVAE. */
  vocabSize: number;
  /** Channels of a VQVAE code (Cvae). */
  Cvae: number;
  /** Stochastic depth: block i drops its residual branches with rate linspace(0, drop, depth)[i] in training. */
  dropPathRate?: number;
}

/** Values derived from a config exactly as the official constructor derives them. */
export interface VARDerived {
  /** Total number of tokens over all scales: sum pn². */
  L: number;
  /** Tokens of the first scale: patchNums[0]². */
  firstL: number;
  /** [begin, end) of every scale in the token sequence. */
  beginEnds: [number, number][];
  headDim: number;
  /** FFN hidden width: round(embedDim · mlpRatio). */
  mlpHidden: number;
  /** Softmax scale: 1 with attnL2Norm, else 0.25/√headDim. */
  attnScale: number;
  /**
   * Clamp of scale_mul before exp: float32(log 100) with attnL2Norm; `null` without it (the
   * official SelfAttention defines no max_scale_mul then, and no scale_mul parameter exists).
   */
  attnMaxScaleMul: number | null;
}

function isPosInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/** Throws {@link ConfigError} when a config is incomplete or inconsistent. */
export function validateConfig(c: VARConfig): void {
  const bad: string[] = [];
  for (const k of ['numClasses', 'depth', 'embedDim', 'numHeads', 'vocabSize', 'Cvae'] as const) {
    if (!isPosInt(c[k])) bad.push(`${k} must be a positive integer (got ${String(c[k])})`);
  }
  if (!(typeof c.mlpRatio === 'number' && c.mlpRatio > 0)) bad.push(`mlpRatio must be > 0 (got ${String(c.mlpRatio)})`);
  if (!(typeof c.normEps === 'number' && c.normEps > 0)) bad.push(`normEps must be > 0 (got ${String(c.normEps)})`);
  if (!(typeof c.condDropRate === 'number' && c.condDropRate >= 0 && c.condDropRate <= 1))
    bad.push(`condDropRate must be in [0, 1] (got ${String(c.condDropRate)})`);
  if (typeof c.sharedAln !== 'boolean') bad.push(`sharedAln must be a boolean (got ${String(c.sharedAln)})`);
  if (typeof c.attnL2Norm !== 'boolean') bad.push(`attnL2Norm must be a boolean (got ${String(c.attnL2Norm)})`);
  if (!Array.isArray(c.patchNums) || c.patchNums.length === 0 || !c.patchNums.every(isPosInt)) {
    bad.push(`patchNums must be a non-empty array of positive integers (got ${JSON.stringify(c.patchNums)})`);
  }
  if (isPosInt(c.embedDim) && isPosInt(c.numHeads) && c.embedDim % c.numHeads !== 0) {
    bad.push(`embedDim (${c.embedDim}) must be divisible by numHeads (${c.numHeads})`);
  }
  if (c.dropPathRate !== undefined && !(c.dropPathRate >= 0 && c.dropPathRate < 1))
    bad.push(`dropPathRate must be in [0, 1) (got ${c.dropPathRate})`);
  if (bad.length) throw new ConfigError(`invalid VARConfig: ${bad.join('; ')}`);
}

/** L, first_l, begin_ends, head_dim, … as the official constructor computes them. */
export function deriveConfig(c: VARConfig): VARDerived {
  validateConfig(c);
  const beginEnds: [number, number][] = [];
  let cur = 0;
  for (const pn of c.patchNums) {
    beginEnds.push([cur, cur + pn * pn]);
    cur += pn * pn;
  }
  const headDim = c.embedDim / c.numHeads;
  return {
    L: cur,
    firstL: c.patchNums[0] * c.patchNums[0],
    beginEnds,
    headDim,
    mlpHidden: Math.round(c.embedDim * c.mlpRatio),
    attnScale: c.attnL2Norm ? 1 : 0.25 / Math.sqrt(headDim),
    attnMaxScaleMul: c.attnL2Norm ? Math.fround(Math.log(100)) : null,
  };
}

/**
 * Map the fixture's / official snake_case VAR arguments to a {@link VARConfig}.
 * `vocab_size` and `Cvae` belong to the VQVAE: pass them in `vae` (or in `o` as `V`/`vocab_size`, `Cvae`/`z_channels`).
 */
export function fromOfficialConfig(
  o: Record<string, any>,
  vae: { vocab_size?: number; z_channels?: number; Cvae?: number; V?: number } = {},
): VARConfig {
  const pick = (...vals: unknown[]) => vals.find((v) => v !== undefined && v !== null);
  const cfg: VARConfig = {
    numClasses: pick(o.num_classes, 1000) as number,
    depth: pick(o.depth, 16) as number,
    embedDim: pick(o.embed_dim, 1024) as number,
    numHeads: pick(o.num_heads, 16) as number,
    mlpRatio: pick(o.mlp_ratio, 4) as number,
    normEps: pick(o.norm_eps, 1e-6) as number,
    sharedAln: pick(o.shared_aln, false) as boolean,
    condDropRate: pick(o.cond_drop_rate, 0.1) as number,
    attnL2Norm: pick(o.attn_l2_norm, false) as boolean,
    patchNums: [...(pick(o.patch_nums, [1, 2, 3, 4, 5, 6, 8, 10, 13, 16]) as number[])],
    vocabSize: pick(vae.vocab_size, vae.V, o.vocab_size, o.V) as number,
    Cvae: pick(vae.z_channels, vae.Cvae, o.Cvae, o.z_channels) as number,
    dropPathRate: pick(o.drop_path_rate, 0) as number,
  };
  for (const k of ['drop_rate', 'attn_drop_rate'] as const) {
    if (o[k] !== undefined && o[k] !== 0)
      throw new ConfigError(`fromOfficialConfig: ${k}=${o[k]} is not supported (the official models use 0)`);
  }
  validateConfig(cfg);
  return cfg;
}

/** Names of the official presets. */
export type VARPresetName = 'd16' | 'd20' | 'd24' | 'd30' | 'd36';

/**
 * The released checkpoints' configurations (models/__init__.py build_vae_var): width 64·depth,
 * heads = depth, the official VQVAE (V 4096, Cvae 32), 1000 classes, attn_l2_norm, mlp_ratio 4,
 * norm_eps 1e-6, drop_path_rate 0.1·depth/24. d16–d30 are the 256px models (10 scales up to 16,
 * shared_aln False); d36 is the released 512px model (scales up to 32, shared_aln True).
 */
export function varPreset(name: VARPresetName | number): VARConfig {
  const depth = typeof name === 'number' ? name : Number(String(name).replace(/^d/, ''));
  if (![16, 20, 24, 30, 36].includes(depth))
    throw new ConfigError(`unknown VAR preset ${String(name)}: expected one of d16, d20, d24, d30, d36`);
  const is512 = depth === 36;
  return {
    numClasses: 1000,
    depth,
    embedDim: 64 * depth,
    numHeads: depth,
    mlpRatio: 4,
    normEps: 1e-6,
    sharedAln: is512,
    condDropRate: 0.1,
    attnL2Norm: true,
    patchNums: is512 ? [1, 2, 3, 4, 6, 9, 13, 18, 24, 32] : [1, 2, 3, 4, 5, 6, 8, 10, 13, 16],
    vocabSize: 4096,
    Cvae: 32,
    dropPathRate: (0.1 * depth) / 24,
  };
}

/** One entry of the state dict: parameter or buffer, in official state_dict order. */
export interface ParamSpec {
  name: string;
  shape: number[];
  dtype: 'F32' | 'I64';
  /** Buffers are not trained and are recomputed from the config (they are accepted on load and written on save). */
  kind: 'param' | 'buffer';
  /**
   * A linear layer's weight: official layout (out, in) (`shape`), which the model stores
   * transposed, (in, out), the layout its products take (see {@link storedShape}).
   */
  linear?: true;
}

/** The layout a model's variable has: (in, out) for linear weights, else the official shape. */
export function storedShape(spec: Pick<ParamSpec, 'shape' | 'linear'>): number[] {
  return spec.linear ? [spec.shape[1], spec.shape[0]] : [...spec.shape];
}

/**
 * The official state dict table for `config`: names, shapes and dtypes in `state_dict()` order.
 * The model allocates its variables from this table (linear weights transposed, see
 * {@link storedShape}), so a test of the table needs no allocation.
 */
export function paramShapes(config: VARConfig): ParamSpec[] {
  const d = deriveConfig(config);
  const C = config.embedDim;
  const out: ParamSpec[] = [];
  const p = (name: string, shape: number[]) => out.push({ name, shape, dtype: 'F32', kind: 'param' });
  const lin = (name: string, shape: number[]) => out.push({ name, shape, dtype: 'F32', kind: 'param', linear: true });
  const b = (name: string, shape: number[], dtype: 'F32' | 'I64' = 'F32') => out.push({ name, shape, dtype, kind: 'buffer' });
  p('pos_start', [1, d.firstL, C]);
  p('pos_1LC', [1, d.L, C]);
  b('lvl_1L', [1, d.L], 'I64');
  b('attn_bias_for_masking', [1, 1, d.L, d.L]);
  lin('word_embed.weight', [C, config.Cvae]);
  p('word_embed.bias', [C]);
  p('class_emb.weight', [config.numClasses + 1, C]);
  p('lvl_embed.weight', [config.patchNums.length, C]);
  if (config.sharedAln) {
    lin('shared_ada_lin.1.weight', [6 * C, C]);
    p('shared_ada_lin.1.bias', [6 * C]);
  }
  for (let i = 0; i < config.depth; i++) {
    const pre = `blocks.${i}.`;
    if (config.sharedAln) p(pre + 'ada_gss', [1, 1, 6, C]);
    if (config.attnL2Norm) p(pre + 'attn.scale_mul_1H11', [1, config.numHeads, 1, 1]);
    p(pre + 'attn.q_bias', [C]);
    p(pre + 'attn.v_bias', [C]);
    b(pre + 'attn.zero_k_bias', [C]);
    lin(pre + 'attn.mat_qkv.weight', [3 * C, C]);
    lin(pre + 'attn.proj.weight', [C, C]);
    p(pre + 'attn.proj.bias', [C]);
    lin(pre + 'ffn.fc1.weight', [d.mlpHidden, C]);
    p(pre + 'ffn.fc1.bias', [d.mlpHidden]);
    lin(pre + 'ffn.fc2.weight', [C, d.mlpHidden]);
    p(pre + 'ffn.fc2.bias', [C]);
    if (!config.sharedAln) {
      lin(pre + 'ada_lin.1.weight', [6 * C, C]);
      p(pre + 'ada_lin.1.bias', [6 * C]);
    }
  }
  lin('head_nm.ada_lin.1.weight', [2 * C, C]);
  p('head_nm.ada_lin.1.bias', [2 * C]);
  lin('head.weight', [config.vocabSize, C]);
  p('head.bias', [config.vocabSize]);
  return out;
}

/** Number of trainable parameters (elements) of `config`, without allocating anything. */
export function countParameters(config: VARConfig): number {
  let n = 0;
  for (const s of paramShapes(config)) if (s.kind === 'param') n += s.shape.reduce((a, b) => a * b, 1);
  return n;
}
