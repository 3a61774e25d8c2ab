/**
 * Makes the multithreaded build of @tensorflow/tfjs-backend-wasm start in Node.
 *
 * What breaks: tfjs-backend-wasm (4.x) hands Emscripten's pthread runtime two Blobs — the
 * worker script (`locateFile('…worker.js')` returns `URL.createObjectURL(blob)`) and the
 * main script (`mainScriptUrlOrBlob = new Blob(['var WasmBackendModuleThreadedSimd = ' +
 * factory.toString()])`). In Node, Emscripten uses `worker_threads.Worker`, which refuses a
 * `blob:` URL (ERR_WORKER_PATH), and the worker's `importScripts` reads files with
 * `fs.readFileSync`, which cannot read a Blob either. Also, the C++ side caps the thread
 * count at `emscripten_num_logical_cores() / 2`, which in Node is `os.cpus().length / 2`.
 *
 * The shim, active only while the backend initialises:
 *  - wraps `Blob` and `URL.createObjectURL` to remember the text of the Blobs created,
 *  - replaces `worker_threads.Worker` (which Emscripten copies to `global.Worker`) with a
 *    subclass that writes a remembered `blob:` script to a temp file (named by content hash,
 *    so it is written once) and starts the worker from that file, and that rewrites the
 *    `{cmd: 'load', urlOrBlob: Blob}` message to carry the temp file's path instead,
 *  - reports `2 × threads` CPUs from `os.cpus()` so the cap lets `threads` threads through.
 * Everything is restored afterwards, except `global.Worker`, which Emscripten itself set and
 * still needs for workers it may start later (it remains a plain `Worker` for other paths).
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
    override postMessage(value: any, transferList?: readonly any[]): void {
      if (value && value.cmd === 'load' && value.urlOrBlob && typeof value.urlOrBlob !== 'string') {
        const text = blobTexts.get(value.urlOrBlob);
        if (text === undefined) throw new Error('var.ts wasm thread shim: main script Blob was not recorded');
        value = { ...value, urlOrBlob: fileFor(text, '.js') };
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

/** Whether this JS engine can run threaded wasm (SharedArrayBuffer + wasm atomics). */
export async function nodeSupportsWasmThreads(): Promise<boolean> {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  try {
    await importDynamic('node:worker_threads');
  } catch {
    return false;
  }
  // A wasm module with a shared memory (threads proposal).
  return WebAssembly.validate(
    new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 4, 1, 3, 1, 1]),
  );
}
