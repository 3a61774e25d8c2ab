import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError } from '../errors.js';
import { canResolve, errorMessage, importDynamic, isNode } from './env.js';
import type { BackendInfo } from './types.js';

/** The npm package behind each TensorFlow (libtensorflow) backend. */
export const TFNODE_PACKAGES = {
  tensorflow: '@tensorflow/tfjs-node',
  cuda: '@tensorflow/tfjs-node-gpu',
} as const;

function installHelp(name: 'tensorflow' | 'cuda'): string {
  const pkg = TFNODE_PACKAGES[name];
  return `Install it with \`npm install ${pkg}@^4.22.0\` (its install step downloads libtensorflow${
    name === 'cuda' ? ' built for CUDA; ' + 'the machine also needs an NVIDIA driver, CUDA 11.2 and cuDNN 8.1' : ''
  }), then call initBackend('${name}') again.`;
}

/** Whether the package for `name` is installed (resolvable), without loading it. */
export async function tfnodeInstalled(name: 'tensorflow' | 'cuda'): Promise<boolean> {
  return canResolve(TFNODE_PACKAGES[name]);
}

/**
 * Load @tensorflow/tfjs-node (`tensorflow`) or @tensorflow/tfjs-node-gpu (`cuda`) — optional
 * peers, imported through a variable specifier so bundlers leave them out — and activate the
 * 'tensorflow' backend they register. `cuda` also requires TensorFlow to see a GPU.
 */
export async function initTfnode(name: 'tensorflow' | 'cuda'): Promise<BackendInfo> {
  const pkg = TFNODE_PACKAGES[name];
  if (!isNode()) throw new BackendUnavailableError(name, `${pkg} runs only in Node.js.`);
  if (!(await tfnodeInstalled(name))) {
    throw new BackendUnavailableError(name, `${pkg} is not installed. ${installHelp(name)}`);
  }
  try {
    await importDynamic(pkg);
  } catch (e) {
    throw new BackendUnavailableError(name, `${pkg} is installed but failed to load: ${errorMessage(e)}. ${installHelp(name)}`, {
      cause: e,
    });
  }
  if (tf.findBackendFactory('tensorflow') == null) {
    throw new BackendUnavailableError(
      name,
      `${pkg} loaded but registered no 'tensorflow' backend with this copy of @tensorflow/tfjs-core ` +
        '(versions differ? install matching 4.22.x versions so one tfjs-core is shared).',
    );
  }
  let ok = false;
  try {
    ok = await tf.setBackend('tensorflow');
  } catch (e) {
    throw new BackendUnavailableError(name, `initialising ${pkg} failed: ${errorMessage(e)}`, { cause: e });
  }
  if (!ok) throw new BackendUnavailableError(name, `initialising ${pkg} failed (TensorFlow.js logged the cause above)`);
  const gpu = Boolean((tf.backend() as any).isUsingGpuDevice);
  if (name === 'cuda' && !gpu) {
    throw new BackendUnavailableError(
      'cuda',
      `${pkg} loaded but TensorFlow found no CUDA GPU (needs an NVIDIA driver, CUDA 11.2 and cuDNN 8.1 on the library path); ` +
        "the 'tensorflow' backend is active on the CPU instead.",
    );
  }
  return {
    name,
    requested: name,
    gpu,
    reason: `${pkg} (libtensorflow${gpu ? ' on a CUDA GPU' : ' on the CPU'})`,
  };
}
