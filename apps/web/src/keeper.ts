/// <reference lib="webworker" />
/**
 * The keeper worker: copies an opened model into the browser's storage (OPFS) beside the
 * generation worker, whose event loop a generation holds (a copy there would wait for it).
 * One copy at a time; `abort` stops the current one (nothing half-written stays).
 */
import { keepOpened, listOpened } from './opened-store';
import type { FromKeeper, ToKeeper } from './protocol';

const post = (m: FromKeeper): void => (self as unknown as DedicatedWorkerGlobalScope).postMessage(m);
let current: AbortController | null = null;
let queue: Promise<void> = Promise.resolve();

self.onmessage = (ev: MessageEvent<ToKeeper>) => {
  const m = ev.data;
  if (m.type === 'abort') {
    current?.abort();
    return;
  }
  queue = queue.then(async () => {
    const abort = new AbortController();
    current = abort;
    let last = 0;
    const onProgress = (p: { loaded: number; total: number }) => {
      const now = performance.now();
      if (now - last < 250 && p.loaded < p.total) return;
      last = now;
      post({ type: 'keeping', progress: { label: m.label, ...p } });
    };
    const t0 = performance.now();
    // The list is read here too: the generation worker may be busy with a generation for minutes.
    const opened = async () => (await listOpened().catch(() => ({ entries: [] }))).entries;
    try {
      const kept = await keepOpened(m.vae, m.var, m.card, m.label, onProgress, abort.signal);
      const ms = performance.now() - t0;
      post({
        type: 'kept',
        label: m.label,
        ...(kept.key ? { key: kept.key } : {}),
        ...(kept.note && !abort.signal.aborted ? { note: kept.note } : {}),
        opened: await opened(),
        ms,
      });
    } catch (e) {
      post({
        type: 'kept',
        label: m.label,
        note: e instanceof Error ? e.message : String(e),
        opened: await opened(),
        ms: performance.now() - t0,
      });
    } finally {
      current = null;
    }
  });
};
