/**
 * @var/models — the registry of models shipped with var.ts (model cards + float16
 * safetensors in `weights/<id>/`) and one loader for them, for weights given by path, and
 * for model directories, from files in Node and from URLs in browsers.
 */
export {
  MODEL_CARD_FORMAT,
  MODEL_CARD_VERSION,
  MODEL_PRESETS,
  OFFICIAL_SAMPLING,
  checkPair,
  parseModelCard,
  presetConfig,
  resolveModelConfig,
  tokenizerConfigFrom,
  varConfigFrom,
  type ModelCard,
  type ModelConfig,
} from './card.js';
export { classIndex, className, imagenetClassFields, type ClassRef, type ClassVocabulary } from './classes.js';
export { IMAGENET_CLASSES } from './imagenet-classes.js';
export {
  MODEL_FILES,
  ModelNotBundledError,
  REGISTRY,
  cardFromConfig,
  defaultModelId,
  defaultWeightsRoot,
  disposeModel,
  getModelCard,
  listModels,
  loadModel,
  presetCard,
  assertWeightsFitBackend,
  weightBytes,
  saveModel,
  toFloat16,
  type LoadModelOptions,
  type LoadProgress,
  type LoadedModel,
  type ModelFiles,
  type ModelInfo,
  type RegistryEntry,
  type RootOptions,
  type SaveModelOptions,
  type WeightsRoot,
} from './registry.js';
