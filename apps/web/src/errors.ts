/**
 * The page's own errors and the short messages it shows for any error. Every error class of
 * the packages extends `VarError` (with a stable `code`); the demo adds one for model files it
 * cannot get or that are not what a model directory holds.
 */
import { VarError } from '@var/core';

/**
 * A model file that could not be fetched (server unreachable, HTTP error), or whose answer is
 * not a model file (an HTML page, not JSON, truncated). `url` is the file asked for.
 */
export class ModelSourceError extends VarError {
  readonly url: string;
  constructor(url: string, message: string, options?: { cause?: unknown }) {
    super('E_MODEL_SOURCE', message, options);
    this.url = url;
  }
}

/** An error's message (any thrown value). */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** An error's class name and code, e.g. `CheckpointError · E_CHECKPOINT`. */
export function kindOf(e: unknown): string {
  const name = e instanceof Error ? e.constructor.name || e.name : typeof e;
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? `${name} · ${code}` : name;
}
