/**
 * @var/sampling — VAR generation (classifier-free guidance, top-k/top-p, streaming per scale)
 * and zero-shot editing (in-painting, out-painting, class-conditional editing).
 */
export {
  generate,
  generateStream,
  edit,
  editStream,
  resolveLabels,
  type SampleOptions,
  type GenerateOptions,
  type EditOptions,
  type EditRect,
  type ScaleEvent,
  type GenerateResult,
  type PhaseTiming,
  type ScaleHook,
} from './generate.js';
export { autoregressiveInferCfg, previewHook } from './infer.js';
export {
  filterLogits,
  filterRow,
  filteredProbabilities,
  softmaxRow,
  sampleIndex,
  sampleTokens,
  gumbelSoftmax,
  smoothTemperature,
  checkFilterOptions,
  type FilterOptions,
  type RandomSource,
} from './filter.js';
export { getEditMask, editMaskData, normalizeMask, scaleKeepMasks, roundHalfEven, maskFromArray, type ImageLikeMask } from './mask.js';
export { rasterPatchNums, isRasterPair } from './raster.js';
export {
  assertBatchFits,
  availableBytes,
  estimateGenerationBytes,
  generationShape,
  largestBatchThatFits,
  WASM_HEAP_MAX_BYTES,
  assertWebGPULimits,
  largestTensorBytes,
  webgpuDeviceLimits,
  type WebGPUBufferLimits,
  type GenerationShape,
  type GenerationMemoryEstimate,
  type GenerationMemoryOptions,
  type GenerationPlan,
  type GenerationChunk,
  enterWeightPacking,
} from './memory.js';
export type { SamplerQuantizer, SamplerVQVAE, SamplerSession, SamplerVAR } from './types.js';
