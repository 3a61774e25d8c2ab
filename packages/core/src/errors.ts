/**
 * Typed errors of var.ts. Every error says what was expected, what was found and,
 * where it helps, what to do. All extend {@link VarError} so callers can catch the
 * family with one `instanceof`.
 */

/** Base class of every error thrown by var.ts packages. `code` is stable across versions. */
export class VarError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options as any);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A tensor or array has the wrong rank, size, channel count, dtype or batch. */
export class ShapeError extends VarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_SHAPE', message, options);
  }
}

/** A value is out of its allowed range or of the wrong kind (labels, indices, options). */
export class ValueError extends VarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_VALUE', message, options);
  }
}

/** An input tensor contains NaN or ±Infinity where finite numbers are required. */
export class NonFiniteError extends VarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_NON_FINITE', message, options);
  }
}

/** A configuration object is inconsistent or incomplete. */
export class ConfigError extends VarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_CONFIG', message, options);
  }
}

/** A requested backend cannot be used here; the message says how to make it available. */
export class BackendUnavailableError extends VarError {
  readonly backend: string;
  constructor(backend: string, message: string, options?: { cause?: unknown }) {
    super('E_BACKEND_UNAVAILABLE', message, options);
    this.backend = backend;
  }
}

/**
 * A checkpoint file is malformed, truncated, hostile (e.g. a pickle calling a
 * non-allow-listed global) or does not match the model it is loaded into.
 */
export class CheckpointError extends VarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_CHECKPOINT', message, options);
  }
}

/**
 * A request would need more memory than the backend has: raised before allocating, from an
 * estimate. `largestBatch` is the largest batch the estimate lets fit (0 when none does).
 */
export class OutOfMemoryError extends VarError {
  readonly neededBytes: number;
  readonly availableBytes: number;
  readonly largestBatch: number;
  constructor(message: string, info: { neededBytes: number; availableBytes: number; largestBatch: number }, options?: { cause?: unknown }) {
    super('E_OUT_OF_MEMORY', message, options);
    this.neededBytes = info.neededBytes;
    this.availableBytes = info.availableBytes;
    this.largestBatch = info.largestBatch;
  }
}

/** An operation was cancelled through an AbortSignal. */
export class AbortError extends VarError {
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super('E_ABORTED', message, options);
  }
}

/** Throw {@link AbortError} if `signal` is aborted. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError(signal.reason ? `The operation was aborted: ${String(signal.reason)}` : undefined);
}
