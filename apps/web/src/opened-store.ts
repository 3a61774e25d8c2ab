/**
 * Opened models kept in the origin-private file system (OPFS), not Cache Storage: the official
 * d16 pair is 1.68 GB, which Cache Storage refuses in Chromium ("Unexpected internal error").
 *
 * Layout: `var-ts-opened-v1/<id>/vae/<file name>`, `…/var/<file name>` and `…/model.json` (the
 * card the model loaded with), written last — a folder without it is an interrupted copy and is
 * removed. Each file is streamed from the user's file into OPFS (`createWritable()`, which writes
 * a swap file and commits it on close), so no second copy is ever in memory; loading reads the
 * OPFS files piecewise, as the opened files are. A Web Lock per folder (`var-keep:<id>`) keeps
 * a copy in progress — in the keeper worker, or another tab — from being taken for an
 * interrupted one, and makes removals wait for it.
 *
 * No TensorFlow.js or model code here: the keeper worker imports this module alone.
 */
import { ModelSourceError, messageOf } from './errors';
import { formatBytes } from './format';
import type { CacheEntry } from './protocol';

export const OPFS_DIR = 'var-ts-opened-v1';
const OPFS_KEY = 'opfs:';

/** What `model.json` of a kept model holds. */
interface KeptMeta {
  label: string;
  card: unknown;
  files: { vae: string; var: string };
  bytes: { vae: number; var: number };
  savedAt: string;
}

function storage(): StorageManager | undefined {
  return (globalThis.navigator as Navigator | undefined)?.storage;
}

async function opfsRoot(create: boolean): Promise<FileSystemDirectoryHandle | null> {
  return (await opfsRootOrError(create)).root;
}

/** The kept models' folder, or why there is none: no OPFS, not created yet, or the error creating it (e.g. QuotaExceededError). */
async function opfsRootOrError(create: boolean): Promise<{ root: FileSystemDirectoryHandle | null; error?: unknown }> {
  const st = storage();
  if (!st || typeof st.getDirectory !== 'function') return { root: null };
  try {
    return { root: await (await st.getDirectory()).getDirectoryHandle(OPFS_DIR, { create }) };
  } catch (error) {
    return { root: null, error }; // not created yet (create: false), storage disabled, or full
  }
}

const isQuotaError = (e: unknown) => (e as { name?: string } | undefined)?.name === 'QuotaExceededError';

/**
 * Run `fn` holding the folder's lock (`ifAvailable`: `fn(false)` at once when another holder
 * has it). Without the Web Locks API, `fn` runs unlocked.
 */
async function withLock<T>(id: string, fn: (held: boolean) => Promise<T>, opts: { ifAvailable?: boolean } = {}): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks) return fn(true);
  return locks.request(`var-keep:${id}`, { ifAvailable: opts.ifAvailable ?? false }, (lock) => fn(lock !== null)) as Promise<T>;
}

/** A folder name for an opened pair: the names, sizes and dates (the same files map to the same folder). */
function keptId(vae: File, vr: File): string {
  const text = `${vr.name}|${vr.size}|${vr.lastModified}|${vae.name}|${vae.size}|${vae.lastModified}`;
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  const stem = vr.name.replace(/[^\w.-]+/g, '_').slice(0, 40);
  return `${stem}-${h1.toString(16).padStart(8, '0')}${h2.toString(16).padStart(8, '0')}`;
}

/** Bytes copied so far while an opened model is kept. */
export type OnKeepProgress = (p: { loaded: number; total: number }) => void;

async function writeStream(
  dir: FileSystemDirectoryHandle,
  name: string,
  body: ReadableStream<Uint8Array>,
  onChunk: (n: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const fh = await dir.getFileHandle(name, { create: true });
  const w = await fh.createWritable(); // writes go to a swap file, committed by close()
  const count = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, ctl) {
      onChunk(chunk.length);
      ctl.enqueue(chunk);
    },
  });
  await body.pipeThrough(count).pipeTo(w, signal ? { signal } : {}); // closes w on success, aborts it (nothing committed) on error or abort
}

async function readMeta(root: FileSystemDirectoryHandle, id: string): Promise<KeptMeta | null> {
  const dir = await root.getDirectoryHandle(id);
  const f = await (await dir.getFileHandle('model.json')).getFile();
  const m = JSON.parse(await f.text()) as KeptMeta;
  return m && typeof m.label === 'string' && m.files && m.bytes ? m : null;
}

/**
 * Keep an opened model (its two files and the card it loaded with) in OPFS, streamed from the
 * files (never a second copy in memory). Returns the key to load it again, or a note saying why
 * it was not kept (no OPFS here, not enough room, stopped) — nothing half-written is left.
 */
export async function keepOpened(
  vae: File,
  vr: File,
  card: unknown,
  label: string,
  onProgress?: OnKeepProgress,
  signal?: AbortSignal,
): Promise<{ key?: string; note?: string }> {
  const { root, error } = await opfsRootOrError(true);
  const total = vae.size + vr.size;
  if (!root && isQuotaError(error))
    return {
      note: `The browser's storage for this page is full: it refused even a folder for the two files (${formatBytes(total)}), so nothing was written. Clear cached models (below) or free disk space, then open the files again`,
    };
  if (!root)
    return {
      note: 'This browser gives the page no origin-private file system here (private mode or storage disabled?); open the files again next time',
    };
  const id = keptId(vae, vr);
  return withLock(id, async () => {
    const existing = await readMeta(root, id).catch(() => null);
    if (existing && existing.bytes.vae === vae.size && existing.bytes.var === vr.size) return { key: OPFS_KEY + id };
    const est = await storage()
      ?.estimate?.()
      .catch(() => null);
    if (est && typeof est.quota === 'number' && typeof est.usage === 'number' && est.quota - est.usage < total + (1 << 20)) {
      return {
        note: `The two files need ${formatBytes(total)}, and this browser lets the page store ${formatBytes(Math.max(0, est.quota - est.usage))} more. Clear cached models (below) or free disk space, then open the files again`,
      };
    }
    let loaded = 0;
    try {
      await root.removeEntry(id, { recursive: true }).catch(() => undefined); // a stale or partial copy
      const dir = await root.getDirectoryHandle(id, { create: true });
      onProgress?.({ loaded, total });
      const step = (n: number) => {
        loaded += n;
        onProgress?.({ loaded, total });
      };
      await writeStream(await dir.getDirectoryHandle('vae', { create: true }), vae.name, vae.stream(), step, signal);
      await writeStream(await dir.getDirectoryHandle('var', { create: true }), vr.name, vr.stream(), step, signal);
      const meta: KeptMeta = {
        label,
        card,
        files: { vae: vae.name, var: vr.name },
        bytes: { vae: vae.size, var: vr.size },
        savedAt: new Date().toISOString(),
      };
      await writeStream(dir, 'model.json', new Blob([JSON.stringify(meta)]).stream(), () => undefined); // last: marks the copy complete
      return { key: OPFS_KEY + id };
    } catch (e) {
      await root.removeEntry(id, { recursive: true }).catch(() => undefined);
      if (signal?.aborted)
        return { note: 'The copy into this browser was stopped (the cache was cleared); open the files again to keep them' };
      return {
        note: isQuotaError(e)
          ? `The browser's storage for this page ran out after ${formatBytes(loaded)} of ${formatBytes(total)} (nothing was left half-written). Clear cached models or free disk space, then open the files again`
          : `${messageOf(e)}; nothing was left half-written`,
      };
    }
  });
}

/**
 * An opened model kept in OPFS: its card (as loaded) and both files, as `File`s read
 * piecewise by the checkpoint readers (their names are the original file names).
 * @throws ModelSourceError when it is no longer there (cleared) or a file is damaged.
 */
export async function readKept(key: string): Promise<{ label: string; card: unknown; vae: File; var: File }> {
  const id = key.startsWith(OPFS_KEY) ? key.slice(OPFS_KEY.length) : '';
  const root = id ? await opfsRoot(false) : null;
  const meta = root ? await readMeta(root, id).catch(() => null) : null;
  if (!root || !meta)
    throw new ModelSourceError(key, 'this model is no longer kept in this browser (the cache was cleared); open its files again');
  const dir = await root.getDirectoryHandle(id);
  const file = async (slot: 'vae' | 'var'): Promise<File> => {
    const f = await (await (await dir.getDirectoryHandle(slot)).getFileHandle(meta.files[slot])).getFile().catch(() => null);
    if (!f || f.size !== meta.bytes[slot]) {
      throw new ModelSourceError(
        key,
        `the kept copy of ${meta.files[slot]} is ${f ? `${f.size} bytes, not ${meta.bytes[slot]}` : 'missing'}; remove it from the cache and open the files again`,
      );
    }
    return f;
  };
  return { label: meta.label, card: meta.card, vae: await file('vae'), var: await file('var') };
}

async function folders(root: FileSystemDirectoryHandle): Promise<string[]> {
  const out: string[] = [];
  for await (const [name, h] of (root as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries())
    if (h.kind === 'directory') out.push(name);
  return out;
}

/** Opened models kept in OPFS, with their sizes; interrupted copies (no model.json, nobody writing) are removed. */
export async function listOpened(): Promise<{ available: boolean; entries: CacheEntry[] }> {
  const available = typeof storage()?.getDirectory === 'function';
  const root = await opfsRoot(false);
  if (!root) return { available, entries: [] };
  const entries: CacheEntry[] = [];
  for (const id of await folders(root)) {
    const meta = await readMeta(root, id).catch(() => null);
    if (meta)
      entries.push({
        key: OPFS_KEY + id,
        label: meta.label,
        kind: 'opened',
        bytes: meta.bytes.vae + meta.bytes.var,
        files: 2,
        store: 'opfs',
      });
    else
      await withLock(id, async (free) => free && (await root.removeEntry(id, { recursive: true }).catch(() => undefined)), {
        ifAvailable: true,
      });
  }
  return { available, entries };
}

/** Remove one opened model from OPFS (after a copy of it in progress has ended). */
export async function removeKept(key: string): Promise<void> {
  if (!key.startsWith(OPFS_KEY)) return;
  const id = key.slice(OPFS_KEY.length);
  const root = await opfsRoot(false);
  if (root) await withLock(id, () => root.removeEntry(id, { recursive: true }).catch(() => undefined));
}

/** Remove every opened model, and the demo's OPFS folder. */
export async function clearOpened(): Promise<void> {
  const root = await opfsRoot(false);
  if (!root) return;
  for (const id of await folders(root)) await withLock(id, () => root.removeEntry(id, { recursive: true }).catch(() => undefined));
  const top = await storage()!.getDirectory();
  await top.removeEntry(OPFS_DIR, { recursive: true }).catch(() => undefined);
}
