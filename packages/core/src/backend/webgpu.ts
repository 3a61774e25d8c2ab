import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError } from '../errors.js';
import { errorMessage, importDynamic, isNode } from './env.js';
import type { BackendInfo, InitBackendOptions, WebGPUAdapterSummary } from './types.js';
import { VULKAN_LOADER, checkVulkanLoader } from './vulkan.js';

/** How to get a WebGPU adapter here, said in one sentence (used in errors and skips). */
export const WEBGPU_NODE_HELP =
  'In Node, WebGPU comes from the `webgpu` npm package (Dawn): `npm install webgpu`. On Linux Dawn needs a ' +
  'Vulkan loader and driver: `apt-get install libvulkan1 mesa-vulkan-drivers` (Mesa >= 23 for the CPU driver ' +
  'lavapipe; on Debian 12 take mesa-vulkan-drivers from bookworm-backports) or a GPU vendor driver.';

let gpuPromise: Promise<{ gpu: any; source: string }> | undefined;

/**
 * The `GPU` object (`navigator.gpu`). In Node it is created once from the `webgpu` package
 * and installed as `navigator.gpu` together with the WebGPU globals (GPUBufferUsage, …) that
 * @tensorflow/tfjs-backend-webgpu expects.
 */
export function getGpu(): Promise<{ gpu: any; source: string }> {
  gpuPromise ??= (async () => {
    const nav = (globalThis as any).navigator;
    if (nav?.gpu) return { gpu: nav.gpu, source: 'navigator.gpu' };
    if (!isNode()) {
      throw new BackendUnavailableError('webgpu', 'This browser has no WebGPU (navigator.gpu is undefined).');
    }
    // Without a Vulkan loader Dawn prints a warning and a native stack line to stdout: do not start it.
    const vk = await checkVulkanLoader();
    if (!vk.found) {
      throw new BackendUnavailableError(
        'webgpu',
        `Dawn needs the Vulkan loader ${VULKAN_LOADER}, which is not installed here (searched ${vk.where}). ${WEBGPU_NODE_HELP}`,
      );
    }
    let mod: any;
    try {
      mod = await importDynamic('webgpu');
    } catch (e) {
      throw new BackendUnavailableError('webgpu', `The \`webgpu\` package could not be loaded (${errorMessage(e)}). ${WEBGPU_NODE_HELP}`, {
        cause: e,
      });
    }
    for (const [k, v] of Object.entries(mod.globals as Record<string, unknown>)) {
      if (!(k in globalThis)) (globalThis as any)[k] = v;
    }
    const gpu = mod.create([]);
    if (typeof (globalThis as any).navigator === 'undefined') {
      (globalThis as any).navigator = { gpu };
    } else {
      Object.defineProperty((globalThis as any).navigator, 'gpu', { value: gpu, configurable: true, writable: true });
    }
    return { gpu, source: 'the `webgpu` package (Dawn)' };
  })();
  gpuPromise.catch(() => {
    gpuPromise = undefined;
  });
  return gpuPromise;
}

/** Summarise `GPUAdapter.info`, flagging software (CPU) adapters. */
export function summarizeAdapter(adapter: any): WebGPUAdapterSummary {
  const info = adapter?.info ?? {};
  const vendor = String(info.vendor ?? '');
  const architecture = String(info.architecture ?? '');
  const device = String(info.device ?? '');
  const description = String(info.description ?? '');
  const text = `${vendor} ${architecture} ${device} ${description}`;
  const isSoftware =
    info.isFallbackAdapter === true ||
    adapter?.isFallbackAdapter === true ||
    architecture === 'software' ||
    /llvmpipe|lavapipe|swiftshader|softpipe|\bwarp\b|basic render|software/i.test(text);
  return { vendor, architecture, device, description, isSoftware };
}

export interface AdapterProbe {
  adapter: any | null;
  summary?: WebGPUAdapterSummary;
  reason: string;
}

/** Ask for an adapter. Never throws: a missing adapter is reported in `reason`. */
export async function probeWebGPU(powerPreference: 'low-power' | 'high-performance' = 'high-performance'): Promise<AdapterProbe> {
  let gpu: any;
  let source: string;
  try {
    ({ gpu, source } = await getGpu());
  } catch (e) {
    return { adapter: null, reason: errorMessage(e) };
  }
  let adapter: any = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference });
  } catch (e) {
    return { adapter: null, reason: `requestAdapter failed (${errorMessage(e)}). ${isNode() ? WEBGPU_NODE_HELP : ''}`.trim() };
  }
  if (!adapter) {
    return { adapter: null, reason: `no WebGPU adapter from ${source}. ${isNode() ? WEBGPU_NODE_HELP : ''}`.trim() };
  }
  const summary = summarizeAdapter(adapter);
  const what = summary.description || `${summary.vendor} ${summary.architecture} ${summary.device}`.trim();
  return {
    adapter,
    summary,
    reason: `${summary.isSoftware ? 'software (CPU) ' : ''}adapter "${what}" from ${source}`,
  };
}

type WebGPUModule = typeof import('@tensorflow/tfjs-backend-webgpu');

async function loadWebgpuBackendModule(): Promise<WebGPUModule> {
  try {
    return await import('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    throw new BackendUnavailableError(
      'webgpu',
      `The webgpu backend needs @tensorflow/tfjs-backend-webgpu (${errorMessage(e)}). Install it: ` +
        '`npm install @tensorflow/tfjs-backend-webgpu@^4.22.0`.',
      { cause: e },
    );
  }
}

async function createDevice(adapter: any): Promise<any> {
  // The same device request as @tensorflow/tfjs-backend-webgpu's own factory.
  const requiredFeatures: string[] = [];
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  if (adapter.features.has('bgra8unorm-storage')) requiredFeatures.push('bgra8unorm-storage');
  const l = adapter.limits;
  return adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  });
}

let activeAdapter: WebGPUAdapterSummary | undefined;

/** Initialise and activate the webgpu backend on the adapter `probeWebGPU` finds. */
export async function initWebgpu(options: InitBackendOptions, allowSoftwareDefault: boolean): Promise<BackendInfo> {
  const registry = tf.engine().registry as Record<string, any>;
  if (registry.webgpu !== undefined && activeAdapter) {
    await tf.setBackend('webgpu');
    return {
      name: 'webgpu',
      requested: 'webgpu',
      adapterInfo: activeAdapter,
      reason: 'webgpu backend already initialised in this process',
    };
  }
  const probe = await probeWebGPU(options.powerPreference);
  if (!probe.adapter || !probe.summary) throw new BackendUnavailableError('webgpu', probe.reason);
  const allowSoftware = options.allowSoftwareAdapter ?? allowSoftwareDefault;
  if (probe.summary.isSoftware && !allowSoftware) {
    throw new BackendUnavailableError(
      'webgpu',
      `only a ${probe.reason}; a CPU adapter is slower than wasm (pass allowSoftwareAdapter: true to use it anyway)`,
    );
  }
  // The package registers its own factory at import only when navigator.gpu already exists;
  // ours reuses the adapter probed above (so the reported adapter is the one that runs).
  const { WebGPUBackend } = await loadWebgpuBackendModule();
  if (registry.webgpu !== undefined) {
    // Initialised by someone else (e.g. tf.setBackend('webgpu') after importing the package).
    await tf.setBackend('webgpu');
    activeAdapter = probe.summary;
    return {
      name: 'webgpu',
      requested: 'webgpu',
      adapterInfo: probe.summary,
      reason: `webgpu backend was already initialised in this process; ${probe.reason}`,
    };
  }
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  const adapter = probe.adapter;
  tf.registerBackend('webgpu', async () => new WebGPUBackend(await createDevice(adapter), adapter.info), 3);
  let ok = false;
  try {
    ok = await tf.setBackend('webgpu');
  } catch (e) {
    throw new BackendUnavailableError('webgpu', `initialising the webgpu backend failed: ${errorMessage(e)}`, { cause: e });
  }
  if (!ok) throw new BackendUnavailableError('webgpu', 'initialising the webgpu backend failed (TensorFlow.js logged the cause above)');
  activeAdapter = probe.summary;
  return { name: 'webgpu', requested: 'webgpu', adapterInfo: probe.summary, reason: `webgpu on ${probe.reason}` };
}
