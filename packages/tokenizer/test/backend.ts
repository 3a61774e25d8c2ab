/** Backend selection for the tokenizer tests (uses @var/core's initBackend when it exists). */
import * as tf from '@tensorflow/tfjs-core';
import * as core from '@var/core';

/** Make `name` the active backend; false when it cannot run here (e.g. no WebGPU adapter). */
export async function setBackend(name: 'cpu' | 'wasm' | 'webgpu'): Promise<boolean> {
  await core.ensureGradients(); // training tests take tfjs-core's gradients
  const init = (core as Record<string, unknown>).initBackend as undefined | ((n: string, o?: unknown) => Promise<unknown>);
  if (init) {
    try {
      // single-threaded wasm unless VAR_WASM_THREADS asks for more (tests share 2 cores)
      await init(name, name === 'wasm' && !process.env.VAR_WASM_THREADS ? { threads: 1 } : {});
      return tf.getBackend() === name;
    } catch (err) {
      if (err instanceof core.BackendUnavailableError) return false;
      throw err;
    }
  }
  if (name === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
  else if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  else return false;
  return tf.setBackend(name);
}
