/**
 * The typed errors of var.ts (defined in @var/core), re-exported so every module of this
 * package takes them from one place.
 */
export { VarError, ShapeError, ValueError, NonFiniteError, CheckpointError, BackendUnavailableError, AbortError, throwIfAborted } from '@var/core';
