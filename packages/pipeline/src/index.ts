/**
 * @var/pipeline — the one obvious way to run VAR: `loadGenerator(model, { backend, onProgress })`,
 * then `generate({ classes, count, seed })` or `edit({ image, mask })`, giving PNG bytes, RGBA
 * pixels, `ImageData` or tensors, with the model card's sampling (official presets: the official
 * sampling).
 */
export { loadGenerator, type GeneratorSource, type LoadGeneratorOptions } from './load.js';
export {
  Generator,
  type ClassRef,
  type EditImage,
  type EditRequest,
  type GenerateRequest,
  type GenerationResult,
  type PipelineScaleEvent,
  type SamplingSettings,
} from './generator.js';
export { generatedImage, inModelChannels, toPixels, type GeneratedImage } from './images.js';
export { OFFICIAL_SAMPLING, type LoadProgress } from '@var/models';
