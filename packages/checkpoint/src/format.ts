/** Telling a `.pth` (zip) from a safetensors file by their first bytes. */
import { CheckpointError } from '@var/core/errors';
import { looksLikeZip } from './zip.js';

/** Which container the bytes start with. */
export function detectFormat(first: Uint8Array): 'pth' | 'safetensors' | 'unknown' {
  if (looksLikeZip(first)) return 'pth';
  if (first.length >= 9 && first[8] === 0x7b /* '{' */ && first[5] === 0 && first[6] === 0 && first[7] === 0) return 'safetensors';
  if (first.length >= 2 && first[0] === 0x80 && first[1] === 0x02) return 'pth'; // legacy torch.save: readPth explains
  return 'unknown';
}

/**
 * {@link detectFormat}, or a CheckpointError naming the bytes found when it is neither.
 * @throws CheckpointError for an unrecognised format
 */
export function checkpointFormat(first: Uint8Array, label: string): 'pth' | 'safetensors' {
  const fmt = detectFormat(first);
  if (fmt !== 'unknown') return fmt;
  throw new CheckpointError(
    `${label}: unrecognised checkpoint format (expected a PyTorch zip checkpoint starting with "PK" or a safetensors file whose 9th byte is "{"; ` +
      `found bytes ${[...first.subarray(0, 9)].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`,
  );
}
