/**
 * @var/tokenizer — VAR's multi-scale VQVAE (encoder, residual quantiser with phi,
 * decoder) on TensorFlow.js, loading the official checkpoints.
 */
export {
  DEFAULT_VQVAE_CONFIG,
  VQVAE_PRESETS,
  downsampleFactor,
  fromOfficialConfig,
  linspace,
  phiLayout,
  resolveVQVAEConfig,
  type PhiLayout,
  type VQVAEConfig,
  type VQVAEPresetName,
} from './config.js';
export { countParameters, paramShapes, stateDictEntries, type EntryKind, type StateEntry } from './shapes.js';
export { MultiScaleQuantizer, nearestCode, stopGradient, type QuantizerTrainOutput } from './quantizer.js';
export { VQVAE, configFrom, type CreateOptions, type LoadCheckpointOptions, type LoadOptions, type VQVAEConfigInput } from './vqvae.js';
export { convFlops } from './nn.js';
export type { RawTensorLike, StateDictLike, StateDictOut } from './statedict.js';
export {
  VQVAETrainer,
  vqvaeGradients,
  vqvaeLossTensors,
  type StepResult,
  type TrainerOptions,
  type VQVAEGradients,
  type VQVAELossOptions,
  type VQVAELossTensors,
} from './train.js';
