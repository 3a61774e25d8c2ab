/**
 * The typed errors of var.ts, from @var/core's tfjs-free entry (`@var/core/errors`: the same
 * classes as `@var/core`'s, so `instanceof` works across packages), re-exported so every
 * module of this package takes them from one place.
 */
export {
  VarError,
  ShapeError,
  ValueError,
  NonFiniteError,
  CheckpointError,
  BackendUnavailableError,
  AbortError,
  throwIfAborted,
} from '@var/core/errors';
