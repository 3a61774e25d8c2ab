import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, existsSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ValueError, initBackend } from '@var/core';
import { f16BitsToFloat, floatToF16Bits, readSafetensors, toFloat32Array } from '@var/checkpoint';
import { VQVAE, fromOfficialConfig as vqvaeConfig } from '@var/tokenizer';
import { VAR, fromOfficialConfig as varConfig } from '@var/transformer';
import { loadFixtureCase } from '@var/test-helpers';
import {
  ModelNotBundledError,
  defaultModelId,
  getModelCard,
  listModels,
  loadModel,
  presetConfig,
  resolveModelConfig,
  saveModel,
  type LoadProgress,
  type ModelCard,
} from '../src/index.js';

const fc = loadFixtureCase();
const tokCfg = vqvaeConfig(fc.config.VQVAE);
const varCfg = varConfig(fc.config.VAR, fc.config.VQVAE);
let root: string;
let vae: VQVAE;
let model: VAR;
let card: ModelCard;

const baseCard = {
  id: 'tiny',
  name: 'tiny random model',
  dataset: { name: 'none (random weights)' },
  classNames: Array.from({ length: varCfg.numClasses }, (_, i) => `c${i}`),
  training: { steps: 0, seconds: 0 },
  quality: {},
  reproduce: ['(random init in a test)'],
};

beforeAll(async () => {
  await initBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'var-models-'));
  vae = VQVAE.create(tokCfg, { seed: 1 });
  model = VAR.create(varCfg, { seed: 2 });
  card = await saveModel(join(root, 'tiny'), { vae, var: model, card: baseCard });
});

afterAll(() => {
  vae?.dispose();
  model?.dispose();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Round to the float16 grid with the checkpoint package's conversion (tested bit pattern by bit pattern in @var/checkpoint). */
function f16Round(x: Float32Array): Float32Array {
  return Float32Array.from(x, (v) => f16BitsToFloat(floatToF16Bits(v)));
}

describe('@var/models', () => {
  it('writes a model directory with float16 weights and a card', () => {
    const dir = join(root, 'tiny');
    expect(readdirSync(dir).sort()).toEqual(['model-card.json', 'vae.safetensors', 'var.safetensors']);
    const json = JSON.parse(readFileSync(join(dir, 'model-card.json'), 'utf8'));
    expect(json.id).toBe('tiny');
    expect(json.dtype).toBe('F16');
    expect(json.var.config.depth).toBe(varCfg.depth);
    expect(json.tokenizer.config.vocabSize).toBe(tokCfg.vocabSize);
    expect(card.classNames).toHaveLength(varCfg.numClasses);
  });

  it('stores float tensors as F16 and keeps integer buffers', async () => {
    const st = await readSafetensors(join(root, 'tiny', 'var.safetensors'));
    const dtypes = new Set([...st.tensors.values()].map((t) => t.dtype));
    expect(dtypes.has('F16')).toBe(true);
    expect(dtypes.has('F32')).toBe(false);
    expect(st.tensors.get('lvl_1L')?.dtype).toBe('I64');
  });

  it('loads a saved model by id + root, by directory, by files, and over HTTP, with the weights rounded to float16', async () => {
    const before = tf.memory().numTensors;
    const events: LoadProgress[] = [];
    const byId = await loadModel('tiny', { root, onProgress: (p) => events.push(p) });
    expect([...new Set(events.map((e) => e.stage))]).toEqual(['card', 'tokenizer', 'transformer', 'done']);
    // bytes per file: each file's last event is its whole size; fractions never go back
    for (const [stage, file] of [
      ['tokenizer', 'vae.safetensors'],
      ['transformer', 'var.safetensors'],
    ] as const) {
      const ev = events.filter((e) => e.stage === stage && e.loaded !== undefined);
      expect(ev.length, stage).toBeGreaterThan(1);
      expect(ev.every((e) => e.file === join(root, 'tiny', file))).toBe(true);
      expect(ev[ev.length - 1].loaded).toBe(statSync(join(root, 'tiny', file)).size);
    }
    expect(events.every((e, i) => i === 0 || e.fraction >= events[i - 1].fraction)).toBe(true);
    expect(events[events.length - 1].fraction).toBe(1);
    expect(byId.card.name).toBe(baseCard.name);
    for (const [origSd, loadedSd] of [
      [model.stateDict(), byId.var.stateDict()],
      [vae.stateDict() as any, byId.vae.stateDict() as any],
    ] as const) {
      let checked = 0;
      for (const [k, t] of origSd as Map<string, any>) {
        if (t.dtype !== 'F32') continue;
        const want = f16Round(toFloat32Array(t));
        const got = toFloat32Array((loadedSd as Map<string, any>).get(k));
        expect(got.length, k).toBe(want.length);
        for (let i = 0; i < want.length; i++) {
          if (!(Object.is(got[i], want[i]) || got[i] === want[i]))
            throw new Error(`${k}[${i}]: ${got[i]} != f16(${toFloat32Array(t)[i]}) = ${want[i]}`);
        }
        checked++;
      }
      expect(checked).toBeGreaterThan(5);
    }
    expect(byId.var.numParameters()).toBe(model.numParameters());
    byId.vae.dispose();
    byId.var.dispose();

    const byDir = await loadModel(join(root, 'tiny'));
    expect(byDir.card.id).toBe('tiny');
    byDir.vae.dispose();
    byDir.var.dispose();

    const byFiles = await loadModel({
      vae: join(root, 'tiny', 'vae.safetensors'),
      var: join(root, 'tiny', 'var.safetensors'),
      config: fc.config,
    });
    expect(byFiles.card.classNames).toEqual(Array.from({ length: varCfg.numClasses }, (_, i) => String(i)));
    byFiles.vae.dispose();
    byFiles.var.dispose();

    const server: Server = createServer((req, res) => {
      const p = join(root, decodeURIComponent(req.url ?? '/'));
      if (!p.startsWith(root) || !existsSync(p)) {
        res.statusCode = 404;
        res.end();
        return;
      }
      res.end(readFileSync(p));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as { port: number }).port;
      const overHttp = await loadModel('tiny', { root: new URL(`http://127.0.0.1:${port}/`) });
      expect(overHttp.var.numParameters()).toBe(model.numParameters());
      const a = toFloat32Array(overHttp.var.stateDict().get('head.weight')!);
      const b = f16Round(toFloat32Array(model.stateDict().get('head.weight')!));
      expect(Array.from(a)).toEqual(Array.from(b));
      overHttp.vae.dispose();
      overHttp.var.dispose();
      await expect(loadModel('mnist', { root: new URL(`http://127.0.0.1:${port}/`) })).rejects.toBeInstanceOf(ModelNotBundledError);
    } finally {
      server.close();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('says a registered model is not bundled (typed error) instead of faking one', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'var-models-empty-'));
    try {
      const err = await loadModel(defaultModelId, { root: empty }).catch((e) => e);
      expect(err).toBeInstanceOf(ModelNotBundledError);
      expect(err.code).toBe('E_MODEL_NOT_BUNDLED');
      expect(err.message).toMatch(/not bundled yet/);
      await expect(getModelCard(defaultModelId, { root: empty })).rejects.toBeInstanceOf(ModelNotBundledError);
      const list = await listModels({ root: empty });
      expect(list.find((m) => m.id === defaultModelId)?.bundled).toBe(false);
      await expect(loadModel('no-such-model', { root: empty })).rejects.toBeInstanceOf(ValueError);
      await expect(loadModel('../etc', { root: empty })).rejects.toThrow();
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('the shipped default model loads when its weights are present, else is reported as not bundled', async () => {
    const list = await listModels();
    const def = list.find((m) => m.id === defaultModelId)!;
    if (def.bundled) {
      const m = await loadModel(defaultModelId);
      expect(m.card.classNames).toHaveLength(m.var.config.numClasses);
      m.vae.dispose();
      m.var.dispose();
    } else {
      await expect(loadModel(defaultModelId)).rejects.toBeInstanceOf(ModelNotBundledError);
    }
  });

  it('rejects mismatched or malformed configs with ConfigError', () => {
    expect(() => resolveModelConfig({ foo: 1 })).toThrow(ConfigError);
    const bad = { VQVAE: fc.config.VQVAE, VAR: { ...fc.config.VAR, patch_nums: [1, 2] } };
    expect(() => resolveModelConfig(bad)).toThrow(/do not belong together/);
    const d16 = presetConfig('d16');
    expect(d16.var.depth).toBe(16);
    expect(d16.tokenizer.ch).toBe(160);
    expect(() => presetConfig('d99')).toThrow(ConfigError);
  });
});
