/**
 * The official side (FoundationVision/VAR on PyTorch): the constructor arguments of its
 * `VQVAE` and `VAR` for a var.ts model, its `vae.pth` / `var.pth` files, and its AdamW
 * state (`torch.optim.AdamW.state_dict()` over the parameter groups of `filter_params`).
 *
 * A model directory for the official code holds
 * - `config.json`: `{ VQVAE: {…}, ddconfig: {…}, VAR: {…} }` — `VQVAE(**VQVAE)` and
 *   `VAR(vae_local, **VAR)` are the official constructors' keyword arguments; `ddconfig` holds
 *   the `Encoder` / `Decoder` arguments (`in_channels`, `ch_mult`, `num_res_blocks`, `using_sa`,
 *   `using_mid_sa`, …) that the official `VQVAE.__init__` hard-codes to the 256-px tokenizer's,
 *   so that a tokenizer of another shape is built as `Encoder(double_z=False, **ddconfig)` /
 *   `Decoder(**ddconfig)` in place of the hard-coded ones;
 * - `vae.pth`, `var.pth`: `model.state_dict()` as `torch.save` writes it (float32, `lvl_1L` int64).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  compareStateDict,
  formatStateDictReport,
  loadStateDict,
  pyFloat,
  pyTuple,
  toFloat32Array,
  writePth,
  type PickleValue,
  type RawTensor,
  type StateDict,
} from '@var/checkpoint';
import { CheckpointError, ConfigError } from '@var/core';
import { resolveModelConfig, type ModelConfig } from '@var/models';
import { stateDictEntries, type VQVAEConfig } from '@var/tokenizer';
import { paramShapes, weightDecayScale, type VARConfig } from '@var/transformer';
import { writeTextAtomic } from './run-dir.js';

/** Format tag of the `config.json` written next to `vae.pth` / `var.pth`. */
export const OFFICIAL_CONFIG_FORMAT = 'var-ts-official-model';

/** `config.json` of an official model directory. */
export interface OfficialConfigJson {
  format?: typeof OFFICIAL_CONFIG_FORMAT;
  version?: number;
  /** Keyword arguments of the official `VQVAE(...)`. */
  VQVAE: Record<string, unknown>;
  /** Keyword arguments of the official `Encoder(double_z=False, ...)` and `Decoder(...)` (absent: the official hard-coded ones). */
  ddconfig?: Record<string, unknown>;
  /** Keyword arguments of the official `VAR(vae_local=…, ...)`. */
  VAR: Record<string, unknown>;
  [k: string]: unknown;
}

/** The official constructor arguments of a var.ts model (see the module comment for the layout). */
export function toOfficialConfig(mc: ModelConfig): OfficialConfigJson {
  const t: VQVAEConfig = mc.tokenizer;
  const v: VARConfig = mc.var;
  return {
    format: OFFICIAL_CONFIG_FORMAT,
    version: 1,
    VQVAE: {
      vocab_size: t.vocabSize,
      z_channels: t.zChannels,
      ch: t.ch,
      dropout: t.dropout,
      beta: t.beta,
      using_znorm: t.usingZnorm,
      quant_conv_ks: t.quantConvKs,
      quant_resi: t.quantResi,
      share_quant_resi: t.shareQuantResi,
      default_qresi_counts: t.defaultQresiCounts,
      v_patch_nums: [...t.vPatchNums],
      test_mode: true,
    },
    ddconfig: {
      dropout: t.dropout,
      ch: t.ch,
      z_channels: t.zChannels,
      in_channels: t.inChannels,
      ch_mult: [...t.chMult],
      num_res_blocks: t.numResBlocks,
      using_sa: t.usingSa,
      using_mid_sa: t.usingMidSa,
    },
    VAR: {
      num_classes: v.numClasses,
      depth: v.depth,
      embed_dim: v.embedDim,
      num_heads: v.numHeads,
      mlp_ratio: v.mlpRatio,
      drop_rate: 0,
      attn_drop_rate: 0,
      drop_path_rate: v.dropPathRate ?? 0,
      norm_eps: v.normEps,
      shared_aln: v.sharedAln,
      cond_drop_rate: v.condDropRate,
      attn_l2_norm: v.attnL2Norm,
      patch_nums: [...v.patchNums],
      flash_if_available: false,
      fused_if_available: false,
    },
  };
}

/**
 * The var.ts configs of an official `config.json` (this module's, or the fixtures' `{ VQVAE, VAR }`
 * without `ddconfig`, which means the official hard-coded encoder/decoder).
 * @throws ConfigError for unknown arguments or configs that do not belong together
 */
export function fromOfficialConfigJson(json: unknown): ModelConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new ConfigError(
      `official config: expected a JSON object { VQVAE, VAR }; found ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}`,
    );
  const j = json as Record<string, unknown>;
  if (j.VQVAE === null || typeof j.VQVAE !== 'object' || j.VAR === null || typeof j.VAR !== 'object') {
    throw new ConfigError(
      `official config: expected objects VQVAE and VAR (the official constructors' keyword arguments); found keys ${Object.keys(j).join(', ') || '(none)'}`,
    );
  }
  const dd = (j.ddconfig ?? {}) as Record<string, unknown>;
  if (typeof dd !== 'object' || Array.isArray(dd))
    throw new ConfigError('official config: ddconfig must be an object of Encoder/Decoder arguments');
  return resolveModelConfig({ VQVAE: { ...(j.VQVAE as object), ...dd }, VAR: j.VAR });
}

/** Expected key → shape of the official `VQVAE` / `VAR` state dict of a config. */
export function officialShapes(kind: 'vae' | 'var', mc: ModelConfig): Record<string, number[]> {
  if (kind === 'vae') return Object.fromEntries(stateDictEntries(mc.tokenizer).map((e) => [e.name, [...e.shape]]));
  return Object.fromEntries(paramShapes(mc.var).map((e) => [e.name, [...e.shape]]));
}

/**
 * A state dict as the official model's `state_dict()`: exactly its names (in its order) and
 * shapes, float tensors as float32, `lvl_1L` as int64.
 * @throws CheckpointError naming the keys the official class does not have, those it misses
 *   and the mis-shaped ones (nothing is written by the callers then)
 */
export function toOfficialStateDict(kind: 'vae' | 'var', sd: StateDict, mc: ModelConfig, label: string = kind): StateDict {
  const expected = officialShapes(kind, mc);
  const report = compareStateDict(sd, expected);
  if (!report.ok) {
    throw new CheckpointError(
      `${label}: not the state dict of the official ${kind === 'vae' ? 'VQVAE' : 'VAR'} built from this config (${report.unexpected.length} names it does not know, ${report.missing.length} missing, ${report.mismatched.length} mis-shaped); nothing written.\n${formatStateDictReport(report, { limit: 8 })}`,
    );
  }
  const out: StateDict = new Map();
  for (const name of Object.keys(expected)) {
    const t = sd.get(name)!;
    if (name === 'lvl_1L') {
      out.set(
        name,
        t.dtype === 'I64'
          ? t
          : {
              dtype: 'I64',
              shape: [...t.shape],
              data: BigInt64Array.from(Array.from(t.data as ArrayLike<number | bigint>, (x) => BigInt(x))),
            },
      );
    } else {
      out.set(name, t.dtype === 'F32' ? t : { dtype: 'F32', shape: [...t.shape], data: toFloat32Array(t) });
    }
  }
  return out;
}

export interface OfficialModelFiles {
  dir: string;
  config: string;
  vae: string;
  var: string;
}

/**
 * Write an official model directory: `vae.pth`, `var.pth` (each atomic) and `config.json`.
 * Both state dicts are checked against the official classes first; on a mismatch nothing is written.
 */
export async function writeOfficialModel(
  dir: string,
  m: { config: ModelConfig; vae: StateDict; var: StateDict },
): Promise<OfficialModelFiles> {
  const vae = toOfficialStateDict('vae', m.vae, m.config, 'the tokenizer');
  const v = toOfficialStateDict('var', m.var, m.config, 'the transformer');
  await mkdir(dir, { recursive: true });
  const files = { dir, config: join(dir, 'config.json'), vae: join(dir, 'vae.pth'), var: join(dir, 'var.pth') };
  await writePth(files.vae, vae);
  await writePth(files.var, v);
  await writeTextAtomic(files.config, JSON.stringify(toOfficialConfig(m.config), null, 2) + '\n');
  return files;
}

/**
 * Read an official model directory (`config.json` + `vae.pth` + `var.pth`; `.safetensors` twins are
 * accepted too), checking both state dicts against the config.
 * @throws ConfigError for a missing or bad config.json; CheckpointError for missing, unreadable or mismatched weights
 */
export async function readOfficialModel(dir: string): Promise<{ config: ModelConfig; vae: StateDict; var: StateDict }> {
  let text: string;
  try {
    text = await readFile(join(dir, 'config.json'), 'utf8');
  } catch (e) {
    throw new ConfigError(
      `${dir} has no readable config.json (${(e as Error).message}): an official model directory holds config.json, vae.pth and var.pth`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${join(dir, 'config.json')} is not valid JSON (${(e as Error).message})`);
  }
  const config = fromOfficialConfigJson(json);
  const pick = (stem: string) => {
    for (const f of [`${stem}.pth`, `${stem}.safetensors`]) if (existsSync(join(dir, f))) return join(dir, f);
    throw new CheckpointError(`${dir} has no ${stem}.pth (nor ${stem}.safetensors)`);
  };
  const vaePath = pick('vae');
  const varPath = pick('var');
  const vae = toOfficialStateDict('vae', await loadStateDict(vaePath), config, vaePath);
  const v = toOfficialStateDict('var', await loadStateDict(varPath), config, varPath);
  return { config, vae, var: v };
}

// ------------------------------------------------------------------ AdamW in torch's format

/** The official optimizer's parameter groups (`filter_params`): 'D' (decayed) and 'ND', in order of first appearance. */
export interface OfficialParamGroup {
  /** 1 for the decayed group, 0 for biases, norms, 1-D tensors and the no-wd keys. */
  wdScale: 0 | 1;
  names: string[];
}

/** Parameter groups of the official VAR optimizer for a config, as train.py builds them. */
export function officialParamGroups(config: VARConfig): OfficialParamGroup[] {
  const groups: OfficialParamGroup[] = [];
  for (const s of paramShapes(config)) {
    if (s.kind !== 'param') continue;
    const sc = weightDecayScale(s.name, s.shape);
    let g = groups.find((x) => x.wdScale === sc);
    if (!g) groups.push((g = { wdScale: sc, names: [] }));
    g.names.push(s.name);
  }
  return groups;
}

/** What {@link toTorchAdamWState} needs: var.ts's AdamW state and the hyper-parameters of the group. */
export interface AdamWExport {
  /** Updates done (torch's `state[i]['step']`). */
  step: number;
  /** `m.<name>` / `v.<name>` moments (float32, official shapes). */
  tensors: ReadonlyMap<string, RawTensor>;
  lr: number;
  /** Weight decay before the group's scale (`param_group['weight_decay'] = wd * wd_sc`). */
  weightDecay: number;
  betas: [number, number];
  eps?: number;
}

/**
 * `torch.optim.AdamW(param_groups).state_dict()` for the official VAR's groups: `state` keyed by
 * the flat parameter index (groups in order), each `{step: tensor(float32), exp_avg, exp_avg_sq}`;
 * `param_groups` with the official `wd_sc` / `lr_sc` and torch 1.13's AdamW options.
 * @throws CheckpointError when a moment is missing or has another shape than its parameter
 */
export function toTorchAdamWState(config: VARConfig, s: AdamWExport): PickleValue {
  const groups = officialParamGroups(config);
  const shapes = new Map(paramShapes(config).map((p) => [p.name, p.shape]));
  const state = new Map<number, PickleValue>();
  const problems: string[] = [];
  let index = 0;
  const paramGroups = groups.map((g) => {
    const params: number[] = [];
    for (const name of g.names) {
      params.push(index);
      if (s.step > 0) {
        const m = s.tensors.get(`m.${name}`);
        const v = s.tensors.get(`v.${name}`);
        const shape = shapes.get(name)!;
        for (const [k, t] of [
          ['m', m],
          ['v', v],
        ] as const) {
          if (!t) problems.push(`missing ${k}.${name}`);
          else if (t.shape.join(',') !== shape.join(','))
            problems.push(`${k}.${name} has shape [${t.shape}] but the parameter is [${shape}]`);
        }
        if (m && v) {
          state.set(index, {
            step: { dtype: 'F32', shape: [], data: new Float32Array([s.step]) },
            exp_avg: m.dtype === 'F32' ? m : { dtype: 'F32', shape: [...m.shape], data: toFloat32Array(m) },
            exp_avg_sq: v.dtype === 'F32' ? v : { dtype: 'F32', shape: [...v.shape], data: toFloat32Array(v) },
          });
        }
      }
      index++;
    }
    return {
      wd_sc: pyFloat(g.wdScale),
      lr_sc: pyFloat(1),
      lr: pyFloat(s.lr),
      betas: pyTuple(pyFloat(s.betas[0]), pyFloat(s.betas[1])),
      eps: pyFloat(s.eps ?? 1e-8),
      weight_decay: pyFloat(s.weightDecay * g.wdScale),
      amsgrad: false,
      foreach: null,
      maximize: false,
      capturable: false,
      params,
    };
  });
  if (problems.length)
    throw new CheckpointError(
      `optimizer state: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? ` (+${problems.length - 8} more)` : ''}`,
    );
  return { state, param_groups: paramGroups };
}

/** var.ts's AdamW state read from torch's, with the group hyper-parameters found. */
export interface AdamWImport {
  step: number;
  /** `m.<name>` / `v.<name>`, float32. */
  tensors: Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>;
  lr: number;
  betas: [number, number];
  eps: number;
  /** `weight_decay / wd_sc` of the decayed group (NaN when there is none). */
  weightDecay: number;
  /** Parameters that had no state (never updated): their moments are zero. */
  noState: string[];
}

function isMap(v: unknown): v is Map<unknown, unknown> {
  return v instanceof Map;
}
function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof v === 'object' && 'data' in v && 'shape' in v) {
    const t = v as RawTensor;
    if (t.data.length === 1) return Number((t.data as ArrayLike<number | bigint>)[0]);
  }
  return undefined;
}

/**
 * Read torch's `AdamW.state_dict()` (as `readPthObject` of @var/checkpoint gives it) for the official VAR's
 * parameter groups of `config`: the moments by name, the common step and the group options.
 * @throws CheckpointError when the groups, indices, shapes or steps do not fit the official optimizer of this config
 */
export function fromTorchAdamWState(config: VARConfig, obj: unknown, label = 'optimizer state'): AdamWImport {
  const fail = (msg: string): never => {
    throw new CheckpointError(`${label}: ${msg}`);
  };
  if (!isMap(obj) || !isMap(obj.get('state')) || !Array.isArray(obj.get('param_groups'))) {
    fail(
      `expected torch's optimizer state_dict {state: {index: {...}}, param_groups: [...]}; found ${isMap(obj) ? `keys ${[...obj.keys()].join(', ')}` : typeof obj}`,
    );
  }
  const o = obj as Map<string, unknown>;
  const groups = officialParamGroups(config);
  const found = o.get('param_groups') as unknown[];
  if (found.length !== groups.length)
    fail(
      `${found.length} parameter groups, but the official optimizer of this VAR has ${groups.length} (${groups.map((g) => `${g.names.length} with wd_sc ${g.wdScale}`).join(', ')})`,
    );
  const shapes = new Map(paramShapes(config).map((p) => [p.name, p.shape]));
  const byIndex = new Map<number, string>();
  let lr = NaN;
  let eps = NaN;
  let betas: [number, number] = [NaN, NaN];
  let weightDecay = NaN;
  found.forEach((g, gi) => {
    if (!isMap(g) || !Array.isArray(g.get('params'))) fail(`param_groups[${gi}] has no params list`);
    const gm = g as Map<string, unknown>;
    const params = gm.get('params') as unknown[];
    const want = groups[gi];
    if (params.length !== want.names.length)
      fail(
        `param_groups[${gi}] has ${params.length} parameters, the official group ${gi} (wd_sc ${want.wdScale}) has ${want.names.length}`,
      );
    const sc = num(gm.get('wd_sc'));
    if (sc !== undefined && sc !== want.wdScale) fail(`param_groups[${gi}] has wd_sc ${sc}, the official group ${gi} has ${want.wdScale}`);
    params.forEach((p, i) => byIndex.set(Number(p), want.names[i]));
    lr = (num(gm.get('lr')) ?? NaN) / (num(gm.get('lr_sc')) ?? 1);
    eps = num(gm.get('eps')) ?? NaN;
    const b = gm.get('betas');
    if (Array.isArray(b) && b.length === 2) betas = [Number(b[0]), Number(b[1])];
    if (want.wdScale === 1) weightDecay = num(gm.get('weight_decay')) ?? NaN;
  });
  const tensors: AdamWImport['tensors'] = new Map();
  const steps = new Set<number>();
  const state = o.get('state') as Map<unknown, unknown>;
  for (const [k, s] of state) {
    const name = byIndex.get(Number(k));
    if (name === undefined) fail(`state has index ${String(k)}, which no parameter group lists`);
    if (!isMap(s)) fail(`state[${String(k)}] (${name}) is not a dict`);
    const sm = s as Map<string, unknown>;
    const shape = shapes.get(name!)!;
    for (const [key, kind] of [
      ['exp_avg', 'm'],
      ['exp_avg_sq', 'v'],
    ] as const) {
      const t = sm.get(key) as RawTensor | undefined;
      if (!t || typeof t !== 'object' || !('data' in t)) fail(`state[${String(k)}] (${name}) has no ${key} tensor`);
      if (t!.shape.join(',') !== shape.join(','))
        fail(`state[${String(k)}].${key} (${name}) has shape [${t!.shape}], the parameter is [${shape}]`);
      tensors.set(`${kind}.${name}`, {
        dtype: 'F32',
        shape: [...shape],
        data: t!.dtype === 'F32' ? (t!.data as Float32Array) : toFloat32Array(t!),
      });
    }
    const st = num(sm.get('step'));
    if (st === undefined || !Number.isInteger(st) || st < 0)
      fail(`state[${String(k)}].step (${name}) is ${String(st)}, expected a non-negative integer`);
    steps.add(st!);
  }
  if (steps.size > 1)
    fail(`the parameters were updated different numbers of times (steps ${[...steps].join(', ')}); var.ts's AdamW keeps one step count`);
  const noState: string[] = [];
  for (const g of groups) {
    for (const name of g.names) {
      if (tensors.has(`m.${name}`)) continue;
      noState.push(name);
      const n = shapes.get(name)!.reduce((a, b) => a * b, 1);
      tensors.set(`m.${name}`, { dtype: 'F32', shape: [...shapes.get(name)!], data: new Float32Array(n) });
      tensors.set(`v.${name}`, { dtype: 'F32', shape: [...shapes.get(name)!], data: new Float32Array(n) });
    }
  }
  return { step: steps.size ? [...steps][0] : 0, tensors, lr, betas, eps, weightDecay, noState };
}
