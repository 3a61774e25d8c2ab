/**
 * The registry of models shipped in `packages/models/weights/<id>/` and their loader.
 * In Node the files are read from disk; in browsers they are fetched from URLs (the
 * `weights/` folder next to the bundle by default, or `root`).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  CheckpointError,
  ConfigError,
  OutOfMemoryError,
  ValueError,
  VarError,
  WASM_HEAP_MAX_BYTES,
  formatBytes,
  initBackend,
  type BackendName,
  type BackendInfo,
} from '@var/core';
import { fromFloat32, isFloatDType, serializeSafetensors, type CheckpointSource, type RawTensor, type StateDict } from '@var/checkpoint';
import { VQVAE, countParameters as tokenizerParameters } from '@var/tokenizer';
import { imagenetClassFields } from './classes.js';
import { loadVAR, type VAR, countParameters as transformerParameters } from '@var/transformer';
import {
  MODEL_CARD_FORMAT,
  MODEL_CARD_VERSION,
  OFFICIAL_SAMPLING,
  checkPair,
  parseModelCard,
  presetConfig,
  resolveModelConfig,
  type ModelCard,
  type ModelConfig,
} from './card.js';

/** A registered model id whose weights are not in this copy of the package. */
export class ModelNotBundledError extends VarError {
  readonly modelId: string;
  constructor(modelId: string, message: string, options?: { cause?: unknown }) {
    super('E_MODEL_NOT_BUNDLED', message, options);
    this.modelId = modelId;
  }
}

/** A model the registry knows about (its weights may or may not be present). */
export interface RegistryEntry {
  id: string;
  name: string;
  description: string;
  dataset: string;
}

/** Models var.ts ships (trained by `@var/train`'s pipelines; see each model card). */
export const REGISTRY: readonly RegistryEntry[] = Object.freeze([
  Object.freeze({
    id: 'mnist',
    name: 'VAR MNIST digits',
    description: 'Class-conditional handwritten digits (classes 0–9), a small VQVAE + VAR trained from scratch on MNIST with @var/train',
    dataset: 'mnist',
  }),
  Object.freeze({
    id: 'emoji',
    name: 'VAR emoji',
    description:
      'Google (Noto) emoji conditional on their 9 categories (Activities … Travel & Places), 32 px RGB, a small VQVAE + VAR trained from scratch with @var/train',
    dataset: 'emoji',
  }),
]);

/** The model `var generate` uses when no model is given. */
export const defaultModelId = 'mnist';

/** File names inside a model directory. */
export const MODEL_FILES = Object.freeze({ card: 'model-card.json', vae: 'vae.safetensors', var: 'var.safetensors' });

/** Where the shipped weights live: `packages/models/weights/` (next to `dist/` and `src/`). */
export function defaultWeightsRoot(): URL {
  return new URL('../weights/', import.meta.url);
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** A directory (Node path) or a base URL (browser) holding `<id>/model-card.json` etc. */
export type WeightsRoot = string | URL;

interface Location {
  /** For messages. */
  label: string;
  /** Read a file of the directory as bytes, or null when it does not exist. */
  read(file: string): Promise<Uint8Array | null>;
  /** What to pass to the loaders (@var/checkpoint's openStateDict): a path in Node, a Response in browsers. */
  source(file: string): Promise<CheckpointSource | null>;
}

async function nodeModules(): Promise<{
  fs: typeof import('node:fs/promises');
  path: typeof import('node:path');
  url: typeof import('node:url');
}> {
  const [fs, path, url] = await Promise.all([import('node:fs/promises'), import('node:path'), import('node:url')]);
  return { fs, path, url };
}

async function dirLocation(dir: WeightsRoot): Promise<Location> {
  const asUrl = dir instanceof URL ? dir : /^[a-z][a-z0-9+.-]*:\/\//i.test(dir) ? new URL(dir) : null;
  if (isNode() && (asUrl === null || asUrl.protocol === 'file:')) {
    const { fs, path, url } = await nodeModules();
    const base = asUrl ? url.fileURLToPath(asUrl) : path.resolve(dir as string);
    const exists = async (p: string) =>
      fs.stat(p).then(
        (s) => s.isFile(),
        () => false,
      );
    return {
      label: base,
      async read(file) {
        const p = path.join(base, file);
        return (await exists(p)) ? new Uint8Array(await fs.readFile(p)) : null;
      },
      async source(file) {
        const p = path.join(base, file);
        return (await exists(p)) ? p : null;
      },
    };
  }
  if (asUrl === null && !isNode()) {
    // A relative URL in a browser: resolve against the page.
    const href = (globalThis as { location?: { href?: string } }).location?.href;
    if (!href) throw new ValueError(`cannot resolve the model location ${JSON.stringify(dir)}: give an absolute URL`);
  }
  const baseHref = (asUrl ?? new URL(dir as string, (globalThis as { location?: { href?: string } }).location?.href)).href;
  const base = baseHref.endsWith('/') ? baseHref : `${baseHref}/`;
  const get = async (file: string): Promise<Response | null> => {
    const res = await fetch(new URL(file, base));
    if (res.status === 404) return null;
    if (!res.ok) throw new CheckpointError(`fetching ${new URL(file, base).href} failed: HTTP ${res.status} ${res.statusText}`);
    return res;
  };
  return {
    label: base,
    async read(file) {
      const r = await get(file);
      return r ? new Uint8Array(await r.arrayBuffer()) : null;
    },
    source: get,
  };
}

function childOf(root: WeightsRoot, id: string): WeightsRoot {
  if (root instanceof URL) return new URL(`${id}/`, root.href.endsWith('/') ? root : `${root.href}/`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(root)) return new URL(`${id}/`, root.endsWith('/') ? root : `${root}/`);
  return `${root.replace(/[\\/]+$/, '')}/${id}`;
}

function checkId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) {
    throw new ValueError(
      `model id must be a name of letters, digits, ".", "_" or "-" (e.g. "${defaultModelId}"); found ${JSON.stringify(id)}`,
    );
  }
}

async function readCard(loc: Location, idForErrors: string | null): Promise<ModelCard | null> {
  const bytes = await loc.read(MODEL_FILES.card);
  if (!bytes) return null;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ConfigError(`${loc.label}/${MODEL_FILES.card}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  const card = parseModelCard(json, `${loc.label}/${MODEL_FILES.card}`);
  if (idForErrors !== null && card.id !== idForErrors) {
    throw new ConfigError(`${loc.label}/${MODEL_FILES.card}: card id "${card.id}" does not match the directory "${idForErrors}"`);
  }
  return card;
}

function notBundled(id: string, loc: Location, what: string): ModelNotBundledError {
  return new ModelNotBundledError(
    id,
    `model "${id}" is not bundled yet: ${what} in ${loc.label}. Train it with @var/train (see packages/models/README.md) ` +
      `or pass your own weights (--vae PATH --var PATH --config JSON)`,
  );
}

export interface RootOptions {
  /** Weights root (default: the package's `weights/` folder; a path in Node, a URL in browsers). */
  root?: WeightsRoot;
}

/** A registry entry plus whether its weights are present here (and then its card). */
export interface ModelInfo extends RegistryEntry {
  bundled: boolean;
  card?: ModelCard;
}

/** The registered models and, for each, whether its weights are present. */
export async function listModels(opts: RootOptions = {}): Promise<ModelInfo[]> {
  const root = opts.root ?? defaultWeightsRoot();
  const out: ModelInfo[] = [];
  for (const e of REGISTRY) {
    const loc = await dirLocation(childOf(root, e.id));
    let card: ModelCard | null = null;
    try {
      card = await readCard(loc, e.id);
    } catch {
      card = null; // a broken card: reported by getModelCard / loadModel
    }
    const bundled = card !== null && (await loc.source(MODEL_FILES.vae)) !== null && (await loc.source(MODEL_FILES.var)) !== null;
    out.push({ ...e, bundled, ...(card ? { card } : {}) });
  }
  return out;
}

async function locate(id: string, root: WeightsRoot | undefined): Promise<{ loc: Location; card: ModelCard }> {
  checkId(id);
  const registered = REGISTRY.some((e) => e.id === id);
  const loc = await dirLocation(childOf(root ?? defaultWeightsRoot(), id));
  const card = await readCard(loc, id);
  if (!card) {
    if (!registered) {
      throw new ValueError(
        `unknown model "${id}": registered models are ${REGISTRY.map((e) => e.id).join(', ')} (and ${loc.label}/${MODEL_FILES.card} does not exist)`,
      );
    }
    throw notBundled(id, loc, `${MODEL_FILES.card} is missing`);
  }
  return { loc, card };
}

/**
 * The model card of a registered (or, with `root`, any) model.
 * @throws ModelNotBundledError when a registered model's files are not present; ValueError for an unknown id.
 */
export async function getModelCard(id: string, opts: RootOptions = {}): Promise<ModelCard> {
  return (await locate(id, opts.root)).card;
}

/**
 * Progress of {@link loadModel}: an event at the start of each stage and, while a checkpoint
 * is read, one per chunk with the bytes of that file.
 */
export interface LoadProgress {
  stage: 'card' | 'tokenizer' | 'transformer' | 'done';
  /** Fraction done in [0, 1] (by bytes once both files' sizes are known). */
  fraction: number;
  /** The checkpoint being read: its path, URL or file name (a `File`), or `'vae'` / `'var'` for bytes given in memory. */
  file?: string;
  /** Bytes of `file` read so far, and its size (0 while unknown, e.g. a download without Content-Length). */
  loaded?: number;
  total?: number;
}

export interface LoadModelOptions extends RootOptions {
  /** Initialise this backend first (`initBackend` from @var/core); default: keep the active one. */
  backend?: BackendName;
  /** wasm threads, passed to initBackend. */
  threads?: number;
  /** Require exactly the models' keys (default true). */
  strict?: boolean;
  onProgress?: (p: LoadProgress) => void;
}

/** Weights given by the caller: two checkpoints (`.pth` or safetensors; paths, bytes, Blobs / Files or Responses) and their configs. */
export interface ModelFiles {
  vae: CheckpointSource;
  var: CheckpointSource;
  /**
   * The configs: a {@link ModelConfig}, a model card, any JSON {@link resolveModelConfig} reads,
   * or a preset name (`d16`…`d30`).
   */
  config: ModelConfig | ModelCard | Record<string, unknown> | string;
}

export interface LoadedModel {
  vae: VQVAE;
  var: VAR;
  /** The model card (for {@link ModelFiles}: a minimal card built from the configs). */
  card: ModelCard;
  /** What initBackend returned, when a backend was asked for. */
  backend?: BackendInfo;
  /** Where the weights came from. */
  source: string;
}

function configOf(c: ModelFiles['config']): ModelConfig {
  if (typeof c === 'string') return presetConfig(c);
  return resolveModelConfig(c);
}

/** A minimal card for weights given by path (class names are the indices). */
export function cardFromConfig(cfg: ModelConfig, id = 'custom', extra: Partial<ModelCard> = {}): ModelCard {
  return {
    format: MODEL_CARD_FORMAT,
    version: MODEL_CARD_VERSION,
    id,
    name: id,
    dataset: { name: 'unknown' },
    classNames: Array.from({ length: cfg.var.numClasses }, (_, i) => String(i)),
    imageSize: cfg.tokenizer.vPatchNums[cfg.tokenizer.vPatchNums.length - 1] * 2 ** (cfg.tokenizer.chMult.length - 1),
    tokenizer: { config: cfg.tokenizer },
    var: { config: cfg.var },
    ...extra,
  };
}

/**
 * Bytes a model's weights take in backend memory: float32 on every backend (float16 files are
 * widened when loaded, so they halve the download, not the memory).
 */
export function weightBytes(card: Pick<ModelCard, 'tokenizer' | 'var'>): number {
  return 4 * (tokenizerParameters(card.tokenizer.config) + transformerParameters(card.var.config));
}

/** Head-room wasm needs beyond the weights to generate at all (activations of one image, allocator slack). */
const WASM_MIN_WORKING_BYTES = 512 * 2 ** 20;

/**
 * Fail before reading any weight when the model cannot fit the backend: wasm addresses at most
 * 4 GiB, so d24 (4.1 GB of float32 weights) and d30 (8.1 GB) cannot run there; WebGPU keeps the
 * weights in GPU buffers. Silent on other backends.
 * @throws OutOfMemoryError naming the size, the limit and the backend to use.
 */
export function assertWeightsFitBackend(
  card: Pick<ModelCard, 'tokenizer' | 'var' | 'id'>,
  backend: string = tf.getBackend(),
  heldBytes: number = tf.memory().numBytes,
): void {
  if (backend !== 'wasm') return;
  const need = weightBytes(card);
  const budget = WASM_HEAP_MAX_BYTES - heldBytes - WASM_MIN_WORKING_BYTES;
  if (need <= budget) return;
  throw new OutOfMemoryError(
    `model "${card.id}" has ${formatBytes(need)} of weights (float32 in memory, also from float16 files), but the wasm backend addresses at most ` +
      `${formatBytes(WASM_HEAP_MAX_BYTES)} (${formatBytes(heldBytes)} already held, ${formatBytes(WASM_MIN_WORKING_BYTES)} kept to compute): ` +
      `load it on the webgpu backend (weights in GPU buffers): initBackend('webgpu'), loadGenerator(…, { backend: 'webgpu' }), var … --backend webgpu, or ?backend=webgpu in the web demo`,
    { neededBytes: need, availableBytes: Math.max(0, budget), largestBatch: 0 },
  );
}

/**
 * The card of an official preset (`d16` … `d30` with `vae_ch160v4096z32`): its configs, the
 * 1000 ImageNet class names (short names, every synonym as an alias: {@link classIndex}), 256 px RGB, and the official sampling
 * ({@link OFFICIAL_SAMPLING}).
 * @throws ConfigError for an unknown preset name.
 */
export function presetCard(name: string): ModelCard {
  return cardFromConfig(presetConfig(name), name, {
    name: `VAR-${name} (official preset)`,
    dataset: { name: 'ImageNet-1k' },
    ...imagenetClassFields(),
    channels: 3,
    sampling: { ...OFFICIAL_SAMPLING },
  });
}

/**
 * Load a model: a registered id (`'mnist'`), a model directory (Node path or URL containing
 * `model-card.json`, `vae.safetensors`, `var.safetensors`), or {@link ModelFiles}.
 *
 * @example
 * const { vae, var: model, card } = await loadModel('mnist', { backend: 'wasm' });
 * const r = await generate(vae, model, { labels: [3], seed: 0 });
 *
 * @throws ModelNotBundledError when a registered model's weights are not present;
 * CheckpointError for weights that do not match their configs; ConfigError for a bad card.
 */
export async function loadModel(src: string | URL | ModelFiles, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const progress = opts.onProgress ?? (() => undefined);
  const backend =
    opts.backend !== undefined ? await initBackend(opts.backend, opts.threads !== undefined ? { threads: opts.threads } : {}) : undefined;
  progress({ stage: 'card', fraction: 0 });
  let card: ModelCard;
  let vaeSrc: CheckpointSource;
  let varSrc: CheckpointSource;
  let label: string;
  if (typeof src === 'string' || src instanceof URL) {
    let loc: Location;
    const isDir = src instanceof URL || /[\\/]/.test(src) || src.startsWith('.');
    if (isDir) {
      loc = await dirLocation(src);
      const c = await readCard(loc, null);
      if (!c) throw new ValueError(`${loc.label}: not a model directory (${MODEL_FILES.card} is missing)`);
      card = c;
    } else {
      ({ loc, card } = await locate(src, opts.root));
    }
    const v = await loc.source(card.tokenizer.file ?? MODEL_FILES.vae);
    const t = await loc.source(card.var.file ?? MODEL_FILES.var);
    if (!v || !t) {
      const missing = [!v && (card.tokenizer.file ?? MODEL_FILES.vae), !t && (card.var.file ?? MODEL_FILES.var)]
        .filter(Boolean)
        .join(' and ');
      if (!isDir && REGISTRY.some((e) => e.id === src)) throw notBundled(src as string, loc, `${missing} missing`);
      throw new CheckpointError(`${loc.label}: ${missing} missing`);
    }
    vaeSrc = v;
    varSrc = t;
    label = loc.label;
  } else {
    if (src === null || typeof src !== 'object' || src.vae == null || src.var == null || src.config == null) {
      throw new ValueError('loadModel: expected a model id, a model directory, or { vae, var, config }');
    }
    const c = src.config as Record<string, unknown>;
    if (typeof src.config === 'string') card = presetCard(src.config);
    else
      card = typeof c.id === 'string' && typeof c.name === 'string' && c.dataset ? parseModelCard(c) : cardFromConfig(configOf(src.config));
    vaeSrc = src.vae;
    varSrc = src.var;
    label = typeof src.var === 'string' ? src.var : 'given weights';
  }
  checkPair(card.tokenizer.config, card.var.config);
  assertWeightsFitBackend(card); // before reading any weight
  const strict = opts.strict ?? true;
  // Byte progress: the tokenizer is about a third of the bytes of the small models and a
  // fifth of d16's; until both sizes are known, weigh the files 1:2.
  const sizes = { vae: 0, var: 0 };
  const reader = (stage: 'tokenizer' | 'transformer', src: CheckpointSource, key: 'vae' | 'var') => {
    const file = sourceLabel(src, key);
    progress({ stage, fraction: stage === 'tokenizer' ? 0.02 : fractionOf(sizes, sizes.vae, 0), file });
    return (p: { loaded: number; total: number }) => {
      sizes[key] = p.total;
      const fraction = key === 'vae' ? fractionOf(sizes, p.loaded, 0) : fractionOf(sizes, sizes.vae, p.loaded);
      progress({ stage, fraction, file, loaded: p.loaded, total: p.total });
    };
  };
  // Tensor by tensor from the files into backend memory (no whole-file buffer, no state dict of copies).
  const vae = await VQVAE.load(vaeSrc, card.tokenizer.config, { strict, onProgress: reader('tokenizer', vaeSrc, 'vae') });
  let model: VAR;
  try {
    model = await loadVAR(varSrc, card.var.config, { strict, onProgress: reader('transformer', varSrc, 'var') });
  } catch (e) {
    vae.dispose();
    throw e;
  }
  progress({ stage: 'done', fraction: 1 });
  return { vae, var: model, card, source: label, ...(backend ? { backend } : {}) };
}

function sourceLabel(src: CheckpointSource, key: 'vae' | 'var'): string {
  if (typeof src === 'string') return src;
  const { url, name } = src as { url?: unknown; name?: unknown };
  if (typeof url === 'string' && url) return url;
  return typeof name === 'string' && name ? name : key; // a File: its name
}

/** Fraction of all bytes read, with an unknown var size weighed as twice the vae's. */
function fractionOf(sizes: { vae: number; var: number }, vaeRead: number, varRead: number): number {
  const vae = sizes.vae || 1;
  const all = vae + (sizes.var || 2 * vae);
  return Math.min(0.99, 0.02 + (0.97 * (vaeRead + varRead)) / all);
}

/** Cast float tensors of a state dict to F16 (integer buffers kept). */
export function toFloat16(sd: StateDict): StateDict {
  const out: StateDict = new Map();
  for (const [k, t] of sd) {
    out.set(k, isFloatDType(t.dtype) && t.dtype !== 'F16' ? fromFloat32(toF32(t), t.shape, 'F16') : t);
  }
  return out;
}

function toF32(t: RawTensor): Float32Array {
  return t.dtype === 'F32' ? (t.data as Float32Array) : Float32Array.from(t.data as ArrayLike<number>);
}

export interface SaveModelOptions {
  /** Storage dtype of float tensors (default 'F16', as the shipped models). */
  dtype?: 'F16' | 'F32';
}

/**
 * Write a model directory (Node): `model-card.json`, `vae.safetensors`, `var.safetensors`
 * (float16 by default), each atomically (temp file + rename). The card's configs are
 * replaced by the models' own.
 * @throws CheckpointError when a file cannot be written (cause: the system error, e.g. ENOSPC,
 * EACCES); files already written stay, the failed one keeps its previous content, no temporary file is left
 */
export async function saveModel(
  dir: string,
  model: { vae: VQVAE; var: VAR; card: Omit<ModelCard, 'tokenizer' | 'var'> & Partial<Pick<ModelCard, 'tokenizer' | 'var'>> },
  opts: SaveModelOptions = {},
): Promise<ModelCard> {
  const dtype = opts.dtype ?? 'F16';
  const cfg: ModelConfig = { tokenizer: model.vae.config, var: model.var.config };
  checkPair(cfg.tokenizer, cfg.var);
  const card = parseModelCard({
    format: MODEL_CARD_FORMAT,
    version: MODEL_CARD_VERSION,
    ...model.card,
    dtype,
    tokenizer: { ...(model.card.tokenizer ?? {}), config: cfg.tokenizer, file: MODEL_FILES.vae },
    var: { ...(model.card.var ?? {}), config: cfg.var, file: MODEL_FILES.var },
  });
  const { fs, path } = await nodeModules();
  const failed = (what: string, e: unknown) => {
    const code = (e as NodeJS.ErrnoException)?.code;
    return new CheckpointError(`saveModel: cannot write ${what}${code ? ` (${code})` : ''}: ${(e as Error)?.message ?? String(e)}`, {
      cause: e,
    });
  };
  await fs.mkdir(dir, { recursive: true }).catch((e: unknown) => {
    throw failed(`the model directory ${dir}`, e);
  });
  const write = async (file: string, bytes: Uint8Array) => {
    const dst = path.join(dir, file);
    const tmp = `${dst}.${process.pid}.${Date.now().toString(36)}.tmp`;
    try {
      await fs.writeFile(tmp, bytes);
      await fs.rename(tmp, dst);
    } catch (e) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw failed(dst, e);
    }
  };
  const conv = (sd: StateDict) => (dtype === 'F16' ? toFloat16(sd) : sd);
  const meta = { format: 'pt', 'var-ts.model': card.id };
  await write(MODEL_FILES.vae, serializeSafetensors(conv(model.vae.stateDict() as unknown as StateDict), meta));
  await write(MODEL_FILES.var, serializeSafetensors(conv(model.var.stateDict()), meta));
  await write(MODEL_FILES.card, new TextEncoder().encode(`${JSON.stringify(card, null, 2)}\n`));
  return card;
}

/** Dispose both models of a {@link LoadedModel}. */
export function disposeModel(m: { vae: { dispose(): void }; var: { dispose(): void } }): void {
  m.vae.dispose();
  m.var.dispose();
}
