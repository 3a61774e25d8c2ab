import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError, ConfigError } from '../errors.js';
import { availableCores, errorMessage, isNode } from './env.js';
import type { BackendInfo, InitBackendOptions } from './types.js';
import { nodeSupportsWasmThreads, withNodeWasmThreads } from './wasm-node-threads.js';
import { registerWasmTrainingKernels } from './wasm-kernels.js';

/** Emscripten pre-spawns 8 pthread workers in tfjs-backend-wasm's threaded build and the C++
 * side caps its pool at 8. */
export const MAX_WASM_THREADS = 8;

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');

let initialized: { threads: number; binary: NonNullable<BackendInfo['wasmBinary']>; note: string } | undefined;

export async function loadWasmModule(): Promise<WasmModule> {
  try {
    return await import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    throw new BackendUnavailableError(
      'wasm',
      `The wasm backend needs @tensorflow/tfjs-backend-wasm (${errorMessage(e)}). Install it: ` +
        '`npm install @tensorflow/tfjs-backend-wasm@^4.22.0`.',
      { cause: e },
    );
  }
}

/** Threads asked for: option, then `VAR_WASM_THREADS`, then the core count. */
export async function resolveWasmThreads(options: InitBackendOptions): Promise<{ threads: number; source: string }> {
  let threads: number | undefined = options.threads;
  let source = 'option `threads`';
  if (threads === undefined) {
    const env = isNode() ? (globalThis as any).process.env?.VAR_WASM_THREADS : undefined;
    if (env !== undefined && env !== '') {
      threads = Number(env);
      source = 'VAR_WASM_THREADS';
    }
  }
  if (threads === undefined) {
    threads = await availableCores();
    source = 'number of cores';
  }
  if (!Number.isInteger(threads) || threads < 1) {
    throw new ConfigError(`wasm threads (from ${source}) must be an integer >= 1, got ${String(threads)}`);
  }
  return { threads, source };
}

/** Initialise and activate the wasm backend. */
export async function initWasm(options: InitBackendOptions): Promise<BackendInfo> {
  const wasm = await loadWasmModule();
  const { threads: wanted, source } = await resolveWasmThreads(options);

  const already = (tf.engine().registry as Record<string, unknown>).wasm !== undefined;
  if (already) {
    const actual = wasm.getThreadsCount();
    if (options.threads !== undefined && Math.min(options.threads, MAX_WASM_THREADS) !== actual) {
      throw new ConfigError(
        `The wasm backend is already initialised in this process with ${actual} thread(s); ` +
          `threads=${options.threads} cannot be applied. TensorFlow.js initialises the wasm module once ` +
          'per process: pass `threads` on the first initBackend call (or run a separate process).',
      );
    }
    if (!(await tf.setBackend('wasm'))) {
      throw new BackendUnavailableError('wasm', 'tf.setBackend("wasm") failed for an already initialised wasm backend');
    }
    registerWasmTrainingKernels();
    const binary = initialized?.binary ?? (actual > 1 ? 'threaded-simd' : 'simd');
    return {
      name: 'wasm',
      requested: 'wasm',
      threads: actual,
      wasmBinary: binary,
      reason: `wasm backend already initialised in this process (${actual} thread(s), ${binary} build)`,
    };
  }

  if (tf.findBackendFactory('wasm') == null) {
    throw new BackendUnavailableError(
      'wasm',
      '@tensorflow/tfjs-backend-wasm is installed but did not register the "wasm" backend with this copy of @tensorflow/tfjs-core (two copies of tfjs-core installed?)',
    );
  }
  if (options.wasmPaths !== undefined) wasm.setWasmPaths(options.wasmPaths as any);

  let threads = wanted;
  let note = `${wanted} thread(s) from ${source}`;
  if (threads > MAX_WASM_THREADS) {
    note += `, capped at ${MAX_WASM_THREADS} (tfjs-backend-wasm's pthread pool size)`;
    threads = MAX_WASM_THREADS;
  }
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
  let binary: NonNullable<BackendInfo['wasmBinary']> = simd ? 'simd' : 'plain';

  const activate = async (): Promise<void> => {
    let ok: boolean;
    try {
      ok = await tf.setBackend('wasm');
    } catch (e) {
      throw new BackendUnavailableError('wasm', `initialising the wasm backend failed: ${errorMessage(e)}`, { cause: e });
    }
    if (!ok) throw new BackendUnavailableError('wasm', 'initialising the wasm backend failed (TensorFlow.js logged the cause above)');
  };

  if (threads > 1 && simd && isNode()) {
    if (await nodeSupportsWasmThreads()) {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
      wasm.setThreadsCount(threads);
      binary = 'threaded-simd';
      await withNodeWasmThreads(threads, activate);
    } else {
      note += '; this Node lacks SharedArrayBuffer/wasm threads, running single-threaded';
      threads = 1;
      wasm.setThreadsCount(1);
      await activate();
    }
  } else if (threads > 1 && !isNode()) {
    wasm.setThreadsCount(threads);
    if (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) binary = 'threaded-simd';
    else note += '; this page is not cross-origin isolated (no SharedArrayBuffer): single-threaded';
    await activate();
  } else {
    if (threads > 1 && !simd) note += '; no wasm SIMD here, so no threaded build: single-threaded';
    // One thread: keep the non-threaded SIMD build (no workers at all).
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasm.setThreadsCount(1);
    await activate();
  }
  registerWasmTrainingKernels();
  const actual = binary === 'threaded-simd' ? wasm.getThreadsCount() : 1;
  if (actual !== threads) note += `; XNNPACK reports ${actual} thread(s)`;
  initialized = { threads: actual, binary, note };
  return {
    name: 'wasm',
    requested: 'wasm',
    threads: actual,
    wasmBinary: binary,
    reason: `wasm (${binary} build, ${actual} thread(s)): ${note}`,
  };
}
