/// <reference lib="webworker" />
/**
 * The generation worker: owns TensorFlow.js, the backend and the model, so the page stays
 * responsive. Loads models (bundled, by URL, from opened files, from the cache), streams one
 * message per scale (tokens, a decoded preview, the time it took), and decodes uploads.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '@var/core';
import { parseModelCard, type ModelCard } from '@var/models';
import { loadGenerator, type GeneratedImage, type Generator, type LoadProgress, type PipelineScaleEvent } from '@var/pipeline';
import { kindOf, messageOf, ModelSourceError } from './errors';
import { bundledModels, clearKept, getModelFile, listKept, type FileProgress, type ModelIndex } from './model-store';
import { readKept, removeKept } from './opened-store';
import { picturesOf, rawImage } from './pictures';
import type { BackendReport, CardSummary, EditParams, FromWorker, ModelSource, SampleParams, ToWorker } from './protocol';
import { withThreadsReported } from './threads';

const post = (m: FromWorker, transfer: Transferable[] = []): void =>
  (self as unknown as DedicatedWorkerGlobalScope).postMessage(m, transfer);

let ready: Promise<void> | null = null;
let registryRoot = '';
let index: ModelIndex | null = null;
let model: Generator | null = null;
/** Name shown for an opened model (its files), instead of the card's. */
let modelName: string | null = null;
let controller: AbortController | null = null;
let queue: Promise<void> = Promise.resolve();

async function init(backend: BackendName, wasmPaths: string, threads: number | undefined): Promise<void> {
  try {
    const wantThreads = threads ?? navigator.hardwareConcurrency ?? 1;
    const start = () =>
      initBackend(backend, { wasmPaths, threads: wantThreads, allowSoftwareAdapter: backend === 'webgpu' ? true : undefined });
    // The wasm backend registers itself on import; initBackend picks and initialises one.
    const info = backend === 'wasm' || backend === 'auto' ? await withThreadsReported(wantThreads, start) : await start();
    const a = info.adapterInfo;
    const report: BackendReport = {
      name: info.name,
      requested: info.requested,
      reason: info.reason,
      threads: info.threads,
      threadsWanted: wantThreads,
      wasmBinary: info.wasmBinary,
      adapter: a
        ? [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' · ') + (a.isSoftware ? ' (software)' : '')
        : undefined,
      crossOriginIsolated: (self as unknown as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
      cores: navigator.hardwareConcurrency ?? 1,
    };
    if (info.name === 'webgpu') report.limits = webgpuLimits();
    post({ type: 'backend', info: report });
  } catch (e) {
    post({ type: 'backend-error', message: messageOf(e) });
    throw e;
  }
}

/** The WebGPU device's limits that bound a generation (one binding holds the attention scores). */
function webgpuLimits(): Record<string, { requested: number; adapter: number }> {
  const dev = (tf.backend() as unknown as { device?: { limits?: Record<string, number>; adapterInfo?: unknown } }).device;
  const out: Record<string, { requested: number; adapter: number }> = {};
  for (const k of ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize']) {
    const v = dev?.limits?.[k];
    if (typeof v === 'number') out[k] = { requested: v, adapter: v };
  }
  return out;
}

async function sendModels(): Promise<void> {
  const r = await bundledModels(registryRoot);
  index = r.index;
  post({ type: 'models', models: r.models });
}

function summarize(m: Generator): CardSummary {
  const c = m.card;
  const vc = c.var.config;
  return {
    id: modelName ? 'opened' : c.id,
    name: modelName ?? c.name,
    description: c.description,
    dataset: c.dataset?.name ?? 'unknown',
    classNames: c.classNames,
    imageSize: m.imageSize,
    channels: m.channels,
    patchNums: vc.patchNums,
    vocabSize: vc.vocabSize,
    numClasses: vc.numClasses,
    parameters: m.models.var.numParameters() + m.models.vae.numParameters(),
    sampling: { ...m.sampling },
    ...(c.quality ? { quality: c.quality } : {}),
    ...(c.training ? { training: c.training } : {}),
  };
}

/** Progress across the files of one load: bytes of every file, with the total once known. */
function progressOf(
  expected: number,
  fetching = 'downloading',
): { file: (p: FileProgress) => void; stage: (s: string) => void; fromCache: () => boolean } {
  const per = new Map<string, { loaded: number; total: number }>();
  let cached = true;
  let any = false;
  let lastPost = 0;
  const send = (stage: string, file?: string, force = false) => {
    const now = performance.now();
    if (!force && now - lastPost < 50) return;
    lastPost = now;
    let loaded = 0;
    let total = 0;
    for (const v of per.values()) {
      loaded += v.loaded;
      total += v.total || v.loaded;
    }
    post({ type: 'progress', stage, file, loaded, total: Math.max(total, expected), fromCache: any && cached });
  };
  return {
    file: (p) => {
      any = true;
      if (!p.fromCache) cached = false;
      per.set(p.file, { loaded: p.loaded, total: p.total });
      send(p.fromCache ? 'reading from the cache' : fetching, p.file, p.loaded === 0 || p.loaded === p.total);
    },
    stage: (s) => send(s, undefined, true),
    fromCache: () => any && cached,
  };
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  const text = new TextDecoder().decode(bytes);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelSourceError(
      what,
      `${what} is not JSON (${messageOf(e)}); expected a model card (model-card.json) or a model config ({ tokenizer, var } or an official { VQVAE, VAR })`,
      { cause: e },
    );
  }
}

/** A model directory (registry id or URL): the card, then both weight files, cached. */
async function loadDirectory(
  base: string,
  label: string,
  kind: 'bundled' | 'url',
  files: ModelIndex['models'][number]['files'] | undefined,
  pr: ReturnType<typeof progressOf>,
) {
  const fileUrl = (name: string) => {
    const f = files?.find((x) => x.name === name);
    const url = new URL(name, base).href;
    return { url: f ? `${url}?sha256=${f.sha256.slice(0, 16)}` : url, bytes: f?.bytes };
  };
  const c = fileUrl('model-card.json');
  const cardBytes = (await getModelFile(c.url, { label, kind, bytes: c.bytes, onProgress: pr.file })).bytes;
  const card = parseModelCard(parseJson(cardBytes, c.url.split('?')[0]), c.url.split('?')[0]);
  const v = fileUrl(card.tokenizer.file ?? 'vae.safetensors');
  const t = fileUrl(card.var.file ?? 'var.safetensors');
  const [vaeBytes, varBytes] = await Promise.all([
    getModelFile(v.url, { label, kind, bytes: v.bytes, onProgress: pr.file }),
    getModelFile(t.url, { label, kind, bytes: t.bytes, onProgress: pr.file }),
  ]);
  return { card, vae: vaeBytes.bytes, var: varBytes.bytes };
}

/** Configs for opened files: a preset name, or a config / model-card JSON file. */
async function openedConfig(source: Extract<ModelSource, { kind: 'files' }>): Promise<string | Record<string, unknown>> {
  if (source.config) {
    const json = parseJson(new Uint8Array(await source.config.arrayBuffer()), source.config.name);
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new ModelSourceError(
        source.config.name,
        `${source.config.name}: expected a JSON object (a model card or a model config); found ${Array.isArray(json) ? 'an array' : typeof json}`,
      );
    }
    return json as Record<string, unknown>;
  }
  if (source.preset) return source.preset;
  throw new ModelSourceError(
    'config',
    'choose a preset (d16, d20, d24, d30) or open a config file (model-card.json or config.json) with the checkpoints',
  );
}

async function load(source: ModelSource): Promise<void> {
  // The current model stays loaded (and usable) until the new one is ready.
  let next: Generator | null = null;
  const t0 = performance.now();
  try {
    let vae: Uint8Array | File;
    let vr: Uint8Array | File;
    let config: string | Record<string, unknown> | ModelCard;
    let label: string;
    let rename: string | undefined;
    let pr: ReturnType<typeof progressOf>;
    /** Files (opened, or kept in OPFS) are read piecewise by the checkpoint readers, with byte progress. */
    let filesFromCache: boolean | null = null;
    if (source.kind === 'id' || source.kind === 'url') {
      const files = source.kind === 'id' ? index?.models.find((m) => m.id === source.id)?.files : undefined;
      pr = progressOf(files ? files.reduce((s, f) => s + f.bytes, 0) : 0);
      pr.stage('fetching the model card');
      const base =
        source.kind === 'id' ? new URL(`${source.id}/`, source.root).href : source.url.endsWith('/') ? source.url : `${source.url}/`;
      label = source.kind === 'id' ? source.id : base;
      const d = await loadDirectory(base, label, source.kind === 'id' ? 'bundled' : 'url', files, pr);
      ({ vae, var: vr } = d);
      config = d.card;
    } else if (source.kind === 'files') {
      pr = progressOf(source.vae.size + source.var.size, 'reading');
      pr.stage('reading the files');
      config = await openedConfig(source);
      vae = source.vae;
      vr = source.var;
      label = `${source.var.name} + ${source.vae.name}`;
      rename = label;
      filesFromCache = false;
    } else {
      const k = await readKept(source.key);
      pr = progressOf(k.vae.size + k.var.size);
      pr.stage('reading from the cache');
      ({ vae, var: vr, label } = k);
      config = k.card as ModelCard;
      filesFromCache = true;
    }
    const fromFiles = filesFromCache;
    const onProgress =
      fromFiles === null
        ? undefined
        : (p: LoadProgress) => {
            if (p.file && p.loaded !== undefined) pr.file({ file: p.file, loaded: p.loaded, total: p.total ?? 0, fromCache: fromFiles });
          };
    if (fromFiles === null) pr.stage('building the model');
    next = await loadGenerator(
      { vae, var: vr, ...(typeof config === 'string' ? { preset: config } : { config }) },
      { backend: null, ...(onProgress ? { onProgress } : {}) },
    );
    if (model) model.dispose();
    model = next;
    modelName = rename ?? null;
    next = null;
    const fromCache = pr.fromCache();
    const keep = source.kind === 'files' ? { card: { ...model.card, id: 'opened', name: label }, label } : undefined;
    post({
      type: 'loaded',
      card: summarize(model),
      source: fromCache ? `${label} (from this browser's cache)` : label,
      ms: performance.now() - t0,
      fromCache,
      ...(keep ? { keep } : {}),
    });
    post({ type: 'cache', ...(await listKept()) });
  } catch (e) {
    if (next) next.dispose();
    post({ type: 'load-error', code: kindOf(e), message: messageOf(e) });
  }
}

async function run(kind: 'generate' | 'edit', reqId: number, p: SampleParams | EditParams): Promise<void> {
  if (!model) {
    post({ type: 'error', reqId, message: 'no model is loaded' });
    return;
  }
  const gen = model;
  controller = new AbortController();
  const signal = controller.signal;
  const t0 = performance.now();
  let last = t0;
  const onScale = async (ev: PipelineScaleEvent): Promise<void> => {
    // Time of this scale: transformer step, sampling and (with previews) the preview's decode,
    // up to its pixels being on the CPU. Backends differ in where the work happens (wasm runs
    // eagerly, WebGPU when read back), so only the total per scale is meaningful.
    const preview = ev.previews ? picturesOf(ev.previews, gen.channels) : undefined;
    const ms = performance.now() - last;
    post({ type: 'scale', reqId, si: ev.si, pn: ev.pn, scales: ev.scales, ms, tokens: ev.tokens, ...(preview ? { preview } : {}) });
    if (p.delayMs && ev.si < ev.scales - 1) await new Promise((r) => setTimeout(r, p.delayMs));
    last = performance.now();
  };
  // The page always sends its sampling (the card's, as the UI shows it, unless changed).
  const request = {
    classes: [p.label],
    count: p.count ?? 1,
    ...(p.cfg !== undefined ? { cfg: p.cfg } : {}),
    ...(p.topK !== undefined ? { topK: p.topK } : {}),
    ...(p.topP !== undefined ? { topP: p.topP } : {}),
    ...(p.seed !== undefined ? { seed: p.seed } : {}),
    batchSize: Math.max(1, p.count ?? 1),
    signal,
    previews: p.previews ?? true,
    onScale,
  };
  try {
    let r: Awaited<ReturnType<Generator['generate']>>;
    if (kind === 'edit') {
      const e = p as EditParams;
      const source = e.inputTokens ? { inputTokens: e.inputTokens } : e.image ? { image: rawImage(e.image) } : null;
      if (!source) throw new ModelSourceError('edit', 'nothing to edit: choose a result or upload an image first');
      r = await gen.edit({ ...request, ...source, mask: e.mask });
    } else {
      r = await gen.generate(request);
    }
    const images = picturesOf(r.images, gen.channels);
    const labels = Int32Array.from(r.images.map((im: GeneratedImage) => im.label));
    post({
      type: 'done',
      reqId,
      kind,
      tokens: r.tokens,
      labels,
      images,
      ...(r.keep ? { keep: r.keep } : {}),
      ...(r.inputTokens ? { inputTokens: r.inputTokens } : {}),
      ms: performance.now() - t0,
    });
  } catch (e) {
    if ((e as { name?: string }).name === 'AbortError' || (e as { code?: string }).code === 'E_ABORTED' || signal.aborted) {
      post({ type: 'aborted', reqId });
    } else post({ type: 'error', reqId, message: `${kindOf(e)}: ${messageOf(e)}` });
  } finally {
    controller = null;
  }
}

/** Decode an upload and show it as the model will see it (its size and channels): the edit of nothing. */
async function importImage(reqId: number, image: NonNullable<EditParams['image']>): Promise<void> {
  if (!model) {
    post({ type: 'import-error', reqId, message: 'load a model first' });
    return;
  }
  try {
    post({ type: 'imported', reqId, picture: picturesOf([await model.inputImage(rawImage(image))], model.channels) });
  } catch (e) {
    post({ type: 'import-error', reqId, message: messageOf(e) });
  }
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.type === 'stop') {
    controller?.abort();
    return;
  }
  if (m.type === 'init') {
    registryRoot = m.registryRoot;
    ready = init(m.backend, m.wasmPaths, m.threads);
    queue = queue
      .then(() => ready!)
      .then(
        () => sendModels(),
        () => undefined,
      );
    return;
  }
  // One task at a time, after the backend is up.
  queue = queue.then(async () => {
    try {
      await ready;
    } catch {
      return;
    }
    try {
      if (m.type === 'load') await load(m.source);
      else if (m.type === 'generate') await run('generate', m.reqId, m.params);
      else if (m.type === 'edit') await run('edit', m.reqId, m.params);
      else if (m.type === 'import-image') await importImage(m.reqId, m.image);
      else if (m.type === 'cache-list') post({ type: 'cache', ...(await listKept()) });
      else if (m.type === 'cache-clear' || m.type === 'cache-remove') {
        // (The page has told the keeper to stop a copy in progress; removals wait for its lock.)
        if (m.type === 'cache-clear') await clearKept();
        else await removeKept(m.key);
        post({ type: 'cache', ...(await listKept()) });
      }
    } catch (e) {
      post({ type: 'error', reqId: -1, message: messageOf(e) });
    }
  });
};
