/**
 * Simulated disk faults for tests: a wrapper of `node:fs/promises` whose writes fail with
 * ENOSPC ("no space left on device") once a byte budget is spent, as a full disk does: the
 * bytes that fit are written, then the write call fails. Use it through `vi.mock`:
 *
 * ```ts
 * const fault = vi.hoisted(() => ({ budget: Infinity, failures: 0 }));
 * vi.mock('node:fs/promises', async (orig) => (await import('@var/test-helpers')).withDiskFault(await orig(), fault));
 * …
 * fault.budget = 1000; // the next 1000 bytes fit, then ENOSPC
 * ```
 *
 * A real tiny tmpfs would need root (mount); the wrapper works anywhere.
 */
import type * as FsPromises from 'node:fs/promises';

export interface DiskFault {
  /** Bytes that may still be written before writes fail with ENOSPC; Infinity = no fault. */
  budget: number;
  /** Write calls that failed so far. */
  failures: number;
}

/** An Error shaped like Node's own ENOSPC system error. */
export function enospc(syscall = 'write', path?: string): NodeJS.ErrnoException {
  const e = new Error(`ENOSPC: no space left on device, ${syscall}${path ? ` '${path}'` : ''}`) as NodeJS.ErrnoException;
  e.code = 'ENOSPC';
  e.errno = -28;
  e.syscall = syscall;
  if (path) e.path = path;
  return e;
}

function toBytes(data: unknown): Uint8Array | null {
  if (typeof data === 'string') return new TextEncoder().encode(data);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

/**
 * `real` with `open` (FileHandle.write / writeFile), `writeFile` and `appendFile` limited by
 * `fault.budget`: a write that does not fit writes what fits and then rejects with ENOSPC.
 */
export function withDiskFault(real: typeof FsPromises, fault: DiskFault): typeof FsPromises {
  const take = (n: number): number => {
    const k = Math.max(0, Math.min(n, fault.budget));
    fault.budget -= k;
    return k;
  };
  const open = (async (...args: Parameters<typeof real.open>) => {
    const fh = await real.open(...args);
    const write = fh.write.bind(fh) as (...a: unknown[]) => Promise<{ bytesWritten: number; buffer: unknown }>;
    const writeFile = fh.writeFile.bind(fh);
    Object.assign(fh, {
      write: async (buf: unknown, offset?: number, length?: number, position?: number | null) => {
        const bytes = toBytes(buf);
        if (fault.budget === Infinity || !bytes || typeof offset !== 'number') return write(buf, offset, length, position);
        const len = length ?? bytes.length - offset;
        const k = take(len);
        if (k === 0 && len > 0) {
          fault.failures++;
          throw enospc('write');
        }
        return write(buf, offset, k, position);
      },
      writeFile: async (data: unknown, opts?: unknown) => {
        const bytes = toBytes(data);
        if (fault.budget === Infinity || !bytes) return writeFile(data as never, opts as never);
        const k = take(bytes.length);
        await writeFile(bytes.subarray(0, k), opts as never);
        if (k < bytes.length) {
          fault.failures++;
          throw enospc('write');
        }
      },
    });
    return fh;
  }) as typeof real.open;
  const whole = (fn: typeof real.writeFile, syscall: string) =>
    (async (
      file: Parameters<typeof real.writeFile>[0],
      data: Parameters<typeof real.writeFile>[1],
      opts?: Parameters<typeof real.writeFile>[2],
    ) => {
      const bytes = toBytes(data);
      if (fault.budget === Infinity || !bytes) return fn(file, data, opts);
      const k = take(bytes.length);
      await fn(file, bytes.subarray(0, k), opts);
      if (k < bytes.length) {
        fault.failures++;
        throw enospc(syscall, typeof file === 'string' ? file : undefined);
      }
    }) as typeof real.writeFile;
  const writeFile = whole(real.writeFile, 'write');
  const appendFile = whole(real.appendFile as typeof real.writeFile, 'write') as unknown as typeof real.appendFile;
  const wrapped = { ...real, open, writeFile, appendFile };
  return { ...wrapped, default: wrapped } as typeof FsPromises;
}
