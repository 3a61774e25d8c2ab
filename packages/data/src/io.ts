/**
 * File access. `node:fs` is imported lazily, only when a function needs it in Node, so
 * the package loads in browsers; there `readImage`/`readBytes` use `fetch`.
 */
import { decodeImage, encodePng, type DecodeOptions, type EncodePngOptions, type RawImage } from './codec.js';
import { DataIOError } from './errors.js';
import { writeFileAtomic as coreWriteFileAtomic } from '@var/core';

type FsPromises = typeof import('node:fs/promises');
type PathModule = typeof import('node:path');

/** True when running in Node.js (or a runtime exposing `process.versions.node`). */
export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

let fsPromise: Promise<{ fs: FsPromises; path: PathModule }> | undefined;

/** `node:fs/promises` and `node:path`, imported on first use. @throws DataIOError outside Node. */
export async function nodeFs(what: string): Promise<{ fs: FsPromises; path: PathModule }> {
  if (!isNode()) {
    throw new DataIOError(what, `${what}: file-system access needs Node.js; in a browser fetch the bytes and call decodeImage(bytes)`);
  }
  fsPromise ??= Promise.all([import('node:fs/promises'), import('node:path')]).then(([fs, path]) => ({ fs, path }));
  return fsPromise;
}

function ioMessage(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? err);
}

/**
 * Read a file's bytes: with `node:fs` in Node, with `fetch` elsewhere (a URL or path
 * relative to the page).
 * @throws DataIOError when the file cannot be read.
 */
export async function readBytes(path: string): Promise<Uint8Array> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new DataIOError(String(path), `readBytes: expected a non-empty path string; got ${JSON.stringify(path)}`);
  }
  if (isNode()) {
    const { fs } = await nodeFs(path);
    try {
      const buf = await fs.readFile(path);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      throw new DataIOError(path, `cannot read ${path}: ${ioMessage(err)}`, { cause: err });
    }
  }
  let res: Response;
  try {
    res = await fetch(path);
  } catch (err) {
    throw new DataIOError(path, `cannot fetch ${path}: ${ioMessage(err)}`, { cause: err });
  }
  if (!res.ok) throw new DataIOError(path, `cannot fetch ${path}: HTTP ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Read and decode a PNG or JPEG file (see {@link decodeImage}).
 * @throws DataIOError when the file cannot be read; ImageFormatError when it is not a decodable image.
 */
export async function readImage(path: string, options: Omit<DecodeOptions, 'source'> = {}): Promise<RawImage> {
  const bytes = await readBytes(path);
  return decodeImage(bytes, { ...options, source: path });
}

/**
 * Write `bytes` to `path` atomically (Node only; @var/core's `writeFileAtomic`): the data goes
 * to a temporary file in the same folder, which is then renamed over `path`, so a reader (or a
 * crash) never sees a half-written file. Missing parent folders are created.
 * @throws DataIOError when the file cannot be written (the temporary file is removed).
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  if (!isNode())
    throw new DataIOError(path, `cannot write ${path}: writing files needs Node.js (in a browser, download the bytes instead)`);
  await coreWriteFileAtomic(path, bytes, { error: (p, e) => new DataIOError(p, `cannot write ${p}: ${ioMessage(e)}`, { cause: e }) });
}

/**
 * Encode `img` as PNG and write it atomically to `path` (Node only; temp file + rename).
 * @throws ShapeError for a malformed image; DataIOError when it cannot be written.
 */
export async function writePng(path: string, img: RawImage, options: EncodePngOptions = {}): Promise<void> {
  const bytes = encodePng(img, options);
  await writeFileAtomic(path, bytes);
}
