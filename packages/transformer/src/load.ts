/** Loading official checkpoints (`var_d16.pth`, safetensors) through @var/checkpoint. */
import { loadStateDict, type CheckpointSource } from '@var/checkpoint';
import type { VARConfig } from './config.js';
import { VAR } from './model.js';
import type { AttentionImpl } from './attention.js';

/**
 * Read a `.pth` (zip, no pickle code executed) or `.safetensors` checkpoint with official
 * key names and build the model. Each tensor read is dropped once its parameter is uploaded
 * (`VAR.fromStateDict` with `release`), so loading peaks near the weights plus one tensor rather
 * than two copies of the weights. Throws `CheckpointError` on unreadable files and on
 * missing / unexpected / mis-shaped keys.
 */
export async function loadVAR(
  source: CheckpointSource,
  config: VARConfig,
  opts: { strict?: boolean; attention?: AttentionImpl } = {},
): Promise<VAR> {
  const sd = await loadStateDict(source);
  return VAR.fromStateDict(config, sd, { ...opts, release: true });
}
