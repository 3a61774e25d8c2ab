/**
 * @var/train — resumable training pipelines for var.ts: the multi-scale VQVAE tokenizer and
 * the VAR transformer. Runs live in a directory (config.json, atomic safetensors
 * checkpoints with weights + optimiser + RNG + data position, log.jsonl) and resume exactly.
 *
 * The exports are the API its README documents: the trainers, run directories, evaluation,
 * quality figures, the token cache and the official model / trainer-checkpoint formats.
 * Helpers the modules share (file names, hashing, JSON diffs, clocks) stay inside.
 */

// the trainers
export {
  trainTokenizer,
  loadTokenizer,
  writeTokenizerModel,
  configHash,
  isDecoderParameter,
  type TokenizerTrainConfig,
  type ResolvedTokenizerTrainConfig,
  type TokenizerRunConfig,
  type TrainTokenizerOptions,
  type TrainResult,
} from './tokenizer.js';
export {
  trainVAR,
  loadVARInit,
  evalVAR,
  cachedTokens,
  tokenCacheKey,
  estimateTrainStepBytes,
  chooseMicroBatch,
  microBatchLossGrads,
  type TrainStepMemoryEstimate,
  type VARModelOptions,
  type VARTrainConfig,
  type VAREvalOptions,
  type VARRunConfig,
  type TrainVAROptions,
  type TokenTable,
  type CachedTokens,
} from './var.js';
export { learningRateAt, type ProgressEvent, type ProgressCallback, type SessionOptions, type RunSettings } from './session.js';

// data
export { loadDataset, resolveDatasetSpec, type DatasetSpec, type LoadedDataset } from './dataset.js';

// run directories, checkpoints, the optimiser
export { prepareRunDir, readRunConfig, runPaths, JsonlLog, readLog, type RunPaths, type RunConfigBase, type LogRecord } from './run-dir.js';
export { saveCheckpoint, loadCheckpoint, type Checkpoint, type TrainState } from './checkpoint.js';
export { AdamW, clipGradients, type AdamWOptions } from './optim.js';

// evaluation and quality
export { evalImages, psnrFromMse, loadDigitClassifier, type DigitClassifierLike } from './eval.js';
export { evaluateDigitModel, type DigitQualityOptions, type DigitQuality } from './quality.js';

// the official VAR code's formats: model directories and trainer checkpoints, both ways
export * from './official.js';
export * from './official-trainer.js';
