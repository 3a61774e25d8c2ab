/**
 * Byte sources (in-memory bytes or a file read piecewise) and atomic file writes.
 * Node's `fs` is imported lazily, only when a path is given, so the package also
 * loads in browsers for ArrayBuffer / Uint8Array / Response input.
 */
import { CheckpointError, ValueError } from '@var/core/errors';
import { systemErrorText, writeFileAtomic as coreWriteFileAtomic } from '@var/core/fs';

/** What the readers accept besides a path: raw bytes, or something with `arrayBuffer()` (a fetch `Response`, a `Blob`). */
export type BytesLike = ArrayBuffer | ArrayBufferView;
export interface ResponseLike {
  arrayBuffer(): Promise<ArrayBuffer>;
  /** A fetch `Response`'s body and headers: read as a stream when present, for byte progress. */
  body?: { getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }>; releaseLock?(): void } } | null;
  headers?: { get(name: string): string | null };
  ok?: boolean;
  status?: number;
  statusText?: string;
  url?: string;
}
/**
 * A `Blob` or `File` (browsers; Node ≥ 20): read piecewise with `slice()`, so a large file is
 * never held whole in memory; error messages name the file (`name`).
 */
export interface BlobLike {
  readonly size: number;
  /** A `File`'s name: the label in error messages and progress. */
  readonly name?: string;
  slice(start?: number, end?: number): { arrayBuffer(): Promise<ArrayBuffer> };
}
export type CheckpointSource = string | BytesLike | ResponseLike | BlobLike;

/** Random access to the bytes of a checkpoint. */
export interface ByteSource {
  /** Human-readable origin for error messages. */
  readonly label: string;
  readonly size: number;
  /**
   * `length` bytes from `offset`. For in-memory sources this is a view (no copy);
   * for files a fresh buffer that the caller owns.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Read into `target` (used to fill typed arrays straight from a file). */
  readInto(offset: number, target: Uint8Array): Promise<void>;
  /** True when `read` returns views of memory the caller passed in. */
  readonly inMemory: boolean;
  close(): Promise<void>;
}

/** A Uint8Array view of `src` (no copy). */
export function asBytes(src: BytesLike): Uint8Array {
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  if (ArrayBuffer.isView(src)) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  if (typeof SharedArrayBuffer !== 'undefined' && (src as unknown) instanceof SharedArrayBuffer) {
    return new Uint8Array(src as unknown as SharedArrayBuffer);
  }
  throw new ValueError(`expected an ArrayBuffer or a typed array, found ${describe(src)}`);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return (v as object).constructor?.name ?? 'object';
}

function isResponseLike(v: unknown): v is ResponseLike {
  return typeof v === 'object' && v !== null && typeof (v as ResponseLike).arrayBuffer === 'function';
}

function isBlobLike(v: unknown): v is BlobLike {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as BlobLike).slice === 'function' &&
    typeof (v as BlobLike).size === 'number' &&
    !ArrayBuffer.isView(v)
  );
}

function checkRange(label: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new CheckpointError(
      `${label}: read of ${length} bytes at offset ${offset} is outside the ${size}-byte file (truncated or corrupt)`,
    );
  }
}

/** A ByteSource over bytes already in memory. */
export function bytesSource(bytes: Uint8Array, label = 'checkpoint bytes'): ByteSource {
  return {
    label,
    size: bytes.length,
    inMemory: true,
    async read(offset, length) {
      checkRange(label, bytes.length, offset, length);
      return bytes.subarray(offset, offset + length);
    },
    async readInto(offset, target) {
      checkRange(label, bytes.length, offset, target.length);
      target.set(bytes.subarray(offset, offset + target.length));
    },
    async close() {},
  };
}

/**
 * A ByteSource over a `Blob` / `File`: each read is one `slice(…).arrayBuffer()`, so only the
 * bytes asked for are in memory (a 1.2 GB checkpoint is never copied whole).
 * @throws CheckpointError (on read) when the blob cannot be read — e.g. the file was changed,
 * moved or deleted after it was chosen — or gives fewer bytes than asked for.
 */
export function blobSource(blob: BlobLike, label = blob.name || 'blob'): ByteSource {
  const size = blob.size;
  const read = async (offset: number, length: number): Promise<Uint8Array> => {
    checkRange(label, size, offset, length);
    let buf: ArrayBuffer;
    try {
      buf = await blob.slice(offset, offset + length).arrayBuffer();
    } catch (e) {
      throw new CheckpointError(
        `cannot read ${label} (${(e as Error)?.message ?? String(e)}): was the file changed, moved or deleted after it was chosen? Choose it again`,
        { cause: e },
      );
    }
    if (buf.byteLength !== length) {
      throw new CheckpointError(
        `${label}: read ${buf.byteLength} of ${length} bytes at offset ${offset} (the file changed while being read?); choose it again`,
      );
    }
    return new Uint8Array(buf);
  };
  return {
    label,
    size,
    inMemory: false,
    read,
    async readInto(offset, target) {
      target.set(await read(offset, target.length));
    },
    async close() {},
  };
}

/** Largest single `read` call on a file handle (Node caps one read at 2 GiB). */
const MAX_CHUNK = 1 << 30;

/** A ByteSource reading a file piecewise through a Node file handle. */
export async function fileSource(path: string): Promise<ByteSource> {
  const fs = await import('node:fs/promises');
  const { Buffer } = await import('node:buffer');
  let fh: import('node:fs/promises').FileHandle;
  try {
    fh = await fs.open(path, 'r');
  } catch (e) {
    throw new CheckpointError(`cannot open checkpoint ${path}: ${(e as Error).message}`, { cause: e });
  }
  let size: number;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new CheckpointError(`${path} is not a regular file`);
    size = st.size;
  } catch (e) {
    await fh.close().catch(() => {});
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`cannot stat checkpoint ${path}: ${(e as Error).message}`, { cause: e });
  }
  const readInto = async (offset: number, target: Uint8Array) => {
    checkRange(path, size, offset, target.length);
    let done = 0;
    while (done < target.length) {
      const len = Math.min(MAX_CHUNK, target.length - done);
      const { bytesRead } = await fh.read(target, done, len, offset + done);
      if (bytesRead === 0) {
        throw new CheckpointError(`${path}: unexpected end of file at byte ${offset + done} (the file shrank while being read?)`);
      }
      done += bytesRead;
    }
  };
  return {
    label: path,
    size,
    inMemory: false,
    async read(offset, length) {
      checkRange(path, size, offset, length);
      // Not zero-filled (every byte is read over) nor pooled: its own, aligned ArrayBuffer.
      const b = Buffer.allocUnsafeSlow(length);
      const out = new Uint8Array(b.buffer, b.byteOffset, length);
      await readInto(offset, out);
      return out;
    },
    readInto,
    async close() {
      await fh.close();
    },
  };
}

/** Bytes read so far of one checkpoint, and its size (0 while unknown). */
export interface ByteProgress {
  loaded: number;
  total: number;
}

/** A readable byte stream: a fetch body or a Cache API entry's (`ReadableStream<Uint8Array>` is one). */
export type ByteStream = NonNullable<ResponseLike['body']>;

/**
 * Read a byte stream into one buffer of `total` bytes (0: unknown, start at 1 MiB), grown
 * geometrically when more arrive, calling `onLoaded` with the bytes read so far after every
 * chunk. Returns the bytes read (a view of the buffer when fewer than its size); a stream that
 * ends early is not an error here (compare the length with `total`).
 */
export async function readStreamBytes(body: ByteStream, total: number, onLoaded?: (loaded: number) => void): Promise<Uint8Array> {
  const reader = body.getReader();
  let buf = new Uint8Array(total > 0 ? total : 1 << 20);
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!value || value.length === 0) continue;
    if (loaded + value.length > buf.length) {
      // More than announced (or nothing announced): grow geometrically.
      const grown = new Uint8Array(Math.max(buf.length * 2, loaded + value.length));
      grown.set(buf.subarray(0, loaded));
      buf = grown;
    }
    buf.set(value, loaded);
    loaded += value.length;
    onLoaded?.(loaded);
  }
  return loaded === buf.length ? buf : buf.subarray(0, loaded);
}

/**
 * Fetch the whole body of a Response-like object. With `onProgress` and a streaming body,
 * the body is read chunk by chunk into one buffer of the announced `Content-Length` (no
 * second copy), reporting the bytes received.
 */
export async function responseBytes(res: ResponseLike, onProgress?: (p: ByteProgress) => void): Promise<Uint8Array> {
  const where = res.url || 'response';
  if (res.ok === false) {
    throw new CheckpointError(`cannot read checkpoint from ${where}: HTTP ${res.status ?? '?'} ${res.statusText ?? ''}`.trim());
  }
  try {
    if (!onProgress || !res.body || typeof res.body.getReader !== 'function') {
      const out = new Uint8Array(await res.arrayBuffer());
      onProgress?.({ loaded: out.length, total: out.length });
      return out;
    }
    const announced = Number(res.headers?.get('content-length') ?? NaN);
    const total = Number.isSafeInteger(announced) && announced >= 0 ? announced : 0;
    onProgress({ loaded: 0, total });
    const bytes = await readStreamBytes(res.body, total, (loaded) => onProgress({ loaded, total: Math.max(total, loaded) }));
    const loaded = bytes.length;
    if (total && loaded < total) {
      throw new CheckpointError(`${where}: body ended after ${loaded} of ${total} bytes (connection closed early?)`);
    }
    return bytes;
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`cannot read checkpoint body from ${where}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * `src` reporting the bytes read through it (the sum of all reads, capped at the size: the
 * readers read each byte of a checkpoint about once).
 */
export function withProgress(src: ByteSource, onProgress: (p: ByteProgress) => void): ByteSource {
  let loaded = 0;
  const count = (n: number) => {
    loaded = Math.min(src.size, loaded + n);
    onProgress({ loaded, total: src.size });
  };
  return {
    label: src.label,
    size: src.size,
    inMemory: src.inMemory,
    async read(offset, length) {
      const out = await src.read(offset, length);
      count(length);
      return out;
    },
    async readInto(offset, target) {
      await src.readInto(offset, target);
      count(target.length);
    },
    close: () => src.close(),
  };
}

/**
 * Open any accepted source as a ByteSource. With `onProgress`, files (paths, Blobs / Files)
 * report the bytes the reader takes from them, Responses the bytes downloaded, in-memory bytes their size at once.
 */
export async function openSource(src: CheckpointSource, onProgress?: (p: ByteProgress) => void): Promise<ByteSource> {
  if (typeof src === 'string') {
    const f = await fileSource(src);
    if (onProgress) onProgress({ loaded: 0, total: f.size });
    return onProgress ? withProgress(f, onProgress) : f;
  }
  if (src instanceof ArrayBuffer || ArrayBuffer.isView(src)) {
    const b = bytesSource(asBytes(src));
    onProgress?.({ loaded: b.size, total: b.size });
    return b;
  }
  if (isBlobLike(src)) {
    const b = blobSource(src);
    if (onProgress) onProgress({ loaded: 0, total: b.size });
    return onProgress ? withProgress(b, onProgress) : b;
  }
  if (isResponseLike(src)) {
    const label = (src as ResponseLike).url || 'response';
    return bytesSource(await responseBytes(src, onProgress), label);
  }
  throw new ValueError(`expected a path, an ArrayBuffer, a Uint8Array, a Blob / File or a fetch Response, found ${describe(src)}`);
}

/**
 * Write `parts` to `path` atomically (@var/core's `writeFileAtomic`: a temporary file in the
 * same directory, flushed, then renamed over `path`). On any error the temporary file is
 * removed and `path` is left as it was.
 * @throws CheckpointError when the file cannot be written (missing folder, permission
 * denied, disk full, …): the message names the path and the system error, which is the `cause`.
 */
export async function writeFileAtomic(path: string, parts: Iterable<Uint8Array>): Promise<void> {
  await coreWriteFileAtomic(path, parts, {
    createDirs: false,
    error: (p, e) =>
      new CheckpointError(`cannot write checkpoint ${p}: ${systemErrorText(e)}; nothing was written (an existing file is unchanged)`, {
        cause: e,
      }),
  });
}
