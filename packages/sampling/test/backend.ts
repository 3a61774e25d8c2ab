/**
 * Test helper: make a TensorFlow.js backend current in Node. Uses `initBackend` from @var/core
 * when it exists; otherwise cpu / wasm come from their packages and WebGPU from the `webgpu`
 * npm package (Dawn), installed as navigator.gpu before @tensorflow/tfjs-backend-webgpu loads.
 * Returns null when ready, or the reason the backend cannot run here.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as core from '@var/core';

async function installWebGPU(): Promise<string | null> {
  try {
    const g = globalThis as any;
    if (!g.navigator?.gpu) {
      const { create, globals } = await import('webgpu');
      Object.assign(g, globals);
      const gpu = create([]);
      if (!g.navigator) g.navigator = {};
      Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    }
    const adapter = await g.navigator.gpu.requestAdapter();
    if (!adapter) return 'navigator.gpu.requestAdapter() returned null (no WebGPU adapter here)';
    return null;
  } catch (e) {
    return `the webgpu package could not start: ${(e as Error).message}`;
  }
}

export async function useBackend(name: 'cpu' | 'wasm' | 'webgpu'): Promise<string | null> {
  const init = (core as Record<string, unknown>).initBackend as undefined | ((n: string, o?: unknown) => Promise<unknown>);
  if (typeof init === 'function') {
    try {
      // single-threaded wasm: the test machines are small and shared; threads are core's concern
      const info = (await init(name, name === 'wasm' ? { threads: 1 } : {})) as {
        adapterInfo?: { description?: string; device?: string; isSoftware?: boolean };
      };
      if (info?.adapterInfo)
        console.log(
          `webgpu adapter: ${info.adapterInfo.description || info.adapterInfo.device} (software: ${info.adapterInfo.isSoftware})`,
        );
      return tf.getBackend() === name ? null : `initBackend('${name}') left backend ${tf.getBackend()}`;
    } catch (e) {
      if (e instanceof core.BackendUnavailableError) return e.message;
      throw e;
    }
  }
  if (name === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
  else if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  else {
    const why = await installWebGPU();
    if (why) return why;
    await import('@tensorflow/tfjs-backend-webgpu');
  }
  const ok = await tf.setBackend(name);
  await tf.ready();
  return ok ? null : `tf.setBackend('${name}') failed`;
}
