/**
 * The one atomic file write of var.ts (Node only; `node:fs` is imported when called, so the
 * package still loads in browsers): the bytes go to a temporary file in the same folder,
 * flushed, then renamed over the target, so a reader — or a crash, or a SIGKILL — never sees
 * a half-written file. @var/checkpoint, @var/data and @var/train write through it and map
 * its failure to their own error class.
 */

/** Temporary files of {@link writeFileAtomic}: `.<name>.<pid>.<stamp>.tmp`; group 1 is the writer's pid. */
export const ATOMIC_TEMP_FILE = /^\..+\.(\d+)\.[0-9a-z]+\.tmp$/;

/** Largest single write call (Node caps one at 2 GiB). */
const MAX_CHUNK = 1 << 30;
let counter = 0;

export interface AtomicWriteOptions {
  /** Create missing parent folders (default true). */
  createDirs?: boolean;
  /**
   * The error to throw when the write fails (the temporary file is already removed and an
   * existing file is unchanged). Default: the system error itself.
   */
  error?: (path: string, cause: unknown) => Error;
}

/** The system error's code (`ENOSPC`, `EACCES`, …) and message, for error texts. */
export function systemErrorText(e: unknown): string {
  const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : undefined;
  const what = e instanceof Error ? e.message : String(e);
  return code && !what.includes(code) ? `(${code}) ${what}` : what;
}

/**
 * Write `data` (text as UTF-8, bytes, or parts written one after another without being
 * joined) to `path` atomically.
 * @throws what `options.error` makes of the system error (default: that error).
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | Iterable<Uint8Array>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const fs = await import('node:fs/promises');
  const nodePath = await import('node:path');
  const dir = nodePath.dirname(path);
  const pid = (globalThis as { process?: { pid?: number } }).process?.pid ?? 0;
  const stamp = `${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const tmp = nodePath.join(dir, `.${nodePath.basename(path)}.${pid}.${stamp}.tmp`);
  const parts: Iterable<Uint8Array> =
    typeof data === 'string' ? [new TextEncoder().encode(data)] : data instanceof Uint8Array ? [data] : data;
  let fh: import('node:fs/promises').FileHandle | undefined;
  try {
    if (options.createDirs ?? true) await fs.mkdir(dir, { recursive: true });
    fh = await fs.open(tmp, 'wx');
    for (const part of parts) {
      let done = 0;
      while (done < part.length) {
        const { bytesWritten } = await fh.write(part, done, Math.min(MAX_CHUNK, part.length - done));
        done += bytesWritten;
      }
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fs.rename(tmp, path);
  } catch (e) {
    if (fh) await fh.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw options.error ? options.error(path, e) : e;
  }
}
