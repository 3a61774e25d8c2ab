/**
 * Exit codes and the one-line error format.
 * 0 ok · 1 a typed error (bad file, mismatched checkpoint, backend unavailable…) · 2 a usage
 * error (unknown option, bad --class, bad --rect) · 130 interrupted (SIGINT).
 */
import { AbortError, VarError } from '@var/core';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** A wrong command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  readonly hint?: string;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'UsageError';
    this.hint = hint;
  }
}

const HINTS: Record<string, string> = {
  E_MODEL_NOT_BUNDLED: 'give weights by path: --vae FILE --var FILE --config JSON (or --preset NAME)',
  E_CHECKPOINT: 'check that --config/--preset describes this checkpoint (`var info FILE` lists the presets it matches)',
  E_BACKEND_UNAVAILABLE: '`var info` lists the backends available here; --backend cpu always works',
  E_CONFIG: 'see `var info` for the configs a model card holds',
  E_SHAPE: 'check the input sizes (`var info` shows the model image size)',
  E_IMAGE_FORMAT: 'images must be PNG or JPEG',
  E_DATA_IO: 'check the path and its permissions',
  E_OUT_OF_MEMORY: 'lower --batch to the size the message names (or use a backend with more memory)',
};

function isSystemError(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) && typeof (e as { syscall?: unknown }).syscall === 'string';
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : `${s.slice(0, i)} …`;
}

/** The message, hint and exit code of an error. */
export function describeError(err: unknown): { message: string; hint?: string; code: number; detail?: string } {
  if (err instanceof UsageError) return { message: err.message, hint: err.hint ?? 'see --help', code: EXIT_USAGE };
  if (err instanceof AbortError || (err as { name?: string })?.name === 'AbortError') {
    const custom = !(err instanceof AbortError) && err instanceof Error && err.message ? err.message : undefined;
    return { message: custom ?? 'interrupted; no partial output files were left', code: EXIT_INTERRUPTED };
  }
  if (err instanceof VarError) {
    // a typed error caused by the file system (a checkpoint that cannot be written: ENOSPC, EACCES, …) gets the I/O hint
    const hint = isSystemError(err.cause) ? HINTS.E_DATA_IO : HINTS[err.code];
    return { message: `${err.name}: ${firstLine(err.message)}`, hint, code: EXIT_ERROR, detail: err.message };
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string' && e.code.startsWith('E') && typeof e.message === 'string') {
    // Node system errors (ENOENT, EACCES, …)
    return { message: firstLine(e.message), hint: HINTS.E_DATA_IO, code: EXIT_ERROR };
  }
  const msg = err instanceof Error ? err.message : String(err);
  return {
    message: `internal error: ${firstLine(msg)}`,
    hint: 'rerun with --verbose and report it',
    code: EXIT_ERROR,
    detail: err instanceof Error ? err.stack : undefined,
  };
}
