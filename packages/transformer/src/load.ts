/** Loading official checkpoints (`var_d16.pth`, safetensors) through @var/checkpoint. */
import { type ByteProgress, type CheckpointSource, openStateDict } from '@var/checkpoint';
import type { AttentionImpl } from './attention.js';
import type { VARConfig } from './config.js';
import { VAR } from './model.js';

export interface LoadVAROptions {
  /** Require exactly the model's keys (default true). Mis-shaped keys always throw. */
  strict?: boolean;
  attention?: AttentionImpl;
  /** Bytes read of the file so far. */
  onProgress?: (p: ByteProgress) => void;
  /** Check the CRC-32 of each `.pth` storage (default true). */
  verifyCrc?: boolean;
}

/**
 * Read a `.pth` (zip, no pickle code executed) or `.safetensors` checkpoint with official
 * key names and build the model, tensor by tensor (`VAR.fromCheckpoint`): the keys and shapes
 * are checked before any weight is read, and each weight goes from the file through one reused
 * buffer into backend memory, so loading holds the weights plus the largest tensor — no
 * whole-file buffer and no state dict of copies. Throws `CheckpointError` on unreadable files
 * and on missing / unexpected / mis-shaped keys.
 */
export async function loadVAR(source: CheckpointSource, config: VARConfig, opts: LoadVAROptions = {}): Promise<VAR> {
  const reader = await openStateDict(source, { onProgress: opts.onProgress, verifyCrc: opts.verifyCrc });
  try {
    return await VAR.fromCheckpoint(config, reader, { strict: opts.strict, attention: opts.attention });
  } finally {
    await reader.close();
  }
}
