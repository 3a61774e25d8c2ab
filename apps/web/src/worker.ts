/// <reference lib="webworker" />
/**
 * The generation worker: owns TensorFlow.js, the backend and the model, so the page stays
 * responsive. Streams one message per scale (tokens, a decoded preview, the time it took).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '@var/core';
import { REGISTRY, disposeModel, listModels, loadModel, type LoadedModel } from '@var/models';
import { edit, generate, type EditOptions, type GenerateOptions, type ScaleEvent } from '@var/sampling';
import type { CardSummary, EditParams, FromWorker, ModelSource, Pictures, SampleParams, ToWorker } from './protocol';

const post = (m: FromWorker, transfer: Transferable[] = []): void => (self as unknown as DedicatedWorkerGlobalScope).postMessage(m, transfer);

let ready: Promise<void> | null = null;
let registryRoot = '';
let model: LoadedModel | null = null;
let controller: AbortController | null = null;
let queue: Promise<void> = Promise.resolve();

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function init(backend: BackendName, wasmPaths: string): Promise<void> {
  try {
    // The wasm backend registers itself on import; initBackend picks and initialises one.
    const info = await initBackend(backend, { wasmPaths, allowSoftwareAdapter: backend === 'webgpu' ? true : undefined });
    const a = info.adapterInfo;
    post({
      type: 'backend',
      info: {
        name: info.name,
        requested: info.requested,
        reason: info.reason,
        threads: info.threads,
        wasmBinary: info.wasmBinary,
        adapter: a ? [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' · ') + (a.isSoftware ? ' (software)' : '') : undefined,
        crossOriginIsolated: (self as unknown as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
        cores: navigator.hardwareConcurrency ?? 1,
      },
    });
  } catch (e) {
    post({ type: 'backend-error', message: message(e) });
    throw e;
  }
}

async function sendModels(): Promise<void> {
  const list = await listModels({ root: new URL(registryRoot) }).catch(() => REGISTRY.map((e) => ({ ...e, bundled: false })));
  post({ type: 'models', models: list.map((m) => ({ id: m.id, name: m.name, description: m.description, bundled: m.bundled })) });
}

function summarize(m: LoadedModel): CardSummary {
  const c = m.card;
  const vc = c.var.config;
  const down = 2 ** (c.tokenizer.config.chMult.length - 1);
  const size = c.imageSize ?? vc.patchNums[vc.patchNums.length - 1] * down;
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    dataset: c.dataset?.name ?? 'unknown',
    classNames: c.classNames,
    imageSize: size,
    channels: c.channels ?? 3,
    patchNums: vc.patchNums,
    vocabSize: vc.vocabSize,
    numClasses: vc.numClasses,
    parameters: m.var.numParameters() + m.vae.numParameters(),
    ...(c.sampling ? { sampling: c.sampling } : {}),
    ...(c.quality ? { quality: c.quality } : {}),
    ...(c.training ? { training: c.training } : {}),
  };
}

async function load(source: ModelSource): Promise<void> {
  if (model) {
    disposeModel(model);
    model = null;
  }
  const t0 = performance.now();
  try {
    const onProgress = (p: { stage: string; fraction: number }) => post({ type: 'progress', stage: p.stage, fraction: p.fraction });
    model =
      source.kind === 'url'
        ? await loadModel(new URL(source.url), { onProgress })
        : await loadModel(source.id, { root: new URL(source.root), onProgress });
    post({ type: 'loaded', card: summarize(model), source: model.source, ms: performance.now() - t0 });
  } catch (e) {
    post({ type: 'load-error', code: (e as { code?: string }).code ?? 'E_LOAD', message: message(e) });
  }
}

/** (B, 3, H, W) in [0, 1] → one RGBA array per image. */
async function toPictures(images: tf.Tensor4D): Promise<Pictures> {
  const [B, , H, W] = images.shape;
  const data = await images.data();
  const rgba: Uint8ClampedArray[] = [];
  const plane = H * W;
  for (let b = 0; b < B; b++) {
    const out = new Uint8ClampedArray(plane * 4);
    const o = b * 3 * plane;
    for (let i = 0; i < plane; i++) {
      out[4 * i] = Math.round(data[o + i] * 255);
      out[4 * i + 1] = Math.round(data[o + plane + i] * 255);
      out[4 * i + 2] = Math.round(data[o + 2 * plane + i] * 255);
      out[4 * i + 3] = 255;
    }
    rgba.push(out);
  }
  return { size: H === W ? H : Math.max(H, W), rgba };
}

async function run(kind: 'generate' | 'edit', reqId: number, p: SampleParams | EditParams): Promise<void> {
  if (!model) {
    post({ type: 'error', reqId, message: 'no model is loaded' });
    return;
  }
  controller = new AbortController();
  const signal = controller.signal;
  const t0 = performance.now();
  let last = t0;
  const onScale = async (ev: ScaleEvent): Promise<void> => {
    // Time of this scale: transformer step, sampling and (with previews) the preview's decode,
    // up to its pixels being on the CPU. Backends differ in where the work happens (wasm runs
    // eagerly, WebGPU when read back), so only the total per scale is meaningful.
    const preview = ev.preview ? await toPictures(ev.preview) : undefined;
    const ms = performance.now() - last;
    post({ type: 'scale', reqId, si: ev.si, pn: ev.pn, scales: ev.scales, ms, tokens: ev.tokens, ...(preview ? { preview } : {}) });
    if (p.delayMs && ev.si < ev.scales - 1) await new Promise((r) => setTimeout(r, p.delayMs));
    last = performance.now();
  };
  const base: GenerateOptions = {
    labels: p.label,
    count: p.count,
    cfg: p.cfg,
    topK: p.topK,
    topP: p.topP,
    seed: p.seed,
    signal,
    previews: p.previews ?? true,
    onScale,
  };
  let image: tf.Tensor4D | null = null;
  try {
    let r;
    if (kind === 'edit') {
      const e = p as EditParams;
      const size = e.mask.length;
      const opts: EditOptions = { ...base, mask: e.mask };
      if (e.inputTokens) opts.inputTokens = e.inputTokens;
      else if (e.image) opts.image = image = tf.tensor4d(e.image, [1, 3, size, size]);
      r = await edit(model.vae, model.var, opts);
    } else {
      r = await generate(model.vae, model.var, base);
    }
    const images = await toPictures(r.images!);
    r.images?.dispose();
    r.fHat.dispose();
    post({ type: 'done', reqId, kind, tokens: r.tokens, labels: r.labels, images, ...(r.keep ? { keep: r.keep } : {}), ...(r.inputTokens ? { inputTokens: r.inputTokens } : {}), ms: performance.now() - t0 });
  } catch (e) {
    if ((e as { name?: string; code?: string }).name === 'AbortError' || (e as { code?: string }).code === 'E_ABORTED' || signal.aborted) {
      post({ type: 'aborted', reqId });
    } else post({ type: 'error', reqId, message: message(e) });
  } finally {
    image?.dispose();
    controller = null;
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
    ready = init(m.backend, m.wasmPaths);
    queue = queue.then(() => ready!).then(sendModels, () => undefined);
    return;
  }
  // One task at a time, after the backend is up.
  queue = queue.then(async () => {
    try {
      await ready;
    } catch {
      return;
    }
    if (m.type === 'load') await load(m.source);
    else if (m.type === 'generate') await run('generate', m.reqId, m.params);
    else if (m.type === 'edit') await run('edit', m.reqId, m.params);
  });
};
