/**
 * Configuration of the multi-scale VQVAE: camelCase versions of the official
 * `VQVAE.__init__` arguments (models/vqvae.py) plus the `ddconfig` constants the
 * official code fixes (`chMult`, `numResBlocks`, `inChannels`, attention flags).
 */
import { ConfigError } from '@var/core';

/** Full configuration of a {@link VQVAE} (every field resolved). */
export interface VQVAEConfig {
  /** Codebook size V. */
  vocabSize: number;
  /** Channels of the latent f / f_hat (Cvae). */
  zChannels: number;
  /** Base channel count of encoder and decoder. */
  ch: number;
  /** Channel multiplier per resolution level; the downsample factor is 2^(len-1). */
  chMult: number[];
  /** Resnet blocks per level in the encoder (the decoder has one more). */
  numResBlocks: number;
  /** Dropout rate inside resnet blocks (training only). */
  dropout: number;
  /** Commitment loss weight of the quantiser. */
  beta: number;
  /** Nearest code by cosine similarity of L2-normalised vectors instead of L2 distance. */
  usingZnorm: boolean;
  /** Kernel size of `quant_conv` / `post_quant_conv`. */
  quantConvKs: number;
  /** phi(h) = (1-|quantResi|)·h + |quantResi|·conv3x3(h); |quantResi| <= 1e-6 means phi = identity. */
  quantResi: number;
  /** 0: one phi per scale (non-shared); 1: one shared phi; K >= 2: K partially shared phis. */
  shareQuantResi: number;
  /** Number of phis when `shareQuantResi` is 0 (0 = one per scale). */
  defaultQresiCounts: number;
  /** Side length of the token map of every scale, small to large; the last equals the latent size. */
  vPatchNums: number[];
  /** Image channels. */
  inChannels: number;
  /** Self-attention after every resnet block of the lowest-resolution level (official: true). */
  usingSa: boolean;
  /** Self-attention in the middle block (official: true). */
  usingMidSa: boolean;
}

/** The defaults of the official constructor (models/vqvae.py). */
export const DEFAULT_VQVAE_CONFIG: Readonly<VQVAEConfig> = Object.freeze({
  vocabSize: 4096,
  zChannels: 32,
  ch: 128,
  chMult: [1, 1, 2, 2, 4],
  numResBlocks: 2,
  dropout: 0,
  beta: 0.25,
  usingZnorm: false,
  quantConvKs: 3,
  quantResi: 0.5,
  shareQuantResi: 4,
  defaultQresiCounts: 0,
  vPatchNums: [1, 2, 3, 4, 5, 6, 8, 10, 13, 16],
  inChannels: 3,
  usingSa: true,
  usingMidSa: true,
});

/**
 * Presets of released tokenizers. `vae_ch160v4096z32` is the VQVAE shipped with
 * VAR (`vae_ch160v4096z32.pth`, 256px, 10 scales).
 */
export const VQVAE_PRESETS = Object.freeze({
  vae_ch160v4096z32: Object.freeze({
    ...DEFAULT_VQVAE_CONFIG,
    vocabSize: 4096,
    zChannels: 32,
    ch: 160,
    shareQuantResi: 4,
    quantResi: 0.5,
    vPatchNums: [1, 2, 3, 4, 5, 6, 8, 10, 13, 16],
  }) as Readonly<VQVAEConfig>,
});

export type VQVAEPresetName = keyof typeof VQVAE_PRESETS;

function isPosInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0;
}

/**
 * Fill defaults and validate. Throws {@link ConfigError} naming the offending field.
 */
export function resolveVQVAEConfig(partial: Partial<VQVAEConfig> = {}): VQVAEConfig {
  if (partial === null || typeof partial !== 'object') {
    throw new ConfigError(`VQVAE config must be an object; got ${partial === null ? 'null' : typeof partial}`);
  }
  const known = new Set(Object.keys(DEFAULT_VQVAE_CONFIG));
  for (const k of Object.keys(partial)) {
    if (!known.has(k)) {
      throw new ConfigError(
        `VQVAE config: unknown field "${k}" (known: ${[...known].join(', ')}); for official snake_case configs use fromOfficialConfig()`,
      );
    }
  }
  const c: VQVAEConfig = {
    ...DEFAULT_VQVAE_CONFIG,
    ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)),
  } as VQVAEConfig;
  c.chMult = [...c.chMult];
  c.vPatchNums = [...c.vPatchNums];
  for (const k of ['vocabSize', 'zChannels', 'ch', 'numResBlocks', 'quantConvKs', 'inChannels'] as const) {
    if (!isPosInt(c[k])) throw new ConfigError(`VQVAE config: ${k} must be a positive integer; got ${JSON.stringify(c[k])}`);
  }
  if (c.quantConvKs % 2 !== 1) {
    throw new ConfigError(
      `VQVAE config: quantConvKs must be odd (the official conv uses padding ks//2 and keeps the size); got ${c.quantConvKs}`,
    );
  }
  if (!Array.isArray(c.chMult) || c.chMult.length === 0 || !c.chMult.every(isPosInt)) {
    throw new ConfigError(`VQVAE config: chMult must be a non-empty array of positive integers; got ${JSON.stringify(c.chMult)}`);
  }
  for (const m of c.chMult) {
    if ((c.ch * m) % 32 !== 0) {
      throw new ConfigError(
        `VQVAE config: every ch*chMult[i] must be divisible by 32 (GroupNorm with 32 groups); ch=${c.ch}, chMult=${JSON.stringify(c.chMult)}`,
      );
    }
  }
  // One scale is a plain (single-scale) VQ tokenizer, as raster-order baselines use; the official
  // quantiser would divide by len-1 there, this one uses phi 0 (see phiLayout).
  if (!Array.isArray(c.vPatchNums) || c.vPatchNums.length < 1 || !c.vPatchNums.every(isPosInt)) {
    throw new ConfigError(`VQVAE config: vPatchNums must list at least one positive integer; got ${JSON.stringify(c.vPatchNums)}`);
  }
  if (!(typeof c.dropout === 'number' && c.dropout >= 0 && c.dropout < 1)) {
    throw new ConfigError(`VQVAE config: dropout must be in [0, 1); got ${JSON.stringify(c.dropout)}`);
  }
  for (const k of ['beta', 'quantResi'] as const) {
    if (typeof c[k] !== 'number' || !Number.isFinite(c[k]))
      throw new ConfigError(`VQVAE config: ${k} must be a finite number; got ${JSON.stringify(c[k])}`);
  }
  if (!Number.isInteger(c.shareQuantResi) || c.shareQuantResi < 0) {
    throw new ConfigError(`VQVAE config: shareQuantResi must be an integer >= 0; got ${JSON.stringify(c.shareQuantResi)}`);
  }
  if (!Number.isInteger(c.defaultQresiCounts) || c.defaultQresiCounts < 0) {
    throw new ConfigError(`VQVAE config: defaultQresiCounts must be an integer >= 0; got ${JSON.stringify(c.defaultQresiCounts)}`);
  }
  for (const k of ['usingZnorm', 'usingSa', 'usingMidSa'] as const) {
    if (typeof c[k] !== 'boolean') throw new ConfigError(`VQVAE config: ${k} must be a boolean; got ${JSON.stringify(c[k])}`);
  }
  return c;
}

const OFFICIAL_KEYS: Record<string, keyof VQVAEConfig | null> = {
  vocab_size: 'vocabSize',
  z_channels: 'zChannels',
  ch: 'ch',
  ch_mult: 'chMult',
  num_res_blocks: 'numResBlocks',
  dropout: 'dropout',
  beta: 'beta',
  using_znorm: 'usingZnorm',
  quant_conv_ks: 'quantConvKs',
  quant_resi: 'quantResi',
  share_quant_resi: 'shareQuantResi',
  default_qresi_counts: 'defaultQresiCounts',
  v_patch_nums: 'vPatchNums',
  in_channels: 'inChannels',
  using_sa: 'usingSa',
  using_mid_sa: 'usingMidSa',
  test_mode: null, // eval mode / frozen parameters: a property of how the model is used here
};

/**
 * Map the official snake_case constructor arguments (e.g. the `VQVAE` section of a
 * fixture's `config.json`) to a resolved {@link VQVAEConfig}.
 */
export function fromOfficialConfig(official: Record<string, unknown>): VQVAEConfig {
  if (official === null || typeof official !== 'object') {
    throw new ConfigError(
      `fromOfficialConfig: expected an object of VQVAE constructor arguments; got ${official === null ? 'null' : typeof official}`,
    );
  }
  const partial: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(official)) {
    if (!(k in OFFICIAL_KEYS)) {
      throw new ConfigError(`fromOfficialConfig: unknown VQVAE argument "${k}" (known: ${Object.keys(OFFICIAL_KEYS).join(', ')})`);
    }
    const name = OFFICIAL_KEYS[k];
    if (name) partial[name] = Array.isArray(v) ? [...v] : v;
  }
  return resolveVQVAEConfig(partial as Partial<VQVAEConfig>);
}

/** Downsample factor of the encoder: 2^(len(chMult)-1). */
export function downsampleFactor(config: Pick<VQVAEConfig, 'chMult'>): number {
  return 2 ** (config.chMult.length - 1);
}

/** numpy.linspace(start, stop, num) in float64, with numpy's arithmetic (endpoint included). */
export function linspace(start: number, stop: number, num: number): number[] {
  const out: number[] = [];
  const div = num - 1;
  const delta = stop - start;
  if (div > 0) {
    const step = delta / div;
    for (let i = 0; i < num; i++) out.push(step === 0 ? (i / div) * delta + start : i * step + start);
    out[num - 1] = stop;
  } else {
    for (let i = 0; i < num; i++) out.push(i * delta + start);
  }
  return out;
}

/** How phi modules are arranged (official PhiShared / PhiPartiallyShared / PhiNonShared). */
export interface PhiLayout {
  kind: 'shared' | 'partially-shared' | 'non-shared';
  /** Number of phi modules. */
  count: number;
  /** Whether phi is the identity (|quantResi| <= 1e-6): no parameters. */
  identity: boolean;
  /** Ticks of the partially-shared / non-shared selection (empty when shared). */
  ticks: number[];
  /** Index of the phi module used at every scale. */
  indexPerScale: number[];
  /** State-dict prefix of phi module `i` (without the trailing dot). */
  prefix(i: number): string;
}

/**
 * The phi arrangement of the official VectorQuantizer2: which module each scale uses
 * (`quant_resi[si/(SN-1)]`, argmin |ticks - si/(SN-1)| in float64, first minimum wins).
 */
export function phiLayout(config: Pick<VQVAEConfig, 'quantResi' | 'shareQuantResi' | 'defaultQresiCounts' | 'vPatchNums'>): PhiLayout {
  const SN = config.vPatchNums.length;
  const identity = Math.abs(config.quantResi) <= 1e-6;
  if (config.shareQuantResi === 1) {
    return {
      kind: 'shared',
      count: 1,
      identity,
      ticks: [],
      indexPerScale: new Array(SN).fill(0),
      prefix: () => 'quantize.quant_resi.qresi',
    };
  }
  const K = config.shareQuantResi === 0 ? config.defaultQresiCounts || SN : config.shareQuantResi;
  const ticks = K === 4 ? linspace(1 / 3 / K, 1 - 1 / 3 / K, K) : linspace(1 / 2 / K, 1 - 1 / 2 / K, K);
  const indexPerScale: number[] = [];
  for (let si = 0; si < SN; si++) {
    const at = SN > 1 ? si / (SN - 1) : 0; // one scale: the official si/(SN-1) divides by zero; use the first tick's end
    let best = 0;
    let bestD = Math.abs(ticks[0] - at);
    for (let k = 1; k < K; k++) {
      const d = Math.abs(ticks[k] - at);
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    indexPerScale.push(best);
  }
  if (config.shareQuantResi === 0) {
    return { kind: 'non-shared', count: K, identity, ticks, indexPerScale, prefix: (i) => `quantize.quant_resi.${i}` };
  }
  return { kind: 'partially-shared', count: K, identity, ticks, indexPerScale, prefix: (i) => `quantize.quant_resi.qresi_ls.${i}` };
}
