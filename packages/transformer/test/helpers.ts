import * as tf from '@tensorflow/tfjs-core';
import * as core from '@var/core';
import { loadStateDict } from '@var/checkpoint';
import { loadFixtureCase, type FixtureCase } from '@var/test-helpers';
import { fromOfficialConfig, VAR, type VARConfig } from '../src/index.js';

/**
 * Switch to a backend: through @var/core's initBackend when it exists, else by importing the
 * tfjs backend package. Resolves false when the backend is unavailable here (webgpu without an adapter).
 */
export async function useBackend(name: 'cpu' | 'wasm' | 'webgpu'): Promise<boolean> {
  const init = (core as any).initBackend as undefined | ((n: string, o?: unknown) => Promise<unknown>);
  if (typeof init === 'function') {
    try {
      await init(name, { threads: 1 });
      await core.ensureGradients();
      return tf.getBackend() === name;
    } catch (e) {
      if (e instanceof core.BackendUnavailableError) return false;
      throw e;
    }
  }
  if (name === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
  else if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  else return false;
  await tf.setBackend(name);
  await tf.ready();
  return true;
}

export function fixtureConfig(fc: FixtureCase = loadFixtureCase()): VARConfig {
  return fromOfficialConfig(fc.config.VAR, { vocab_size: fc.config.derived.V, Cvae: fc.config.derived.Cvae });
}

/** The fixture's VAR with its official weights (var.safetensors read by @var/checkpoint). */
export async function fixtureModel(fc: FixtureCase = loadFixtureCase()): Promise<VAR> {
  return VAR.fromStateDict(fixtureConfig(fc), await loadStateDict(fc.path('var.safetensors')));
}

export function labelsOf(fc: FixtureCase): Int32Array {
  return Int32Array.from(fc.ref('label').data as Int32Array);
}

export function varInput(fc: FixtureCase): tf.Tensor3D {
  const t = fc.ref('var_input');
  return tf.tensor3d(t.data as Float32Array, t.shape as [number, number, number]);
}
