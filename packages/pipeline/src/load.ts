/**
 * `loadGenerator(model, options)`: the one call from "I have a model" to "I can generate",
 * in the spirit of transformers.js' `pipeline(task, model, { device, progress_callback })`.
 */
import { initBackend, ValueError, type BackendInfo, type BackendName } from '@var/core';
import {
  defaultModelId,
  loadModel,
  presetCard,
  type LoadProgress,
  type ModelCard,
  type ModelConfig,
  type ModelFiles,
  type WeightsRoot,
} from '@var/models';
import { Generator } from './generator.js';

/**
 * Which model: a bundled model's id (`'mnist'`, `'emoji'`), a model directory (a path in
 * Node, a URL in browsers, holding `model-card.json` + weights), or your own checkpoints
 * (`.pth` or `.safetensors`: paths, bytes or fetch Responses) with an official preset
 * (`'d16'` … `'d30'`, which brings the official sampling), a model card, or a config.
 */
export type GeneratorSource =
  | string
  | URL
  | {
      vae: ModelFiles['vae'];
      var: ModelFiles['var'];
      preset?: string;
      card?: ModelCard;
      config?: ModelConfig | Record<string, unknown>;
    };

export interface LoadGeneratorOptions {
  /**
   * Compute backend (default `'auto'`: the fastest available, see `initBackend` of @var/core);
   * `null` keeps the backend TensorFlow.js already has.
   */
  backend?: BackendName | null;
  /** wasm threads (default: the cores, or `VAR_WASM_THREADS`). */
  threads?: number;
  /** wasm: where the `.wasm` binaries are served from (browsers, with a bundler). */
  wasmPaths?: string | Record<string, string>;
  /** webgpu: accept a software adapter (default: yes when `backend: 'webgpu'` is asked for by name). */
  allowSoftwareAdapter?: boolean;
  /** Where bundled models are looked up (default: @var/models' `weights/`; a URL in browsers). */
  root?: WeightsRoot;
  /** Require exactly the models' keys (default true). */
  strict?: boolean;
  /** Load progress: stage, fraction, and bytes per file while the weights are read. */
  onProgress?: (progress: LoadProgress) => void;
}

function filesOf(src: Exclude<GeneratorSource, string | URL>): ModelFiles {
  const given = [src.preset !== undefined, src.card !== undefined, src.config !== undefined].filter(Boolean).length;
  if (given !== 1) {
    throw new ValueError(
      `loadGenerator: with { vae, var } give exactly one of preset ('d16' … 'd30'), card (a model card) or config; got ${given === 0 ? 'none' : 'several'}`,
    );
  }
  if (src.preset !== undefined) return { vae: src.vae, var: src.var, config: presetCard(src.preset) };
  return { vae: src.vae, var: src.var, config: (src.card ?? src.config)! };
}

/**
 * Load a model and return a {@link Generator} that applies its card's sampling.
 *
 * @example
 * import { loadGenerator } from '@var/pipeline';
 * const gen = await loadGenerator('mnist', { backend: 'wasm' });
 * const { images } = await gen.generate({ classes: ['7'], count: 4, seed: 0 });
 * // images[i].png(): PNG bytes · images[i].rgba: RGBA pixels · images[i].toImageData() in browsers
 * gen.dispose();
 *
 * @throws ModelNotBundledError / ValueError for an unknown model; CheckpointError for weights
 * that do not match their config; BackendUnavailableError for a backend this runtime lacks.
 */
export async function loadGenerator(source: GeneratorSource = defaultModelId, options: LoadGeneratorOptions = {}): Promise<Generator> {
  if (options === null || typeof options !== 'object') throw new ValueError('loadGenerator: options must be an object');
  let backend: BackendInfo | undefined;
  if (options.backend !== null) {
    backend = await initBackend(options.backend ?? 'auto', {
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(options.wasmPaths !== undefined ? { wasmPaths: options.wasmPaths } : {}),
      ...(options.allowSoftwareAdapter !== undefined ? { allowSoftwareAdapter: options.allowSoftwareAdapter } : {}),
    });
  }
  let src: string | URL | ModelFiles;
  if (typeof source === 'string') src = /^https?:\/\//i.test(source) ? new URL(source.endsWith('/') ? source : `${source}/`) : source;
  else if (source instanceof URL) src = source;
  else if (source !== null && typeof source === 'object' && source.vae != null && source.var != null) src = filesOf(source);
  else throw new ValueError('loadGenerator: expected a model id, a model directory or URL, or { vae, var, preset | card | config }');
  const model = await loadModel(src, {
    ...(options.root !== undefined ? { root: options.root } : {}),
    ...(options.strict !== undefined ? { strict: options.strict } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  return new Generator(backend ? { ...model, backend } : model);
}
