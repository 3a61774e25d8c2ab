/**
 * wasm threads in the page. tfjs-backend-wasm's threaded build sizes XNNPACK's pool from
 * `navigator.hardwareConcurrency` (half the logical cores, at least 1), so on a 2-core machine
 * it runs one thread whatever `setThreadsCount` asked. While the backend initialises, the
 * worker reports twice the threads asked for, so the pool gets them — what @var/core does
 * for Node with `os.cpus()`. Only this worker's `navigator` is touched, and only for the call.
 */

/** Run `init` while `navigator.hardwareConcurrency` reads `2 × threads` in this worker. */
export async function withThreadsReported<T>(threads: number, init: () => Promise<T>): Promise<T> {
  const nav = self.navigator as Navigator & { hardwareConcurrency: number };
  const own = Object.getOwnPropertyDescriptor(nav, 'hardwareConcurrency');
  let patched = false;
  if (threads > 1) {
    try {
      Object.defineProperty(nav, 'hardwareConcurrency', { configurable: true, get: () => 2 * threads });
      patched = nav.hardwareConcurrency === 2 * threads;
    } catch {
      patched = false; // a browser that refuses: tfjs picks its own count, which the badge shows
    }
  }
  try {
    return await init();
  } finally {
    if (patched) {
      if (own) Object.defineProperty(nav, 'hardwareConcurrency', own);
      else delete (nav as { hardwareConcurrency?: number }).hardwareConcurrency;
    }
  }
}

/** Threads to ask for: `?threads=` when given (1…8), else the cores the browser reports. */
export function threadsWanted(param: string | null, cores: number): { threads: number; error?: string } {
  if (param === null || param === '') return { threads: Math.max(1, Math.min(8, cores || 1)) };
  const n = Number(param);
  if (!Number.isInteger(n) || n < 1 || n > 8) {
    return {
      threads: Math.max(1, Math.min(8, cores || 1)),
      error: `?threads=${param} is not a thread count: expected an integer from 1 to 8; using ${Math.max(1, Math.min(8, cores || 1))}`,
    };
  }
  return { threads: n };
}
