import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError } from '../../src/errors.js';
import { getBackendName, initBackend, weightTensor } from '../../src/backend/index.js';
import { probeWebGPU, summarizeAdapter } from '../../src/backend/webgpu.js';

const probe = await probeWebGPU();
if (!probe.adapter) console.warn(`[skip] WebGPU tests: no adapter can be obtained here — ${probe.reason}`);

describe('summarizeAdapter', () => {
  it('flags software adapters', () => {
    const mk = (info: Record<string, unknown>) => summarizeAdapter({ info });
    expect(mk({ vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'llvmpipe' }).isSoftware).toBe(true);
    expect(mk({ vendor: 'google', architecture: '', device: '', description: 'SwiftShader Device (Subzero)' }).isSoftware).toBe(true);
    expect(
      mk({ vendor: 'nvidia', architecture: 'ampere', device: '', description: 'NVIDIA A100', isFallbackAdapter: false }).isSoftware,
    ).toBe(false);
    expect(mk({ vendor: 'x', architecture: 'y', description: 'z', isFallbackAdapter: true }).isSoftware).toBe(true);
  });
});

describe.skipIf(!probe.adapter)('webgpu backend', () => {
  beforeAll(async () => {
    await import('@tensorflow/tfjs-backend-cpu');
  });

  it('refuses a software adapter when told to', async () => {
    if (!probe.summary!.isSoftware) return;
    const err = await initBackend('webgpu', { allowSoftwareAdapter: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toMatch(/software \(CPU\) adapter/);
  });

  it('initialises on the probed adapter, reports it, and matches cpu on matMul and conv2d', async () => {
    const info = await initBackend('webgpu');
    expect(info.name).toBe('webgpu');
    expect(getBackendName()).toBe('webgpu');
    expect(info.adapterInfo).toEqual(probe.summary);
    console.info(`[webgpu] ${info.reason}`);
    const a = Float32Array.from({ length: 64 * 48 }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: 48 * 32 }, (_, i) => Math.cos(i * 0.7));
    const x = Float32Array.from({ length: 2 * 8 * 8 * 3 }, (_, i) => Math.sin(i * 0.3));
    const w = Float32Array.from({ length: 3 * 3 * 3 * 4 }, (_, i) => Math.cos(i * 0.2));
    const compute = async () => {
      const before = tf.memory().numTensors;
      const out = tf.tidy(() => [
        tf.matMul(tf.tensor2d(a, [64, 48]), tf.tensor2d(b, [48, 32])),
        tf.conv2d(tf.tensor4d(x, [2, 8, 8, 3]), tf.tensor4d(w, [3, 3, 3, 4]), 1, 'same'),
      ]);
      const data = await Promise.all(out.map((t) => t.data()));
      tf.dispose(out);
      expect(tf.memory().numTensors).toBe(before);
      return data.map((d) => Float32Array.from(d));
    };
    const gpu = await compute();
    await tf.setBackend('cpu');
    const cpu = await compute();
    for (let k = 0; k < 2; k++) {
      let err = 0;
      for (let i = 0; i < cpu[k].length; i++) err = Math.max(err, Math.abs(cpu[k][i] - gpu[k][i]));
      expect(err).toBeLessThan(1e-4);
    }
    await tf.setBackend('webgpu');
  });

  it('weightTensor puts the rearranged weight in its GPU buffer at once (no host copy kept)', async () => {
    await initBackend('webgpu');
    const before = tf.memory().numTensors;
    const data = Float32Array.from({ length: 6 * 5 * 3 * 3 }, (_, i) => Math.sin(i * 0.37));
    const t = weightTensor(data, [6, 5, 3, 3], 'oihw-to-hwio');
    const held = (tf.backend() as unknown as { tensorMap: { get(id: object): { values: unknown; resource: unknown } } }).tensorMap.get(
      t.dataId,
    );
    expect(held.resource).not.toBeNull(); // uploaded
    expect(held.values).toBeNull(); // the host array was let go
    const ref = tf.tidy(() => tf.transpose(tf.tensor4d(data, [6, 5, 3, 3]), [2, 3, 1, 0]));
    expect(Array.from(await t.data())).toEqual(Array.from(await ref.data()));
    tf.dispose([t, ref]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
