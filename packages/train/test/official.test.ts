/**
 * Both ways with the official PyTorch code: model directories for the official VQVAE / VAR
 * (config.json + vae.pth + var.pth), the official trainer's checkpoint exported from a run here,
 * one official training step from it (VARTrainer, on CPU), and the official checkpoint imported
 * back and resumed by trainVAR. The official code runs from ../shared/reference/VAR on Debian's
 * python3-torch (`/usr/bin/python3`); without it those tests skip and say so.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, ConfigError, initBackend } from '@var/core';
import { loadStateDict, readPth, readPthObject, readSafetensors, writePth, type RawTensor, type StateDict } from '@var/checkpoint';
import { loadFixtureCase, findTorch, runPython, tinyFolderDataset, tinyTokenizerModel } from '@var/test-helpers';
import { VAR, paramShapes } from '@var/transformer';
import { resolveModelConfig } from '@var/models';
import {
  exportOfficialTrainerCheckpoint,
  fromOfficialConfigJson,
  fromTorchAdamWState,
  importOfficialTrainerCheckpoint,
  loadCheckpoint,
  officialParamGroups,
  readOfficialModel,
  readLog,
  toOfficialConfig,
  trainTokenizer,
  trainVAR,
  writeOfficialModel,
  type TrainVAROptions,
} from '../src/index.js';
import { tinyFolder, tmpRunDir } from './helpers.js';

const fc = loadFixtureCase();
const HERE = new URL('.', import.meta.url).pathname;
const OFFICIAL = join(HERE, 'python', 'official_var.py');
const torch = findTorch();
const tmp = mkdtempSync(join(tmpdir(), 'var-official-'));

function f32(t: RawTensor): Float32Array {
  return t.data as Float32Array;
}
function bitEqual(a: RawTensor, b: RawTensor): boolean {
  const x = Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const y = Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
  return a.shape.join(',') === b.shape.join(',') && x.equals(y);
}

let fixtureModel: { vae: StateDict; var: StateDict };
beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
  fixtureModel = { vae: await loadStateDict(fc.path('vae.safetensors')), var: await loadStateDict(fc.path('var.safetensors')) };
});

describe('official model directories', () => {
  it("config.json round-trips the model config; the fixture case's config.json (no ddconfig) is the official hard-coded tokenizer", () => {
    const mc = fromOfficialConfigJson(fc.config);
    expect(mc.tokenizer.vocabSize).toBe(fc.config.VQVAE.vocab_size);
    expect(mc.tokenizer.chMult).toEqual([1, 1, 2, 2, 4]);
    expect(mc.var.depth).toBe(fc.config.VAR.depth);
    const json = toOfficialConfig(mc);
    expect(Object.keys(json.ddconfig!).sort()).toEqual([
      'ch',
      'ch_mult',
      'dropout',
      'in_channels',
      'num_res_blocks',
      'using_mid_sa',
      'using_sa',
      'z_channels',
    ]);
    expect(fromOfficialConfigJson(JSON.parse(JSON.stringify(json)))).toEqual(mc);
    const small = { ...mc, tokenizer: { ...mc.tokenizer, chMult: [1, 2], inChannels: 1, numResBlocks: 1, usingSa: false } };
    expect(fromOfficialConfigJson(toOfficialConfig(small))).toEqual(small);
    // what `--config official/config.json` of the CLI and loadModel read (@var/models)
    expect(resolveModelConfig(JSON.parse(JSON.stringify(toOfficialConfig(small))))).toEqual(small);
    expect(() => fromOfficialConfigJson({ VQVAE: { ...json.VQVAE, wat: 1 }, VAR: json.VAR })).toThrow(ConfigError);
    expect(() => fromOfficialConfigJson({ VAR: json.VAR })).toThrow(/expected objects VQVAE and VAR/);
  });

  it('writes vae.pth, var.pth and config.json that read back bit-identically; names the official classes do not know are refused, nothing written', async () => {
    const mc = fromOfficialConfigJson(fc.config);
    const dir = join(tmp, 'fixture-official');
    const files = await writeOfficialModel(dir, { config: mc, ...fixtureModel });
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'vae.pth', 'var.pth']);
    const back = await readOfficialModel(dir);
    expect(back.config).toEqual(mc);
    for (const part of ['vae', 'var'] as const) {
      for (const [k, t] of fixtureModel[part]) expect(bitEqual(t, back[part].get(k)!), `${part} ${k}`).toBe(true);
      expect([...(await readPth(files[part])).keys()]).toEqual([...back[part].keys()]);
    }
    // a name the official VAR does not have, and a missing one
    const bad = join(tmp, 'bad-official');
    const extra = new Map(fixtureModel.var);
    extra.set('blocks.0.attn.not_a_param', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    await expect(writeOfficialModel(bad, { config: mc, vae: fixtureModel.vae, var: extra })).rejects.toThrow(
      /names it does not know[\s\S]*blocks\.0\.attn\.not_a_param/,
    );
    const missing = new Map(fixtureModel.vae);
    missing.delete('quantize.embedding.weight');
    await expect(writeOfficialModel(bad, { config: mc, vae: missing, var: fixtureModel.var })).rejects.toThrow(CheckpointError);
    expect(existsSync(bad)).toBe(false);
  });

  it.skipIf(!torch.ok)(
    `the official VQVAE and VAR load them with strict=True; logits equal var.ts's (≤ 1e-5) ${torch.ok ? '' : '(skipped: no python3-torch)'}`,
    async () => {
      const mc = fromOfficialConfigJson(fc.config);
      const dir = join(tmp, 'fixture-for-torch');
      await writeOfficialModel(dir, { config: mc, ...fixtureModel });
      const refs = (await readSafetensors(fc.path('refs.safetensors'))).tensors;
      const inputs = join(tmp, 'inputs.pth');
      await writePth(
        inputs,
        new Map([
          ['img', refs.get('img')!],
          ['label', refs.get('label')!],
        ]),
      );
      const out = join(tmp, 'official-logits.pth');
      await runPython(OFFICIAL, ['logits', dir, inputs, out]);
      const got = (await readPthObject(out)) as Map<string, RawTensor>;
      // the official VQVAE tokenises the fixture image exactly as the fixture says
      expect([...(got.get('gt_BL')!.data as BigInt64Array)]).toEqual([...(refs.get('gt_BL')!.data as BigInt64Array)]);
      // var.ts's logits on the same input
      const n0 = tf.memory().numTensors;
      const model = VAR.fromStateDict(mc.var, fixtureModel.var);
      const x = refs.get('var_input')!;
      const xs = tf.tensor3d(f32(x), x.shape as [number, number, number]);
      const labels = Int32Array.from(refs.get('label')!.data as BigInt64Array, Number);
      const logits = model.forward(labels, xs, { training: false });
      const mine = logits.dataSync() as Float32Array;
      const theirs = f32(got.get('logits')!);
      expect(got.get('logits')!.shape).toEqual(logits.shape);
      let maxErr = 0;
      for (let i = 0; i < mine.length; i++) maxErr = Math.max(maxErr, Math.abs(mine[i] - theirs[i]));
      console.log(`official vs var.ts logits: max |diff| ${maxErr.toExponential(2)} over ${mine.length} values`);
      expect(maxErr).toBeLessThanOrEqual(1e-5);
      tf.dispose([logits, xs]);
      model.dispose();
      expect(tf.memory().numTensors).toBe(n0);
    },
  );
});

describe('official trainer checkpoints', () => {
  let folder: string;
  let tokRun: string;
  const opts = (runDir: string, extra: Partial<TrainVAROptions> = {}): TrainVAROptions => ({
    runDir,
    tokenizer: tokRun,
    model: { depth: 2, embedDim: 32, numHeads: 2 },
    dataset: tinyFolderDataset(folder),
    train: { steps: 8, batchSize: 4, lr: 1e-3, warmupSteps: 1 },
    seed: 5,
    settings: { logEvery: 1, checkpointEvery: 100, evalEvery: 0 },
    eval: { valSamples: 4, perClass: 0 },
    classifier: false,
    ...extra,
  });
  beforeAll(async () => {
    folder = await tinyFolder();
    tokRun = await tmpRunDir();
    await trainTokenizer({
      runDir: tokRun,
      model: tinyTokenizerModel({ chMult: [1, 2] }),
      dataset: tinyFolderDataset(folder),
      train: { steps: 2, batchSize: 4 },
      classifier: false,
      evalSamples: 0,
    });
  });

  it('the parameter groups are the official ones (filter_params): in order of first appearance, pos_start opening the no-wd group', () => {
    const mc = fromOfficialConfigJson(fc.config);
    const groups = officialParamGroups(mc.var);
    const params = paramShapes(mc.var).filter((p) => p.kind === 'param');
    expect(groups.map((g) => g.wdScale)).toEqual([0, 1]); // pos_start comes first and is a no-wd key
    expect(groups[0].names + '').toContain('pos_1LC');
    expect(groups.reduce((a, g) => a + g.names.length, 0)).toBe(params.length);
    expect(groups[1].names.every((n) => !n.endsWith('bias'))).toBe(true);
  });

  it('export → one official training step → import → trainVAR resumes; bad input is refused', async () => {
    const n0 = tf.memory().numTensors;
    const run = await tmpRunDir();
    const first = await trainVAR(opts(run, { stopAfter: 3 }));
    expect(first).toMatchObject({ step: 3, reason: 'stopped' });
    const out = join(tmp, 'export');
    const exp = await exportOfficialTrainerCheckpoint(run, out);
    expect(exp).toMatchObject({ step: 3, epoch: 0, iter: 3 });
    expect(readdirSync(out).sort()).toEqual(['ar-ckpt-last.pth', 'config.json', 'var.pth', 'vae.pth'].sort());
    const ck = await loadCheckpoint(join(run, 'checkpoint.safetensors'));
    const runModel = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).model;
    // the trainer checkpoint as train.py writes it, read back here
    const root = (await readPthObject(exp.checkpoint)) as Map<string, any>;
    expect([...root.keys()]).toEqual(['epoch', 'iter', 'trainer', 'args']);
    const trainer = root.get('trainer') as Map<string, any>;
    expect([...trainer.keys()]).toEqual(['config', 'var_wo_ddp', 'vae_local', 'var_opt']);
    expect(trainer.get('config').get('resos')).toEqual([2, 4, 8]);
    const back = fromTorchAdamWState(runModel, trainer.get('var_opt').get('optimizer'));
    expect(back.step).toBe(3);
    for (const [k, t] of ck.optimizer) expect(bitEqual(t, back.tensors.get(k)! as RawTensor), k).toBe(true);

    if (torch.ok) {
      // the official VARTrainer accepts it (strict) and trains one step from it on CPU
      const official = join(tmp, 'official-run');
      await runPython(OFFICIAL, ['trainer-step', out, official, '--steps', '1']);
      const summary = JSON.parse(readFileSync(join(official, 'summary.json'), 'utf8'));
      expect(summary.step_before).toBe(3);
      expect(summary.step_after).toBe(4);
      expect(summary.grad_norms[0]).toBeGreaterThan(0);
      // the guide's launcher refuses train.py arguments of another model and a foreign VAE file
      const work = join(tmp, 'launcher');
      await runPython(OFFICIAL, ['launcher-checks', out, work]);
      const checks = JSON.parse(readFileSync(join(work, 'checks.json'), 'utf8'));
      expect(checks.depth).toMatch(/do not describe the exported model: depth: train.py has 3, the model 2/);
      expect(checks.foreign_vae).toMatch(/exists and is not .*vae\.pth/);
      expect(checks.linked).toBe(join(out, 'vae.pth'));
      expect(Number.isFinite(summary.grad_norms[0])).toBe(true);
      // what the official optimizer holds after loading equals var.ts's moments, bit for bit
      const before = await readPth(join(official, 'before.pth'));
      for (const [k, t] of ck.optimizer) {
        const [kind, ...rest] = k.split('.');
        const name = rest.join('.');
        expect(bitEqual(t, before.get(`${name}.${kind === 'm' ? 'exp_avg' : 'exp_avg_sq'}`)!), `before ${k}`).toBe(true);
        expect(bitEqual(ck.model.get(name)!, before.get(`${name}.param`)!), `param ${name}`).toBe(true);
      }
      // import the official trainer's checkpoint: weights and AdamW state exactly as torch has them
      const imp = await importOfficialTrainerCheckpoint(join(official, 'ar-ckpt-last.pth'), run);
      expect(imp).toMatchObject({ step: 4, epoch: 1, stepInEpoch: 0, noState: [], removedModel: false });
      const after = await readPth(join(official, 'after.pth'));
      const ck2 = await loadCheckpoint(join(run, 'checkpoint.safetensors'));
      expect(ck2.state.optimizerStep).toBe(4);
      let compared = 0;
      for (const [k, t] of ck2.optimizer) {
        const [kind, ...rest] = k.split('.');
        const name = rest.join('.');
        expect(bitEqual(t, after.get(`${name}.${kind === 'm' ? 'exp_avg' : 'exp_avg_sq'}`)!), `after ${k}`).toBe(true);
        expect(after.get(`${name}.step`)!.data[0]).toBe(4);
        compared++;
      }
      for (const [name, t] of ck2.model) if (after.has(`${name}.param`)) expect(bitEqual(t, after.get(`${name}.param`)!), name).toBe(true);
      expect(compared).toBe(2 * officialParamGroups(runModel).reduce((a, g) => a + g.names.length, 0));
      // trainVAR resumes from the imported step and finishes the run
      const rest = await trainVAR(opts(run));
      expect(rest).toMatchObject({ resumedFrom: 4, step: 8, done: true });
      const log = await readLog(join(run, 'log.jsonl'));
      const trainSteps = log.filter((r) => r.type === 'train').map((r) => r.step);
      expect(trainSteps.slice(-4)).toEqual([5, 6, 7, 8]);
      expect(log.filter((r) => r.type === 'train').every((r) => Number.isFinite(r.loss as number))).toBe(true);
      // importing into a finished run drops its stale model.safetensors (trainVAR writes it again from the checkpoint)
      expect(existsSync(join(run, 'model.safetensors'))).toBe(true);
      const again = await importOfficialTrainerCheckpoint(join(official, 'ar-ckpt-last.pth'), run);
      expect(again).toMatchObject({ step: 4, removedModel: true });
      expect(existsSync(join(run, 'model.safetensors'))).toBe(false);
    } else {
      console.warn(`[official trainer step skipped] ${torch.reason}`);
    }

    // bad input: not a VAR run, no checkpoint, not a trainer checkpoint, another model
    await expect(exportOfficialTrainerCheckpoint(tokRun, join(tmp, 'x1'))).rejects.toThrow(ConfigError);
    const fresh = await tmpRunDir();
    await expect(exportOfficialTrainerCheckpoint(fresh, join(tmp, 'x2'))).rejects.toThrow(ConfigError);
    await expect(importOfficialTrainerCheckpoint(fc.path('var.pth'), run)).rejects.toThrow(/not an official trainer checkpoint/);
    const other = join(tmp, 'other-trainer.pth');
    await writePth(other, { epoch: 0, iter: 0, trainer: { var_wo_ddp: fixtureModel.var } });
    await expect(importOfficialTrainerCheckpoint(other, run)).rejects.toThrow(/names it does not know|missing|mis-shaped/);
    expect(existsSync(join(tmp, 'x1')) || existsSync(join(tmp, 'x2'))).toBe(false);
    expect(tf.memory().numTensors).toBe(n0);
  });
});
