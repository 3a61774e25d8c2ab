import { createRequire } from 'node:module';
import { writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
const require = createRequire(import.meta.url);
const wt = require('node:worker_threads');
const wasmMain = require.resolve('@tensorflow/tfjs-backend-wasm');
const wasmOut = join(dirname(wasmMain), '..', 'wasm-out');
const { wasmWorkerContents } = require(join(wasmOut, 'tfjs-backend-wasm-threaded-simd.worker.js'));
const dir = join(tmpdir(), 'varts-wasm'); mkdirSync(dir, {recursive:true});
const workerFile = join(dir, 'worker.cjs'); writeFileSync(workerFile, wasmWorkerContents.replace(/\n/g, "\\n"));
const mainFile = join(dir, 'main.cjs'); writeFileSync(mainFile, `var WasmBackendModuleThreadedSimd = require(${JSON.stringify(join(wasmOut,'tfjs-backend-wasm-threaded-simd.js'))});`);
const Orig = wt.Worker;
class NodeWorker extends Orig {
  constructor(f, o) { if (typeof f === 'string' && f.startsWith('blob:')) f = workerFile; super(f, o); }
  postMessage(m, t) { if (m && m.cmd === 'load' && typeof m.urlOrBlob !== 'string') m = { ...m, urlOrBlob: mainFile }; return super.postMessage(m, t); }
}
wt.Worker = NodeWorker;
const os = require('node:os'); const origCpus = os.cpus; os.cpus = () => new Array(2*Number(process.argv[2]??2)).fill(origCpus()[0]);
const tf = await import('@tensorflow/tfjs-core');
const wasm = await import('@tensorflow/tfjs-backend-wasm');
const n = Number(process.argv[2] ?? 2);
wasm.setThreadsCount(n);
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
console.log(await tf.setBackend('wasm'), wasm.getThreadsCount(), await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'), await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
wt.Worker = Orig; os.cpus = origCpus;
const N = 1024; const a = tf.randomNormal([N,N]); const b = tf.randomNormal([N,N]);
let x = tf.matMul(a,b); await x.data(); x.dispose();
const t0=performance.now(); const it=5; for (let i=0;i<it;i++){ const x=tf.matMul(a,b); await x.data(); x.dispose(); } const s=(performance.now()-t0)/it/1000;
console.log('GFLOP/s', 2*N**3/s/1e9);
