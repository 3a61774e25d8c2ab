import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError, ConfigError, ValueError } from '../../src/errors.js';
import { availableBackends, disposeBackend, getBackendInfo, getBackendName, initBackend } from '../../src/backend/index.js';

describe('initBackend / availableBackends', () => {
  afterAll(() => {
    tf.disposeVariables();
  });

  it('reports every backend with a reason', async () => {
    const all = await availableBackends();
    expect(all.map((b) => b.name)).toEqual(['cuda', 'webgpu', 'tensorflow', 'wasm', 'cpu']);
    for (const b of all) expect(b.reason.length).toBeGreaterThan(5);
    expect(all.find((b) => b.name === 'cpu')!.available).toBe(true);
    expect(all.find((b) => b.name === 'wasm')!.available).toBe(true);
    console.info('[availableBackends]', all.map((b) => `${b.name}: ${b.available} (${b.reason})`).join(' | '));
  });

  it('rejects unknown names with a ValueError listing the valid ones', async () => {
    await expect(initBackend('tpu' as any)).rejects.toThrow(ValueError);
    await expect(initBackend('tpu' as any)).rejects.toThrow(/auto, cuda, webgpu, tensorflow, wasm, cpu/);
  });

  it('cpu: activates and reports', async () => {
    const info = await initBackend('cpu');
    expect(info).toMatchObject({ name: 'cpu', requested: 'cpu' });
    expect(getBackendName()).toBe('cpu');
    expect(getBackendInfo()?.name).toBe('cpu');
    const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
    expect(Array.from(await y.data())).toEqual([11]);
    tf.dispose(y);
  });

  for (const name of ['tensorflow', 'cuda'] as const) {
    it(`${name}: BackendUnavailableError with install instructions when the package is missing; cpu stays active`, async () => {
      const installed = (await availableBackends()).find((b) => b.name === name)!.available;
      if (installed) {
        console.info(`[skip] ${name}: package installed here, the not-installed path cannot be tested`);
        return;
      }
      await initBackend('cpu');
      const err = await initBackend(name).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendUnavailableError);
      expect((err as BackendUnavailableError).backend).toBe(name);
      expect((err as Error).message).toMatch(
        name === 'cuda' ? /npm install @tensorflow\/tfjs-node-gpu/ : /npm install @tensorflow\/tfjs-node@/,
      );
      expect(tf.getBackend()).toBe('cpu');
    });
  }

  it('wasm: rejects a bad thread count before touching the backend', async () => {
    await expect(initBackend('wasm', { threads: 0 })).rejects.toThrow(ConfigError);
    await expect(initBackend('wasm', { threads: 1.5 })).rejects.toThrow(/integer >= 1/);
  });

  it('auto: picks the fastest available backend and says why the faster ones were passed over', async () => {
    const avail = await availableBackends();
    const realGpu = avail.find((b) => b.name === 'webgpu' && b.available && b.adapterInfo && !b.adapterInfo.isSoftware);
    const info = await initBackend('auto', { threads: 1 });
    expect(info.requested).toBe('auto');
    expect(info.tried!.length).toBeGreaterThan(0);
    expect(info.tried![info.tried!.length - 1]).toMatchObject({ name: info.name, available: true });
    if (!avail.find((b) => b.name === 'cuda')!.available && !avail.find((b) => b.name === 'tensorflow')!.available) {
      expect(info.name).toBe(realGpu ? 'webgpu' : 'wasm');
    }
    const webgpu = avail.find((b) => b.name === 'webgpu')!;
    if (!realGpu) {
      const t = info.tried!.find((x) => x.name === 'webgpu')!;
      expect(t.available).toBe(false);
      if (webgpu.adapterInfo?.isSoftware) expect(t.reason).toMatch(/software|CPU/i);
    }
    expect(info.reason).toMatch(new RegExp(`auto chose ${info.name}`));
    expect(getBackendName()).toBe(info.name);
    console.info(`[auto] ${info.reason}`);
    // The chosen backend computes.
    const y = tf.sum(tf.mul(tf.range(0, 10), 2));
    expect((await y.data())[0]).toBe(90);
    tf.dispose(y);
  });

  it('wasm: a second call reuses the initialised module and refuses a different thread count', async () => {
    const info = await initBackend('wasm');
    expect(info.name).toBe('wasm');
    expect(info.threads).toBe(1);
    expect(info.reason).toMatch(/already initialised/);
    await expect(initBackend('wasm', { threads: 3 })).rejects.toThrow(ConfigError);
    expect(getBackendName()).toBe('wasm');
  });

  it('disposeBackend frees the active backend and lets it be initialised again', async () => {
    await initBackend('cpu');
    const t = tf.ones([3]);
    disposeBackend();
    expect(getBackendInfo()).toBeUndefined();
    const info = await initBackend('cpu');
    expect(info.name).toBe('cpu');
    const y = tf.add(tf.ones([2]), 1);
    expect(Array.from(await y.data())).toEqual([2, 2]);
    tf.dispose([y]);
    void t;
  });
});
