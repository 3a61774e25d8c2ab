import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError, ValueError } from '../errors.js';
import { canResolve, errorMessage, isNode } from './env.js';
import { initTfnode, tfnodeInstalled, TFNODE_PACKAGES } from './tfnode.js';
import {
  BACKEND_PREFERENCE,
  type BackendAvailability,
  type BackendInfo,
  type BackendName,
  type ConcreteBackendName,
  type InitBackendOptions,
} from './types.js';
import { initWasm } from './wasm.js';
import { registerMissingGradients } from './gradients.js';
import { initWebgpu, probeWebGPU } from './webgpu.js';

export * from './types.js';
export { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './wasm-kernels.js';
export {
  releaseWasmPackedWeights,
  setWasmWeightPacking,
  wasmPackedWeightBytes,
  wasmWeightPacking,
  type WasmWeightPacking,
} from './wasm-packing.js';
export { registerMissingGradients, MISSING_GRADIENTS } from './gradients.js';
export { probeWebGPU, summarizeAdapter, WEBGPU_NODE_HELP } from './webgpu.js';
export { checkVulkanLoader, VULKAN_LOADER, type VulkanLoaderCheck } from './vulkan.js';
export { MAX_WASM_THREADS } from './wasm.js';
export { oihwToHwioInto, transpose2DInto, weightLayoutShape, weightTensor, type WeightLayout } from './host-tensor.js';

const NAMES: readonly BackendName[] = ['auto', ...BACKEND_PREFERENCE];

let current: BackendInfo | undefined;

async function initCpu(): Promise<BackendInfo> {
  try {
    await import('@tensorflow/tfjs-backend-cpu');
  } catch (e) {
    throw new BackendUnavailableError(
      'cpu',
      `The cpu backend needs @tensorflow/tfjs-backend-cpu (${errorMessage(e)}). Install it: \`npm install @tensorflow/tfjs-backend-cpu@^4.22.0\`.`,
      { cause: e },
    );
  }
  if (!(await tf.setBackend('cpu'))) throw new BackendUnavailableError('cpu', 'initialising the cpu backend failed');
  return { name: 'cpu', requested: 'cpu', reason: 'plain JavaScript cpu backend (always available, slowest)' };
}

async function initConcrete(name: ConcreteBackendName, options: InitBackendOptions, viaAuto: boolean): Promise<BackendInfo> {
  switch (name) {
    case 'cpu':
      return initCpu();
    case 'wasm':
      return initWasm(options);
    case 'webgpu':
      return initWebgpu(options, !viaAuto);
    case 'tensorflow':
    case 'cuda':
      return initTfnode(name);
  }
}

/**
 * Initialise a TensorFlow.js backend and make it the active one.
 *
 * - `'auto'` tries, fastest first: `cuda` (@tensorflow/tfjs-node-gpu with a CUDA GPU),
 *   `webgpu` with a real (non-CPU) adapter, `tensorflow` (@tensorflow/tfjs-node), `wasm`
 *   (multithreaded where possible), `cpu`; it returns the first that initialises, with the
 *   reasons the faster ones were passed over in `reason` and `tried`.
 * - `'webgpu'`: `navigator.gpu` in browsers; in Node the `webgpu` package (Dawn). A software
 *   adapter (lavapipe, SwiftShader) is accepted when asked for by name.
 * - `'wasm'`: threads = `options.threads` (default: cores). In Node the threaded build is
 *   made to work by a worker shim; kernels missing for training are registered
 *   ({@link registerWasmTrainingKernels}).
 * - `'tensorflow'` / `'cuda'`: optional peers loaded on demand.
 *
 * Throws {@link BackendUnavailableError} (saying how to make the backend available) when the
 * named backend cannot run here; the previously active backend then stays active.
 */
export async function initBackend(name: BackendName = 'auto', options: InitBackendOptions = {}): Promise<BackendInfo> {
  if (!NAMES.includes(name)) {
    throw new ValueError(`initBackend: unknown backend ${JSON.stringify(name)}; expected one of ${NAMES.join(', ')}`);
  }
  const previous = tf.getBackend();
  const restore = async (): Promise<void> => {
    if (previous && tf.getBackend() !== previous && tf.engine().registry[previous] !== undefined) await tf.setBackend(previous);
  };
  let info: BackendInfo;
  if (name !== 'auto') {
    try {
      info = await initConcrete(name, options, false);
    } catch (e) {
      await restore();
      throw e;
    }
  } else {
    const tried: BackendAvailability[] = [];
    let chosen: BackendInfo | undefined;
    for (const candidate of BACKEND_PREFERENCE) {
      // Skip loading optional native packages that are not installed at all.
      if ((candidate === 'cuda' || candidate === 'tensorflow') && !(isNode() && (await tfnodeInstalled(candidate)))) {
        tried.push({ name: candidate, available: false, reason: `${TFNODE_PACKAGES[candidate]} is not installed` });
        continue;
      }
      try {
        chosen = await initConcrete(candidate, options, true);
        tried.push({
          name: candidate,
          available: true,
          reason: chosen.reason,
          ...(chosen.adapterInfo ? { adapterInfo: chosen.adapterInfo } : {}),
        });
        break;
      } catch (e) {
        await restore();
        tried.push({ name: candidate, available: false, reason: errorMessage(e) });
      }
    }
    if (!chosen) {
      throw new BackendUnavailableError(
        'auto',
        `No backend could be initialised:\n${tried.map((t) => `  ${t.name}: ${t.reason}`).join('\n')}`,
      );
    }
    const passed = tried.filter((t) => !t.available).map((t) => `${t.name}: ${t.reason}`);
    info = {
      ...chosen,
      requested: 'auto',
      tried,
      reason: `auto chose ${chosen.name} — ${chosen.reason}` + (passed.length ? `. Faster backends passed over: ${passed.join('; ')}` : ''),
    };
  }
  registerMissingGradients();
  current = info;
  if (options.verbose) console.info(`[var.ts] backend: ${info.name} (${info.reason})`);
  return info;
}

/**
 * The active backend in var.ts terms: 'cuda' when {@link initBackend} activated
 * @tensorflow/tfjs-node-gpu, otherwise `tf.getBackend()` ('cpu', 'wasm', 'webgpu',
 * 'tensorflow', or another registered name). `undefined` when no backend is set yet.
 */
export function getBackendName(): ConcreteBackendName | string | undefined {
  const n = tf.getBackend();
  if (!n) return undefined;
  if (n === 'tensorflow' && current?.name === 'cuda') return 'cuda';
  return n;
}

/** What {@link initBackend} last returned (undefined before the first call). */
export function getBackendInfo(): BackendInfo | undefined {
  return current && tf.getBackend() === (current.name === 'cuda' ? 'tensorflow' : current.name) ? current : undefined;
}

/**
 * Which backends can run here, with reasons, without changing the active backend. Checks
 * that packages are installed; for webgpu it asks for an adapter (and tells whether it is a
 * software one); for cuda it can only say the package is installed (whether TensorFlow sees
 * a GPU is known once `initBackend('cuda')` loads it).
 */
export async function availableBackends(): Promise<BackendAvailability[]> {
  const out: BackendAvailability[] = [];
  const node = isNode();
  for (const name of BACKEND_PREFERENCE) {
    switch (name) {
      case 'cuda':
      case 'tensorflow': {
        const pkg = TFNODE_PACKAGES[name];
        if (!node) out.push({ name, available: false, reason: `${pkg} runs only in Node.js` });
        else if (await tfnodeInstalled(name)) {
          out.push({
            name,
            available: true,
            reason: `${pkg} is installed${name === 'cuda' ? ' (a CUDA GPU is checked when initialised)' : ''}`,
          });
        } else out.push({ name, available: false, reason: `${pkg} is not installed (npm install ${pkg}@^4.22.0)` });
        break;
      }
      case 'webgpu': {
        const hasPkg = node ? await canResolve('@tensorflow/tfjs-backend-webgpu') : true;
        if (!hasPkg) {
          out.push({ name, available: false, reason: '@tensorflow/tfjs-backend-webgpu is not installed' });
          break;
        }
        const p = await probeWebGPU();
        out.push({ name, available: p.adapter != null, reason: p.reason, ...(p.summary ? { adapterInfo: p.summary } : {}) });
        break;
      }
      case 'wasm': {
        const ok =
          (node ? await canResolve('@tensorflow/tfjs-backend-wasm') : tf.findBackendFactory('wasm') != null) &&
          typeof WebAssembly === 'object';
        out.push({
          name,
          available: ok,
          reason: ok
            ? 'WebAssembly and @tensorflow/tfjs-backend-wasm are present'
            : '@tensorflow/tfjs-backend-wasm is not installed (or no WebAssembly)',
        });
        break;
      }
      case 'cpu': {
        const ok = node ? await canResolve('@tensorflow/tfjs-backend-cpu') : tf.findBackendFactory('cpu') != null;
        out.push({
          name,
          available: ok,
          reason: ok ? '@tensorflow/tfjs-backend-cpu is present' : '@tensorflow/tfjs-backend-cpu is not installed',
        });
        break;
      }
    }
  }
  return out;
}

/**
 * Dispose the active backend's memory (all its tensors become invalid) and remove it from
 * TensorFlow.js's registry, so a later {@link initBackend} starts it afresh. The wasm module
 * itself stays loaded (a process can instantiate it only once, so the thread count stays).
 */
export function disposeBackend(): void {
  const n = tf.getBackend();
  if (!n || tf.engine().registry[n] === undefined) return;
  const factory = tf.engine().registryFactory[n];
  tf.removeBackend(n);
  // Keep the factory so the backend can be initialised again.
  if (factory) tf.registerBackend(n, factory.factory, factory.priority);
  current = undefined;
}
export { ensureGradients, gradientsRegistered } from './ensure-gradients.js';
export * from './memory.js';
