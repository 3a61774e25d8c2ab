/**
 * Options shared by the commands that need a model (`--model`, `--vae/--var/--config/--preset`,
 * `--backend`, `--threads`), the class-name parser and small helpers.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VQVAE } from '@var/tokenizer';
import type { Command } from 'commander';
import { initBackend, type BackendInfo, type BackendName } from '@var/core';
import {
  cardFromConfig,
  classIndex,
  className as classNameOf,
  defaultModelId,
  defaultWeightsRoot,
  getModelCard,
  parseModelCard,
  presetCard,
  resolveModelConfig,
  MODEL_FILES,
  type ModelCard,
} from '@var/models';
import type { GeneratorSource } from '@var/pipeline';
import { UsageError } from './errors.js';
import type { Io, Ui } from './ui.js';

export const BACKENDS: readonly BackendName[] = ['auto', 'wasm', 'webgpu', 'cpu', 'tensorflow', 'cuda'];

export interface ModelOptions {
  model?: string;
  vae?: string;
  var?: string;
  config?: string;
  preset?: string;
  backend?: string;
  threads?: string;
}

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('-m, --model <id|dir>', `bundled model id or a model directory (default: ${defaultModelId})`)
    .option('--vae <file>', 'tokenizer weights (.pth or .safetensors), with --var and --config or --preset')
    .option('--var <file>', 'transformer weights (.pth or .safetensors)')
    .option('--config <json>', 'model config: a model-card.json, { tokenizer, var } or an official config.json (file or inline JSON)')
    .option('--preset <name>', 'model preset for --vae/--var: d16, d20, d24, d30 (official tokenizer)');
}

export function addBackendOptions(cmd: Command): Command {
  return cmd
    .option('-b, --backend <name>', `compute backend: ${BACKENDS.join('|')}`, 'auto')
    .option('--threads <n>', 'wasm threads (default: all cores)');
}

export function addOutputOptions(cmd: Command): Command {
  return cmd
    .option('--json', 'machine-readable output (one JSON document on stdout)')
    .option('-v, --verbose', 'details: progress lines, full error messages');
}

export function abs(io: Io, p: string): string {
  return isAbsolute(p) ? p : resolve(io.cwd, p);
}

/** Parse an integer option; UsageError otherwise. */
export function intOpt(name: string, v: string | undefined, def: number, min = -Infinity, max = Infinity): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `${name} must be an integer${min > -Infinity ? ` ≥ ${min}` : ''}${max < Infinity ? ` ≤ ${max}` : ''}; got ${JSON.stringify(v)}`,
    );
  }
  return n;
}

/** Parse a number option; UsageError otherwise. */
export function numOpt(name: string, v: string | undefined, def: number, min = -Infinity, max = Infinity): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(
      `${name} must be a number${min > -Infinity ? ` ≥ ${min}` : ''}${max < Infinity ? ` ≤ ${max}` : ''}; got ${JSON.stringify(v)}`,
    );
  }
  return n;
}

export async function startBackend(opts: ModelOptions, ui: Ui): Promise<BackendInfo> {
  const name = (opts.backend ?? 'auto') as BackendName;
  if (!BACKENDS.includes(name))
    throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}; got ${JSON.stringify(opts.backend)}`);
  const threads = opts.threads !== undefined ? intOpt('--threads', opts.threads, 1, 1, 1024) : undefined;
  const info = await initBackend(name, threads !== undefined ? { threads } : {});
  ui.debug(`backend: ${info.name} (${info.reason})`);
  return info;
}

function readJsonArg(io: Io, v: string): unknown {
  const t = v.trim();
  if (t.startsWith('{')) {
    try {
      return JSON.parse(t);
    } catch (e) {
      throw new UsageError(`--config: inline JSON does not parse: ${(e as Error).message}`);
    }
  }
  const p = abs(io, v);
  if (!existsSync(p)) throw new UsageError(`--config: no such file ${p}`);
  try {
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new UsageError(`--config: ${p} is not valid JSON: ${(e as Error).message}`);
  }
}

/** A model to load, with its card known before the weights are read. */
export interface ModelSpec {
  card: ModelCard;
  label: string;
  /** What `loadGenerator` of @var/pipeline takes for it. */
  source: GeneratorSource;
  /** Where the tokenizer weights are (encode/decode load only those). */
  vaePath: string;
}

/** Load only the tokenizer of a model. */
export async function loadTokenizer(spec: ModelSpec): Promise<VQVAE> {
  return VQVAE.load(spec.vaePath, spec.card.tokenizer.config);
}

/** Resolve the model options to a card (cheap) and what `loadGenerator` takes. */
export async function resolveModel(io: Io, opts: ModelOptions, needVar = true): Promise<ModelSpec> {
  const byFiles = opts.vae !== undefined || opts.var !== undefined;
  if (byFiles) {
    if (opts.model !== undefined) throw new UsageError('give either --model or --vae/--var, not both');
    if (opts.vae === undefined || (needVar && opts.var === undefined))
      throw new UsageError('--vae and --var go together (both checkpoints are needed)');
    if ((opts.config === undefined) === (opts.preset === undefined))
      throw new UsageError('with --vae/--var give exactly one of --config JSON or --preset NAME');
    const vae = abs(io, opts.vae);
    const v = opts.var !== undefined ? abs(io, opts.var) : '';
    for (const [flag, p] of [
      ['--vae', vae],
      ['--var', v],
    ] as const)
      if (p && !existsSync(p)) throw new UsageError(`${flag}: no such file ${p}`);
    let card: ModelCard;
    if (opts.preset !== undefined) card = presetCard(opts.preset);
    else {
      const json = readJsonArg(io, opts.config!) as Record<string, unknown>;
      const looksLikeCard =
        json && typeof json === 'object' && typeof json.id === 'string' && typeof json.name === 'string' && json.dataset;
      card = looksLikeCard ? parseModelCard(json) : cardFromConfig(resolveModelConfig(json));
    }
    return { card, label: v || vae, source: { vae, var: v, card }, vaePath: vae };
  }
  if (opts.config !== undefined || opts.preset !== undefined)
    throw new UsageError('--config/--preset describe --vae/--var checkpoints; give those too');
  const m = opts.model ?? defaultModelId;
  const isDir = /[\\/]/.test(m) || m.startsWith('.') || (existsSync(abs(io, m)) && statSync(abs(io, m)).isDirectory());
  if (isDir) {
    const dir = abs(io, m);
    if (!existsSync(`${dir}/${MODEL_FILES.card}`))
      throw new UsageError(`--model: ${dir} is not a model directory (no ${MODEL_FILES.card})`);
    const card = parseModelCard(JSON.parse(readFileSync(`${dir}/${MODEL_FILES.card}`, 'utf8')), `${dir}/${MODEL_FILES.card}`);
    return { card, label: dir, source: dir, vaePath: join(dir, card.tokenizer.file ?? MODEL_FILES.vae) };
  }
  const card = await getModelCard(m);
  const vaePath = join(fileURLToPath(defaultWeightsRoot()), m, card.tokenizer.file ?? MODEL_FILES.vae);
  return { card, label: m, source: m, vaePath };
}

/**
 * Class labels from `--class` values: comma-separated names (case-insensitive) or indices;
 * `uncond` / `none` is the unconditional class (index numClasses).
 */
export function parseClasses(values: string[] | undefined, card: ModelCard): number[] | undefined {
  if (!values || values.length === 0) return undefined;
  const vocab = { classNames: card.classNames, classAliases: card.classAliases, numClasses: card.var.config.numClasses };
  const out: number[] = [];
  for (const raw of values.flatMap((v) => v.split(','))) {
    const s = raw.trim();
    if (s === '') continue;
    try {
      out.push(classIndex(vocab, s));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  if (out.length === 0) throw new UsageError('--class is empty');
  return out;
}

export function className(card: ModelCard, label: number): string {
  return classNameOf({ classNames: card.classNames, numClasses: card.var.config.numClasses }, label);
}

/** File-name-safe text. */
export function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 40) || 'x';
}

/** Channels the CLI writes for a model: the card's, else the tokenizer's input channels. */
export function imageChannels(card: ModelCard): 1 | 3 {
  if (card.channels === 1 || card.channels === 3) return card.channels;
  return card.tokenizer.config.inChannels === 1 ? 1 : 3;
}
