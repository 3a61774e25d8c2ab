/**
 * The official initialisation: VAR.__init__ (pos_start, pos_1LC, ada_gss, scale_mul) followed by
 * VAR.init_weights(init_adaln, init_adaln_gamma, init_head, init_std) as build_vae_var calls it.
 */
import { ConfigError } from '@var/core';
import { deriveConfig, paramShapes, type ParamSpec, type VARConfig } from './config.js';
import { truncNormal, type RandomSource } from './rng.js';

export interface InitArgs {
  /** Multiplier of ada_lin weights of the scale/shift rows (and of head_nm.ada_lin, ada_gss[2:]). */
  initAdaln: number;
  /** Multiplier of ada_lin weights of the gamma rows (and ada_gss[:2]). */
  initAdalnGamma: number;
  /** Multiplier of head.weight; < 0 leaves it at init_std. */
  initHead: number;
  /** Std of linear / embedding weights; < 0 means automatic √(1/(3C)). */
  initStd: number;
}

/** build_vae_var's defaults (the official training recipe). */
export const DEFAULT_INIT: InitArgs = { initAdaln: 0.5, initAdalnGamma: 1e-5, initHead: 0.02, initStd: -1 };

/** Map config.json `init_weights_args` (snake_case) to {@link InitArgs}. */
export function initArgsFromOfficial(o: Record<string, number> = {}): InitArgs {
  return {
    initAdaln: o.init_adaln ?? DEFAULT_INIT.initAdaln,
    initAdalnGamma: o.init_adaln_gamma ?? DEFAULT_INIT.initAdalnGamma,
    initHead: o.init_head ?? DEFAULT_INIT.initHead,
    initStd: o.init_std ?? DEFAULT_INIT.initStd,
  };
}

/** The std every weight group is drawn with (documented so tests can check the statistics). */
export function initStds(config: VARConfig, init: Partial<InitArgs> = {}): { auto: number; std: number; residual: number; head: number } {
  const a = { ...DEFAULT_INIT, ...init };
  const auto = Math.sqrt(1 / config.embedDim / 3);
  const std = a.initStd < 0 ? auto : a.initStd;
  return { auto, std, residual: std / Math.sqrt(2 * config.depth), head: a.initHead >= 0 ? std * a.initHead : std };
}

/**
 * Fresh parameter values one at a time, in state-dict order (the order of the draws), each in
 * the official layout (linear weights (out, in)). `VAR.create` uploads and drops each before the
 * next is drawn, so creating a model never holds a second copy of its weights.
 * @throws ConfigError for an invalid config or init argument (before the first value)
 */
export function* initParameterValues(
  config: VARConfig,
  rng: RandomSource,
  init: Partial<InitArgs> = {},
): Generator<[ParamSpec, Float32Array], void, undefined> {
  deriveConfig(config);
  const a = { ...DEFAULT_INIT, ...init };
  for (const [k, v] of Object.entries(a))
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`init.${k} must be a finite number, got ${String(v)}`);
  const C = config.embedDim;
  const { auto, std } = initStds(config, a);
  for (const s of paramShapes(config)) {
    if (s.kind !== 'param') continue;
    const n = s.shape.reduce((x, y) => x * y, 1);
    const name = s.name;
    let v: Float32Array;
    if (name === 'pos_start' || name === 'pos_1LC') v = truncNormal(rng, n, auto);
    else if (name.endsWith('.bias') || name.endsWith('q_bias') || name.endsWith('v_bias')) v = new Float32Array(n);
    else if (name.endsWith('scale_mul_1H11')) v = new Float32Array(n).fill(Math.log(4));
    else if (name.endsWith('ada_gss')) {
      v = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const chunk = Math.floor(i / C) % 6;
        v[i] = (rng.normal() / Math.sqrt(C)) * (chunk < 2 ? a.initAdalnGamma : a.initAdaln);
      }
    } else if (/attn\.proj\.weight$|ffn\.fc2\.weight$/.test(name)) v = divided(truncNormal(rng, n, std), Math.sqrt(2 * config.depth));
    else if (/^blocks\.\d+\.ada_lin\.1\.weight$/.test(name)) {
      v = truncNormal(rng, n, std);
      for (let i = 0; i < n; i++) v[i] *= i < 2 * C * C ? a.initAdalnGamma : a.initAdaln;
    } else if (name === 'head_nm.ada_lin.1.weight') v = scaled(truncNormal(rng, n, std), a.initAdaln);
    else if (name === 'head.weight') v = a.initHead >= 0 ? scaled(truncNormal(rng, n, std), a.initHead) : truncNormal(rng, n, std);
    else v = truncNormal(rng, n, std); // word_embed, class_emb, lvl_embed, mat_qkv, fc1, shared_ada_lin
    yield [s, v];
  }
}

/** x · k in place (the official `mul_` after the draw). */
function scaled(x: Float32Array, k: number): Float32Array {
  for (let i = 0; i < x.length; i++) x[i] *= k;
  return x;
}

/** x / k in place (the official `div_`). */
function divided(x: Float32Array, k: number): Float32Array {
  for (let i = 0; i < x.length; i++) x[i] /= k;
  return x;
}

/**
 * Fresh parameter values (state-dict order of draws), keyed by official name, in the official
 * layout: all of them at once (see {@link initParameterValues} for one at a time).
 */
export function initParameters(config: VARConfig, rng: RandomSource, init: Partial<InitArgs> = {}): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [s, v] of initParameterValues(config, rng, init)) out.set(s.name, v);
  return out;
}
