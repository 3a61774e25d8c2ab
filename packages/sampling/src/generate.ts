/**
 * Class-conditional generation with VAR, scale by scale (next-scale prediction), as the
 * official `VAR.autoregressive_infer_cfg`, and zero-shot editing
 * (`autoregressive_infer_cfg_with_mask`): the public entry points. The loop itself is
 * {@link autoregressiveInferCfg} (infer.ts); editing (edit.ts), previews (infer.ts), the
 * raster-order baseline (raster.ts) and phase timing (timing.ts) live in their own modules.
 */
import { ConfigError } from '@var/core';
import { editHook, resolveEdit, type EditOptions } from './edit.js';
import { autoregressiveInferCfg, previewHook, type GenerateResult, type ScaleEvent, type ScaleHook } from './infer.js';
import { checkModels, resolve, type GenerateOptions, type Resolved, type SampleOptions } from './options.js';
import { isRasterPair, rasterInfer } from './raster.js';
import type { SamplerVAR, SamplerVQVAE } from './types.js';

export type { SampleOptions, GenerateOptions } from './options.js';
export { resolveLabels } from './options.js';
export type { EditOptions, EditRect } from './edit.js';
export type { ScaleEvent, GenerateResult, ScaleHook } from './infer.js';
export type { PhaseTiming } from './timing.js';

/** Run a scale generator to its end, giving each event to `onScale` (awaited). */
async function drive(
  gen: AsyncGenerator<ScaleEvent, GenerateResult, void>,
  onScale?: (e: ScaleEvent) => void | Promise<void>,
): Promise<GenerateResult> {
  for (;;) {
    const it = await gen.next();
    if (it.done) return it.value;
    if (onScale) {
      try {
        await onScale(it.value);
      } catch (e) {
        await gen.return(undefined as never); // runs the generator's cleanup
        throw e;
      }
    }
  }
}

function scales(
  vae: SamplerVQVAE,
  model: SamplerVAR,
  r: Resolved,
  hooks: ScaleHook[] = [],
): AsyncGenerator<ScaleEvent, GenerateResult, void> {
  if (isRasterPair(vae.quantizer, model)) return rasterInfer(vae, model, r);
  return autoregressiveInferCfg(vae, model, r, r.previews ? [...hooks, previewHook(vae)] : hooks);
}

/**
 * Generate images for a batch of class labels (official `autoregressive_infer_cfg`).
 * A raster-order pair (single-scale tokenizer, transformer with `rasterPatchNums(g)`, see
 * raster.ts) is generated token by token in raster order with the same guidance and filters.
 *
 * @example
 * const r = await generate(vae, model, { labels: [3, 7], cfg: 4, topK: 900, topP: 0.95, seed: 0 });
 * // r.images: (2, C, H, W) in [0, 1]; r.tokens[si]: (2, pn·pn); dispose r.images and r.fHat
 * @throws ValueError for bad labels or options, AbortError when `signal` aborts.
 */
export async function generate(vae: SamplerVQVAE, model: SamplerVAR, opts: GenerateOptions): Promise<GenerateResult> {
  checkModels(vae, model);
  const r = resolve(model, opts, isRasterPair(vae.quantizer, model));
  return drive(scales(vae, model, r), opts.onScale);
}

/**
 * Streaming form of {@link generate}: an async iterator of {@link ScaleEvent}s, one per scale;
 * its return value (from the final `next()`) is the {@link GenerateResult}. Breaking out of a
 * `for await` loop stops generation and frees its tensors.
 */
export function generateStream(
  vae: SamplerVQVAE,
  model: SamplerVAR,
  opts: SampleOptions,
): AsyncGenerator<ScaleEvent, GenerateResult, void> {
  checkModels(vae, model);
  const r = resolve(model, opts, isRasterPair(vae.quantizer, model));
  return scales(vae, model, r);
}

async function* editScales(
  vae: SamplerVQVAE,
  model: SamplerVAR,
  r: Resolved,
  o: EditOptions,
): AsyncGenerator<ScaleEvent, GenerateResult, void> {
  if (isRasterPair(vae.quantizer, model)) {
    throw new ConfigError('a raster-order model supports plain generation only (no edits, moreSmooth, previews or kvCache: false)');
  }
  const e = await resolveEdit(vae, model, r, o);
  return yield* scales(vae, model, r, [editHook(vae, e, r.B, model.config.patchNums)]);
}

/**
 * Zero-shot editing (in-painting, out-painting, class-conditional editing), as the official
 * `autoregressive_infer_cfg_with_mask`: the input image is tokenised; at every scale the
 * tokens where the (resized) mask keeps the input are forced to the input's tokens, the others
 * are sampled. Class-conditional editing is an in-painting with another class label.
 */
export async function edit(vae: SamplerVQVAE, model: SamplerVAR, opts: EditOptions): Promise<GenerateResult> {
  checkModels(vae, model);
  const r = resolve(model, opts);
  return drive(editScales(vae, model, r, opts), opts.onScale);
}

/** Streaming form of {@link edit} (see {@link generateStream}). */
export function editStream(
  vae: SamplerVQVAE,
  model: SamplerVAR,
  opts: Omit<EditOptions, 'onScale'>,
): AsyncGenerator<ScaleEvent, GenerateResult, void> {
  checkModels(vae, model);
  const r = resolve(model, opts as EditOptions);
  return editScales(vae, model, r, opts as EditOptions);
}
