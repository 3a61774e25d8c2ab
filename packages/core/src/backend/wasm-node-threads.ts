/**
 * Makes the multithreaded build of @tensorflow/tfjs-backend-wasm start in Node.
 *
 * What breaks (tfjs 4.22 disables threads in Node for this reason, tfjs issue #3830):
 *  1. The worker script is handed to Emscripten as a `blob:` URL (`locateFile('…worker.js')`
 *     returns `URL.createObjectURL(new Blob([wasmWorkerContents]))`); Node's
 *     `worker_threads.Worker` refuses it (ERR_WORKER_PATH).
 *  2. The main script reaches each worker in `{cmd: 'load', urlOrBlob}` as a Blob of
 *     `factory.toString()`. The worker loads it with `importScripts` = `fs.readFileSync` +
 *     eval, which cannot read a Blob; and in the Node bundle that function text is not
 *     self-contained anyway (it refers to `require$$0`… hoisted by rollup outside it).
 *  3. The C++ side caps the pool at `emscripten_num_logical_cores() / 2`, which in Node is
 *     `os.cpus().length / 2` (1 on a 2-core machine).
 *
 * The shim, active only while the backend initialises:
 *  - wraps `Blob` and `URL.createObjectURL` to remember the text behind each blob URL;
 *  - replaces `worker_threads.Worker` (which Emscripten copies to `global.Worker`) by a
 *    subclass that starts a `blob:` script from a temp file holding the same text (named by
 *    content hash, written once, `.cjs` because it uses require/__filename), and that
 *    rewrites `{cmd: 'load', urlOrBlob: Blob}` to the path of the package's own
 *    self-contained Emscripten glue, `wasm-out/tfjs-backend-wasm-threaded-simd.js` (found
 *    next to the loaded `dist/tf-backend-wasm.node.js`), which defines
 *    `WasmBackendModuleThreadedSimd` when evaluated;
 *  - makes `ref()` a no-op on those workers: Emscripten refs a worker while a pthread runs
 *    on it, and XNNPACK's pool threads never end, so Node would never exit;
 *  - reports `2 × threads` CPUs from `os.cpus()` so the cap lets `threads` threads through.
 * Everything is restored afterwards, except `global.Worker`, which Emscripten itself set and
 * may use for workers it starts later (the subclass behaves as `Worker` for other paths).
 */
import { errorMessage, importDynamic, nodeRequire } from './env.js';

const blobTexts = new WeakMap<object, string>();
const urlTexts = new Map<string, string>();

function textOfParts(parts: unknown): string | undefined {
  if (!Array.isArray(parts)) return undefined;
  let s = '';
  for (const p of parts) {
    if (typeof p !== 'string') return undefined;
    s += p;
  }
  return s;
}

/** Run `init` with the Node pthread shim in place. Node only. */
export async function withNodeWasmThreads<T>(threads: number, init: () => Promise<T>): Promise<T> {
  const req = await nodeRequire();
  const wt = req('node:worker_threads') as typeof import('node:worker_threads');
  const os = req('node:os') as typeof import('node:os');
  const fs = req('node:fs') as typeof import('node:fs');
  const path = req('node:path') as typeof import('node:path');
  const crypto = req('node:crypto') as typeof import('node:crypto');

  const dir = path.join(os.tmpdir(), 'var-ts-tfjs-wasm');
  const fileFor = (text: string, ext: string): string => {
    const hash = crypto.createHash('sha256').update(text).digest('hex').slice(0, 24);
    const file = path.join(dir, `${hash}${ext}`);
    if (!fs.existsSync(file)) {
      fs.mkdirSync(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, text);
      fs.renameSync(tmp, file); // atomic: concurrent processes never see a half-written file
    }
    return file;
  };

  const glue = locateThreadedGlue(req, path, fs);

  const OrigWorker = wt.Worker;
  const OrigBlob = globalThis.Blob;
  const origCreateObjectURL = URL.createObjectURL;
  const origCpus = os.cpus;

  class CapturingBlob extends OrigBlob {
    constructor(parts?: any, options?: any) {
      super(parts, options);
      const text = textOfParts(parts);
      if (text !== undefined) blobTexts.set(this, text);
    }
  }
  class NodeWasmWorker extends OrigWorker {
    constructor(filename: string | URL, options?: import('node:worker_threads').WorkerOptions) {
      if (typeof filename === 'string' && filename.startsWith('blob:')) {
        const text = urlTexts.get(filename);
        if (text === undefined) {
          throw new Error(`var.ts wasm thread shim: no script recorded for ${filename}`);
        }
        // The worker script uses require/__filename: it must load as CommonJS.
        filename = fileFor(text, '.cjs');
      }
      super(filename, options);
    }
    // Emscripten calls ref() while a pthread runs on the worker, and XNNPACK's pool threads
    // run forever, so the process would never exit. The main thread drives all work
    // synchronously (workers are only needed while it waits in Atomics.wait), so workers
    // never need to keep the event loop alive once loaded (they start ref'd; Emscripten
    // unrefs them on 'loaded').
    override ref(): void {}
    override postMessage(value: any, transferList?: readonly any[]): void {
      if (value && value.cmd === 'load' && value.urlOrBlob && typeof value.urlOrBlob !== 'string') {
        value = { ...value, urlOrBlob: glue };
      }
      super.postMessage(value, transferList as any);
    }
  }

  (globalThis as any).Blob = CapturingBlob;
  URL.createObjectURL = (obj: any): string => {
    const url = origCreateObjectURL.call(URL, obj);
    const text = blobTexts.get(obj);
    if (text !== undefined) urlTexts.set(url, text);
    return url;
  };
  (wt as any).Worker = NodeWasmWorker;
  const fakeCpus = Array.from({ length: 2 * threads }, (_, i) => origCpus.call(os)[i % Math.max(1, origCpus.call(os).length)]);
  (os as any).cpus = () => fakeCpus;
  try {
    return await init();
  } catch (e) {
    throw new Error(`wasm threaded init failed in Node: ${errorMessage(e)}`, { cause: e });
  } finally {
    (globalThis as any).Blob = OrigBlob;
    URL.createObjectURL = origCreateObjectURL;
    (wt as any).Worker = OrigWorker;
    (os as any).cpus = origCpus;
  }
}

/** The threaded Emscripten glue of the tfjs-backend-wasm copy that is loaded. */
function locateThreadedGlue(req: NodeJS.Require, path: typeof import('node:path'), fs: typeof import('node:fs')): string {
  const tail = path.join('tfjs-backend-wasm', 'dist', 'tf-backend-wasm.node.js');
  const candidates = Object.keys(req.cache ?? {}).filter((k) => k.endsWith(tail));
  try {
    candidates.push(req.resolve('@tensorflow/tfjs-backend-wasm'));
  } catch {
    // not resolvable from here; rely on the loaded copy
  }
  for (const main of candidates) {
    const glue = path.join(path.dirname(main), '..', 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
    if (fs.existsSync(glue)) return glue;
  }
  throw new Error(
    'var.ts wasm thread shim: cannot find @tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js ' +
      '(is @tensorflow/tfjs-backend-wasm installed next to @var/core?)',
  );
}

/** Whether this JS engine can run threaded wasm (SharedArrayBuffer + wasm atomics). */
export async function nodeSupportsWasmThreads(): Promise<boolean> {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  try {
    await importDynamic('node:worker_threads');
  } catch {
    return false;
  }
  // A wasm module with a shared memory (threads proposal).
  return WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 4, 1, 3, 1, 1]));
}
