/**
 * Getting a model's bytes in the worker: from the network (with progress in bytes) and the
 * page's Cache Storage, where every downloaded model is kept so it loads again without the
 * network; and the files the user opened, kept in the origin-private file system (OPFS). Also the list of bundled models, read from the build's `models/index.json`
 * (sizes and hashes; no weights are downloaded to learn what exists).
 */
import { readStreamBytes } from '@var/checkpoint';
import { REGISTRY } from '@var/models';
import { ModelSourceError, messageOf } from './errors';
import { clearOpened, listOpened } from './opened-store';
import type { CacheEntry, ModelEntry } from './protocol';

/** The Cache Storage cache holding models (bump the suffix when the stored layout changes). */
export const CACHE_NAME = 'var-ts-models-v1';
/** Where an older build kept opened files in Cache Storage (removed when listed: they now live in OPFS). */
const LEGACY_OPENED = '__var-opened__/';

export interface FileProgress {
  file: string;
  loaded: number;
  total: number;
  fromCache: boolean;
}
export type OnFileProgress = (p: FileProgress) => void;

/** One file of the build's model index. */
export interface IndexFile {
  name: string;
  bytes: number;
  sha256: string;
}
export interface ModelIndex {
  format: string;
  models: Array<{ id: string; name: string; files: IndexFile[] }>;
}

async function openCache(): Promise<Cache | null> {
  if (typeof caches === 'undefined') return null;
  try {
    return await caches.open(CACHE_NAME);
  } catch {
    return null; // e.g. an insecure context or storage disabled: everything still works, uncached
  }
}

function looksLikeHtml(bytes: Uint8Array, contentType: string | null): boolean {
  if (contentType && /text\/html/i.test(contentType)) return true;
  let i = 0;
  while (
    i < bytes.length &&
    i < 64 &&
    (bytes[i] === 0x20 ||
      bytes[i] === 0x0a ||
      bytes[i] === 0x0d ||
      bytes[i] === 0x09 ||
      bytes[i] === 0xef ||
      bytes[i] === 0xbb ||
      bytes[i] === 0xbf)
  )
    i++;
  return bytes[i] === 0x3c; /* '<' */
}

export interface GetFileOptions {
  /** Cache key (default: the URL). */
  key?: string;
  /** The model this file belongs to (shown in the cache list). */
  label: string;
  kind: 'bundled' | 'url';
  /** Size the index announces (progress before the headers arrive, and a truncation check). */
  bytes?: number;
  onProgress: OnFileProgress;
}

/**
 * A model file: the cached copy when there is one, else downloaded (and then kept).
 * @throws ModelSourceError when the server cannot be reached, answers an HTTP error or an
 * HTML page, or the body is shorter than announced.
 */
export async function getModelFile(url: string, opts: GetFileOptions): Promise<{ bytes: Uint8Array; fromCache: boolean }> {
  const name = url.split('?')[0].split('/').pop() || url;
  const key = opts.key ?? url;
  const cache = await openCache();
  const hit = cache ? await cache.match(key).catch(() => undefined) : undefined;
  if (hit?.body) {
    const total = Number(hit.headers.get('x-var-bytes') ?? opts.bytes ?? 0);
    opts.onProgress({ file: name, loaded: 0, total, fromCache: true });
    const bytes = await readStreamBytes(hit.body, total, (loaded) => opts.onProgress({ file: name, loaded, total, fromCache: true }));
    if (!total || bytes.length === total) return { bytes, fromCache: true };
    await cache!.delete(key).catch(() => undefined); // a damaged entry: fetch again
  }
  let res: Response;
  try {
    res = await fetch(url, { cache: 'no-store' });
  } catch (e) {
    throw new ModelSourceError(
      url,
      `cannot reach ${url} (${messageOf(e)}). Check the address and your connection; models you loaded before are kept in this page's cache and load offline`,
      { cause: e },
    );
  }
  if (!res.ok) {
    throw new ModelSourceError(
      url,
      res.status === 404
        ? `${url} does not exist (HTTP 404). A model directory holds model-card.json, vae.safetensors and var.safetensors (as saveModel writes them)`
        : `fetching ${url} failed: HTTP ${res.status} ${res.statusText}`.trim(),
    );
  }
  const announced = Number(res.headers.get('content-length') ?? NaN);
  const total = Number.isSafeInteger(announced) && announced > 0 ? announced : (opts.bytes ?? 0);
  const type = res.headers.get('content-type');
  if (type && /text\/html/i.test(type) && !url.endsWith('.html')) {
    throw new ModelSourceError(
      url,
      `${url} answered an HTML page (Content-Type ${type}), not a model file: the address is probably not a model directory (expected model-card.json, vae.safetensors, var.safetensors there)`,
    );
  }
  let forCache: ReadableStream<Uint8Array> | null = null;
  let body = res.body;
  if (cache && body) [body, forCache] = body.tee();
  opts.onProgress({ file: name, loaded: 0, total, fromCache: false });
  let bytes: Uint8Array;
  try {
    bytes = body
      ? await readStreamBytes(body, total, (loaded) => opts.onProgress({ file: name, loaded, total, fromCache: false }))
      : new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    forCache?.cancel().catch(() => undefined);
    throw new ModelSourceError(url, `the download of ${url} broke off (${messageOf(e)}); try again`, { cause: e });
  }
  if (total && bytes.length < total) {
    forCache?.cancel().catch(() => undefined);
    throw new ModelSourceError(url, `${url} ended after ${bytes.length} of ${total} bytes (truncated); try again`);
  }
  if (looksLikeHtml(bytes.subarray(0, 64), null)) {
    forCache?.cancel().catch(() => undefined);
    throw new ModelSourceError(
      url,
      `${url} answered an HTML page, not a model file: the address is probably not a model directory (expected model-card.json, vae.safetensors, var.safetensors there)`,
    );
  }
  if (cache && forCache) {
    const headers = {
      'content-type': type ?? 'application/octet-stream',
      'x-var-bytes': String(bytes.length),
      'x-var-label': opts.label,
      'x-var-kind': opts.kind,
    };
    await cache.put(key, new Response(forCache, { headers })).catch(() => undefined); // quota: just not kept
  }
  return { bytes, fromCache: false };
}

/** What is kept, one entry per model, with sizes: downloads (Cache Storage) and opened models (OPFS). */
export async function listKept(): Promise<{ available: boolean; entries: CacheEntry[] }> {
  const cache = await openCache();
  const byModel = new Map<string, CacheEntry>();
  if (cache) {
    for (const req of await cache.keys()) {
      if (req.url.includes(`/${LEGACY_OPENED}`)) {
        await cache.delete(req).catch(() => false); // opened files of an older build: now kept in OPFS
        continue;
      }
      const r = await cache.match(req);
      if (!r) continue;
      if (r.headers.get('x-var-kind') === 'index') continue;
      const kind = (r.headers.get('x-var-kind') ?? 'url') as CacheEntry['kind'];
      const label = r.headers.get('x-var-label') ?? req.url;
      const id = `${kind}:${label}`;
      const e = byModel.get(id) ?? { label, kind, bytes: 0, files: 0, store: 'cache' as const };
      e.bytes += Number(r.headers.get('x-var-bytes') ?? 0);
      e.files += 1;
      byModel.set(id, e);
    }
  }
  const opened = await listOpened();
  return { available: !!cache || opened.available, entries: [...byModel.values(), ...opened.entries] };
}

/** Remove every kept model: the Cache Storage cache and the opened models in OPFS. */
export async function clearKept(): Promise<void> {
  if (typeof caches !== 'undefined') await caches.delete(CACHE_NAME).catch(() => false);
  await clearOpened();
}

/**
 * The registry's models and which are bundled with this build, from `models/index.json`
 * (written by the build); without an index, from each model's small `model-card.json`.
 * Never downloads weights.
 */
export async function bundledModels(root: string): Promise<{ models: ModelEntry[]; index: ModelIndex | null }> {
  let index: ModelIndex | null = null;
  const url = new URL('index.json', root).href;
  const cache = await openCache();
  const parse = (j: unknown): ModelIndex | null => {
    const x = j as ModelIndex;
    return x && x.format === 'var-ts-model-index' && Array.isArray(x.models) ? x : null;
  };
  try {
    const r = await fetch(url, { cache: 'no-store' });
    if (r.ok) {
      index = parse(
        await r
          .clone()
          .json()
          .catch(() => null),
      );
      if (index && cache)
        await cache
          .put(
            url,
            new Response(JSON.stringify(index), {
              headers: { 'content-type': 'application/json', 'x-var-kind': 'index', 'x-var-label': 'model index', 'x-var-bytes': '0' },
            }),
          )
          .catch(() => undefined);
    }
  } catch {
    // Offline: the index kept from the last visit says what was bundled (and its cache keys).
    const kept = cache ? await cache.match(url).catch(() => undefined) : undefined;
    index = kept ? parse(await kept.json().catch(() => null)) : null;
  }
  const models: ModelEntry[] = [];
  for (const e of REGISTRY) {
    const entry: ModelEntry = { id: e.id, name: e.name, description: e.description, bundled: false };
    const inIndex = index?.models.find((m) => m.id === e.id);
    if (index) {
      if (inIndex) Object.assign(entry, { bundled: true, bytes: inIndex.files.reduce((s, f) => s + f.bytes, 0) });
    } else {
      // No index: a HEAD request for the (small) card; weights are checked when loading.
      const card = new URL(`${e.id}/model-card.json`, root).href;
      const ok = await fetch(card, { method: 'HEAD', cache: 'no-store' }).then(
        (r) => r.ok,
        () => false,
      );
      const cached = !ok && cache ? (await cache.match(card).catch(() => undefined)) !== undefined : false;
      entry.bundled = ok || cached;
    }
    models.push(entry);
  }
  return { models, index };
}
