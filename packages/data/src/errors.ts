/**
 * Errors specific to @var/data. Both extend `VarError` from @var/core, so
 * `err instanceof VarError` catches them together with ShapeError, ValueError, ….
 */
import { VarError } from '@var/core';

/**
 * Bytes that are not an image this package can decode: unknown signature (neither PNG
 * nor JPEG), or a PNG/JPEG whose data is corrupt or truncated. `source` names the file
 * or URL when known.
 */
export class ImageFormatError extends VarError {
  readonly source: string | undefined;
  constructor(message: string, options?: { cause?: unknown; source?: string }) {
    super('E_IMAGE_FORMAT', message, options);
    this.source = options?.source;
  }
}

/**
 * A file or folder could not be read or written (missing, permission denied, not a
 * file, network error, …), or file access is not available in this environment.
 * `path` is the file or URL involved; the original error is the `cause`.
 */
export class DataIOError extends VarError {
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('E_DATA_IO', message, options);
    this.path = path;
  }
}
