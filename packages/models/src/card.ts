/**
 * Model cards: the JSON file (`model-card.json`) that describes a shipped model — what it
 * was trained on, its class names, the tokenizer and transformer configs, how long it
 * trained, how good it is, and the commands that reproduce it.
 */
import { ConfigError } from '@var/core';
import { VQVAE_PRESETS, fromOfficialConfig as vqvaeFromOfficial, resolveVQVAEConfig, type VQVAEConfig } from '@var/tokenizer';
import { fromOfficialConfig as varFromOfficial, validateConfig, varPreset, type VARConfig, type VARPresetName } from '@var/transformer';

/** Format tag written into every model card. */
export const MODEL_CARD_FORMAT = 'var-ts-model-card';
export const MODEL_CARD_VERSION = 1;

/** The two configs a model needs (camelCase, as @var/tokenizer and @var/transformer take them). */
export interface ModelConfig {
  tokenizer: VQVAEConfig;
  var: VARConfig;
}

/** Contents of `model-card.json`. Only `tokenizer`/`var` configs are needed to load a model. */
export interface ModelCard {
  format?: typeof MODEL_CARD_FORMAT;
  version?: number;
  /** Registry id (directory name under `weights/`). */
  id: string;
  /** Human-readable name. */
  name: string;
  description?: string;
  /** What the model was trained on. */
  dataset: { name: string; split?: string; images?: number; url?: string; license?: string; [k: string]: unknown };
  /** One name per class (index = class label); `numClasses` entries. */
  classNames: string[];
  /** Other names each class answers to (e.g. every ImageNet synonym of the official presets), matched case-insensitively. */
  classAliases?: string[][];
  /** Image side in pixels the model generates, and its channels (1 = shown as gray). */
  imageSize?: number;
  channels?: 1 | 3;
  tokenizer: { config: VQVAEConfig; file?: string; [k: string]: unknown };
  var: { config: VARConfig; file?: string; [k: string]: unknown };
  /** Storage dtype of the weight files (the shipped models use F16). */
  dtype?: 'F16' | 'F32';
  /** Sampling settings that give good results with this model. */
  sampling?: { cfg?: number; topK?: number; topP?: number; moreSmooth?: boolean };
  /** How it was trained: steps, wall-clock seconds, machine, backend. */
  training?: Record<string, unknown>;
  /** Measured quality (e.g. FID, accuracy of a digit classifier on samples, PSNR). */
  quality?: Record<string, unknown>;
  /** Shell commands that reproduce the weights from scratch. */
  reproduce?: string[];
  license?: string;
  createdAt?: string;
  [k: string]: unknown;
}

function isObj(v: unknown): v is Record<string, any> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A tokenizer config from camelCase, official snake_case or a preset name. */
export function tokenizerConfigFrom(v: unknown, where = 'tokenizer config'): VQVAEConfig {
  if (typeof v === 'string') {
    const p = (VQVAE_PRESETS as Record<string, VQVAEConfig>)[v];
    if (!p) throw new ConfigError(`${where}: unknown tokenizer preset "${v}" (known: ${Object.keys(VQVAE_PRESETS).join(', ')})`);
    return resolveVQVAEConfig(p);
  }
  if (!isObj(v)) throw new ConfigError(`${where}: expected an object (or a preset name); found ${v === null ? 'null' : typeof v}`);
  const snake = Object.keys(v).some((k) => k.includes('_'));
  return snake ? vqvaeFromOfficial(v) : resolveVQVAEConfig(v as Partial<VQVAEConfig>);
}

/** A VAR config from camelCase, official snake_case (needs the tokenizer for V/Cvae) or a preset name. */
export function varConfigFrom(v: unknown, tok: VQVAEConfig, where = 'var config'): VARConfig {
  if (typeof v === 'string') return varPreset(v as VARPresetName);
  if (!isObj(v)) throw new ConfigError(`${where}: expected an object (or a preset name d16…d36); found ${v === null ? 'null' : typeof v}`);
  const snake = Object.keys(v).some((k) => k.includes('_'));
  if (snake) return varFromOfficial(v, { vocab_size: tok.vocabSize, z_channels: tok.zChannels });
  const c = { vocabSize: tok.vocabSize, Cvae: tok.zChannels, ...v } as VARConfig;
  c.patchNums = [...c.patchNums];
  validateConfig(c);
  return c;
}

/**
 * Read the model configs out of any of the JSON shapes var.ts meets:
 * - a model card (`{ tokenizer: { config }, var: { config } }`);
 * - `{ tokenizer | vae, var }` with camelCase or snake_case configs or preset names;
 * - the official-style `config.json` of the fixtures (`{ VQVAE: {...}, VAR: {...} }`), with an optional
 *   `ddconfig` (encoder/decoder arguments: `in_channels`, `ch_mult`, `num_res_blocks`, …).
 * Checks that the two belong together (vocabulary, Cvae, patch numbers).
 * @throws ConfigError saying which shape was expected.
 */
export function resolveModelConfig(json: unknown): ModelConfig {
  if (!isObj(json)) throw new ConfigError(`model config: expected a JSON object; found ${json === null ? 'null' : typeof json}`);
  let tokIn: unknown;
  let varIn: unknown;
  if (isObj(json.VQVAE) && isObj(json.VAR)) {
    // `ddconfig`: the Encoder/Decoder arguments the official VQVAE hard-codes (written by @var/train's writeOfficialModel)
    tokIn = isObj(json.ddconfig) ? { ...json.VQVAE, ...json.ddconfig } : json.VQVAE;
    varIn = json.VAR;
  } else {
    const t = json.tokenizer ?? json.vae;
    const r = json.var ?? json.transformer;
    tokIn = isObj(t) && 'config' in t ? t.config : t;
    varIn = isObj(r) && 'config' in r ? r.config : r;
  }
  if (tokIn === undefined || varIn === undefined) {
    throw new ConfigError(
      `model config: expected a model card ({ tokenizer: { config }, var: { config } }), { tokenizer, var } configs or an official config.json ({ VQVAE, VAR }); found keys ${Object.keys(json).join(', ') || '(none)'}`,
    );
  }
  const tokenizer = tokenizerConfigFrom(tokIn);
  const v = varConfigFrom(varIn, tokenizer);
  checkPair(tokenizer, v);
  return { tokenizer, var: v };
}

/** Throws ConfigError when the VQVAE and VAR configs do not belong together. */
export function checkPair(t: VQVAEConfig, v: VARConfig): void {
  const bad: string[] = [];
  if (t.vocabSize !== v.vocabSize) bad.push(`vocabulary ${t.vocabSize} vs ${v.vocabSize}`);
  if (t.zChannels !== v.Cvae) bad.push(`Cvae ${t.zChannels} vs ${v.Cvae}`);
  if (t.vPatchNums.length !== v.patchNums.length || t.vPatchNums.some((p, i) => p !== v.patchNums[i])) {
    bad.push(`patch numbers (${t.vPatchNums.join(',')}) vs (${v.patchNums.join(',')})`);
  }
  if (bad.length)
    throw new ConfigError(`model config: the tokenizer and the transformer do not belong together (tokenizer vs var): ${bad.join('; ')}`);
}

/** Named model presets: the official tokenizer with each released transformer depth. */
export const MODEL_PRESETS: Readonly<Record<string, { tokenizer: string; var: VARPresetName }>> = Object.freeze({
  d16: { tokenizer: 'vae_ch160v4096z32', var: 'd16' },
  d20: { tokenizer: 'vae_ch160v4096z32', var: 'd20' },
  d24: { tokenizer: 'vae_ch160v4096z32', var: 'd24' },
  d30: { tokenizer: 'vae_ch160v4096z32', var: 'd30' },
});

/**
 * The official sampling of the released models: the settings the VAR authors give for their
 * FID evaluation (FoundationVision/VAR README: `autoregressive_infer_cfg(..., cfg=1.5,
 * top_p=0.96, top_k=900, more_smooth=False)`).
 */
export const OFFICIAL_SAMPLING: Readonly<Required<NonNullable<ModelCard['sampling']>>> = Object.freeze({
  cfg: 1.5,
  topK: 900,
  topP: 0.96,
  moreSmooth: false,
});

/** The configs of a named preset (`d16`, `d20`, `d24`, `d30`: 256px models with the official tokenizer). */
export function presetConfig(name: string): ModelConfig {
  const p = MODEL_PRESETS[name];
  if (!p) {
    throw new ConfigError(
      `unknown model preset "${name}" (known: ${Object.keys(MODEL_PRESETS).join(', ')}; d36 is a 512px model whose tokenizer has other patch numbers: give --config)`,
    );
  }
  return { tokenizer: tokenizerConfigFrom(p.tokenizer), var: varPreset(p.var) };
}

/**
 * Validate a parsed `model-card.json`: the configs resolve and belong together, and the
 * class names match the number of classes.
 * @throws ConfigError naming the offending field.
 */
export function parseModelCard(json: unknown, label = 'model-card.json'): ModelCard {
  if (!isObj(json)) throw new ConfigError(`${label}: expected a JSON object; found ${json === null ? 'null' : typeof json}`);
  for (const k of ['id', 'name'] as const) {
    if (typeof json[k] !== 'string' || json[k].length === 0)
      throw new ConfigError(`${label}: "${k}" must be a non-empty string; found ${JSON.stringify(json[k])}`);
  }
  if (!isObj(json.dataset) || typeof json.dataset.name !== 'string')
    throw new ConfigError(`${label}: "dataset" must be an object with a "name"; found ${JSON.stringify(json.dataset)}`);
  let cfg: ModelConfig;
  try {
    cfg = resolveModelConfig(json);
  } catch (e) {
    throw new ConfigError(`${label}: ${(e as Error).message}`, { cause: e });
  }
  const names = json.classNames;
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string'))
    throw new ConfigError(`${label}: "classNames" must be an array of strings`);
  if (names.length !== cfg.var.numClasses) {
    throw new ConfigError(`${label}: "classNames" has ${names.length} names but the model has ${cfg.var.numClasses} classes`);
  }
  const aliases = json.classAliases;
  if (
    aliases !== undefined &&
    (!Array.isArray(aliases) ||
      aliases.length !== names.length ||
      aliases.some((a) => !Array.isArray(a) || a.some((n: unknown) => typeof n !== 'string')))
  )
    throw new ConfigError(`${label}: "classAliases" must be an array of ${names.length} arrays of strings (one per class)`);
  return { ...(json as ModelCard), tokenizer: { ...json.tokenizer, config: cfg.tokenizer }, var: { ...json.var, config: cfg.var } };
}
