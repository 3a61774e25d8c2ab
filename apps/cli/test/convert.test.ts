/**
 * `var convert` both ways: safetensors ↔ .pth, a model directory ↔ the official model directory
 * (config.json + vae.pth + var.pth), and a VAR run ↔ the official trainer's checkpoint. With
 * Debian's python3-torch the official code (../shared/reference/VAR) loads what is written here
 * (strict) and its logits equal var.ts's; without it those checks skip and say so.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@var/core';
import { loadStateDict, readPth, readPthObject, toFloat32Array, writePth, type RawTensor } from '@var/checkpoint';
import { loadModel, disposeModel } from '@var/models';
import { writePng } from '@var/data';
import { loadFixtureCase, findTorch, runPython } from '@var/test-helpers';
import { loadCheckpoint } from '@var/train';
import { runCli } from './run-cli.js';

const here = dirname(fileURLToPath(import.meta.url));
const OFFICIAL = join(here, '..', '..', '..', 'packages', 'train', 'test', 'python', 'official_var.py');
const MNIST = join(here, '..', '..', '..', 'packages', 'models', 'weights', 'mnist');
const BACKEND = ['--backend', 'wasm', '--threads', '1'];
const fc = loadFixtureCase();
const torch = findTorch();
let tmp: string;
const cli = (args: string[]) => runCli(args, tmp);

function bytesOf(t: RawTensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
  tmp = mkdtempSync(join(tmpdir(), 'var-cli-convert-'));
});

describe('var convert: single checkpoints', () => {
  it('safetensors → .pth writes a PyTorch zip checkpoint (not safetensors bytes under a .pth name), bit-identical, checked against the config', async () => {
    const cfgFile = join(tmp, 'config.json');
    writeFileSync(cfgFile, JSON.stringify(fc.config));
    for (const part of ['vae', 'var']) {
      const out = join(tmp, `${part}-from-st.pth`);
      const r = await cli(['convert', fc.path(`${part}.safetensors`), out, '--config', cfgFile, '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ from: 'safetensors', to: 'pth', check: { ok: true } });
      expect(readFileSync(out).subarray(0, 2).toString()).toBe('PK');
      const want = await loadStateDict(fc.path(`${part}.safetensors`));
      const got = await readPth(out);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [k, t] of want) expect(bytesOf(got.get(k)!).equals(bytesOf(t)), k).toBe(true);
    }
    const r16 = await cli(['convert', fc.path('var.pth'), join(tmp, 'var-f16.pth'), '--float16', '--json']);
    expect(r16.code).toBe(0);
    expect(JSON.parse(r16.stdout).dtypes.F32 ?? 0).toBe(0);
    expect([...(await readPth(join(tmp, 'var-f16.pth'))).values()].some((t) => t.dtype === 'F16')).toBe(true);
  });
});

describe('var convert: model directories and the official code', () => {
  it("the bundled mnist model → official model directory → model directory; generate runs on the result; with torch, the official classes load it strict and their logits equal var.ts's (≤ 1e-4, ≤ 2e-6 of the largest)", async () => {
    const official = join(tmp, 'mnist-official');
    const r = await cli(['convert', MNIST, official, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ from: 'model', to: 'official' });
    expect(readdirSync(official).sort()).toEqual(['config.json', 'vae.pth', 'var.pth']);
    const cfg = JSON.parse(readFileSync(join(official, 'config.json'), 'utf8'));
    const card = JSON.parse(readFileSync(join(MNIST, 'model-card.json'), 'utf8'));
    expect(cfg.ddconfig).toMatchObject({ in_channels: 1, ch_mult: card.tokenizer.config.chMult, using_sa: card.tokenizer.config.usingSa });
    expect(cfg.VAR).toMatchObject({ depth: card.var.config.depth, embed_dim: card.var.config.embedDim, num_classes: 10 });

    // and back to a model directory the CLI (and the browser demo, which reads the same files) loads
    const names = card.classNames.join(',');
    const back = join(tmp, 'mnist-again');
    const r2 = await cli(['convert', official, back, '--class-names', names, '--json']);
    expect(r2.code).toBe(0);
    expect(JSON.parse(r2.stdout)).toMatchObject({ from: 'official', to: 'model', id: 'mnist-again', dtype: 'F32' });
    const orig = await loadStateDict(join(MNIST, 'var.safetensors'));
    const again = await loadStateDict(join(back, 'var.safetensors'));
    for (const [k, t] of orig) {
      const a = toFloat32Array(t);
      const b = toFloat32Array(again.get(k)!);
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), k).toBe(true); // F16 → F32 exactly
    }
    const n0 = tf.memory().numTensors;
    const m = await loadModel(back);
    expect(m.card.classNames).toEqual(card.classNames);
    disposeModel(m);
    expect(tf.memory().numTensors).toBe(n0);
    const out = join(tmp, 'gen');
    const g = await cli(['generate', '--model', back, '-c', '3', '-n', '1', '-s', '1', '-o', out, '--json', ...BACKEND]);
    expect(g.stderr).toBe('');
    expect(g.code).toBe(0);
    expect(readdirSync(out).some((f) => f.endsWith('.png'))).toBe(true);

    if (!torch.ok) return console.warn(`[official mnist check skipped] ${torch.reason}`);
    // the official VQVAE / VAR built from config.json load vae.pth / var.pth (strict) and run
    const img = new Float32Array(2 * 32 * 32);
    for (let i = 0; i < img.length; i++) {
      const y = Math.floor((i % 1024) / 32);
      const x = i % 32;
      img[i] = Math.abs(x - 16) < 3 && y > 6 && y < 26 ? 0.9 : -0.95; // a "1"-like stroke
    }
    const inputs = join(tmp, 'mnist-inputs.pth');
    await writePth(
      inputs,
      new Map<string, RawTensor>([
        ['img', { dtype: 'F32', shape: [2, 1, 32, 32], data: img }],
        ['label', { dtype: 'I64', shape: [2], data: new BigInt64Array([1n, 7n]) }],
      ]),
    );
    const res = join(tmp, 'mnist-logits.pth');
    await runPython(OFFICIAL, ['logits', official, inputs, res]);
    const got = (await readPthObject(res)) as Map<string, RawTensor>;
    const mm = await loadModel(back);
    const imgT = tf.tensor4d(img, [2, 1, 32, 32]);
    const idx = mm.vae.imgToIdx(imgT);
    const L = got.get('gt_BL')!.shape[1];
    const tokens = new Int32Array(2 * L);
    let off = 0;
    for (const t of idx) {
      const d = t.dataSync();
      const per = d.length / 2;
      for (let b = 0; b < 2; b++) tokens.set(d.subarray(b * per, (b + 1) * per), b * L + off);
      off += per;
    }
    expect([...tokens]).toEqual(Array.from(got.get('gt_BL')!.data as BigInt64Array, Number));
    const x = got.get('var_input')!;
    const xs = tf.tensor3d(x.data as Float32Array, x.shape as [number, number, number]);
    const logits = mm.var.forward(Int32Array.from([1, 7]), xs, { training: false });
    const a = logits.dataSync();
    const b = got.get('logits')!.data as Float32Array;
    let maxErr = 0;
    let maxAbs = 0;
    for (let i = 0; i < a.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(a[i] - b[i]));
      maxAbs = Math.max(maxAbs, Math.abs(b[i]));
    }
    console.log(
      `mnist: official vs var.ts logits max |diff| ${maxErr.toExponential(2)} over ${a.length} values (max |logit| ${maxAbs.toFixed(2)}, relative ${(maxErr / maxAbs).toExponential(2)})`,
    );
    // float32 rounding of a trained model grows with its logits: the parity suite's absolute
    // tolerance for logits (1e-4) and, tighter, 2e-6 of the largest logit (≈ 17 float32 ulps).
    expect(maxErr).toBeLessThanOrEqual(1e-4);
    expect(maxErr / maxAbs).toBeLessThanOrEqual(2e-6);
    tf.dispose([imgT, ...idx, xs, logits]);
    disposeModel(mm);
  });
});

/** Split one shell command line into words (single / double quotes, no expansion); a word starting with # ends it. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'" || c === '"') {
      const j = line.indexOf(c, i + 1);
      if (j < 0) throw new Error(`unterminated quote in: ${line}`);
      cur = (cur ?? '') + line.slice(i + 1, j);
      i = j;
    } else if (c === ' ' || c === '\t') {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else if (c === '#' && cur === undefined) break;
    else cur = (cur ?? '') + c;
  }
  if (cur !== undefined) words.push(cur);
  return words;
}

/** The command block of the @var/train README guide (after its "guide:" marker). */
function guideCommands(): string[] {
  const readme = readFileSync(join(here, '..', '..', '..', 'packages', 'train', 'README.md'), 'utf8');
  const m = /<!-- guide: [^>]*-->\s*```sh\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('packages/train/README.md has no guide block');
  return m[1]
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

describe('var convert: VAR runs and the official trainer', () => {
  it('the @var/train README guide, line by line: train here → export → (one official training step on CPU for torchrun) → import → resume → model directory → generate', async () => {
    const { cpSync } = await import('node:fs');
    const lines = guideCommands();
    expect(lines.filter((l) => l.startsWith('var ')).length).toBeGreaterThanOrEqual(8);
    const cwd = mkdtempSync(join(tmpdir(), 'var-guide-'));
    // images/a/*.png (bright left half), images/b/*.png (bright top half): 8×8 gray, 12 per class
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (const [ci, cls] of ['a', 'b'].entries()) {
      mkdirSync(join(cwd, 'images', cls), { recursive: true });
      for (let k = 0; k < 12; k++) {
        const data = Uint8Array.from({ length: 64 }, (_, i) => Math.round(((ci === 0 ? i % 8 < 4 : i < 32) ? 200 : 40) + rand() * 50));
        await writePng(join(cwd, 'images', cls, `${k}.png`), { width: 8, height: 8, channels: 1, data });
      }
    }
    const results: Record<string, any>[] = [];
    for (const line of lines) {
      if (line.includes('torchrun')) {
        // step 3 on these machines: the official VARTrainer (built through the same launcher code) loads
        // official/ar-ckpt-last.pth and trains one step on CPU; its checkpoint goes where train.py saves it
        if (!torch.ok) {
          console.warn(`[guide step 3 skipped] ${torch.reason}`);
          continue;
        }
        await runPython(OFFICIAL, ['trainer-step', join(cwd, 'official'), join(cwd, 'official-step'), '--steps', '1']);
        cpSync(join(cwd, 'official-step', 'ar-ckpt-last.pth'), join(cwd, 'official', 'ar-ckpt-last.pth'));
        results.push({ command: 'official train_step' });
        continue;
      }
      const words = shellWords(line);
      expect(words[0], line).toBe('var');
      // the backend is pinned for the test machines (the guide leaves it to auto)
      const args = ['train', 'generate'].includes(words[1]) ? [...words.slice(1), ...BACKEND, '--json'] : [...words.slice(1), '--json'];
      const r = await runCli(args, cwd);
      expect(r.stderr, line).toBe('');
      expect(r.code, line).toBe(0);
      results.push(JSON.parse(r.stdout));
    }
    const step = torch.ok ? 4 : 3;
    const byCommand = (c: string) => results.filter((x) => x.command === c);
    expect(byCommand('train var')[0]).toMatchObject({ step: 3, reason: 'stopped' });
    expect(byCommand('convert')[0]).toMatchObject({ from: 'run', to: 'official', step: 3 });
    expect(byCommand('convert')[1]).toMatchObject({ to: 'run', step });
    expect(byCommand('train var')[1]).toMatchObject({ resumedFrom: step, step: 8, done: true });
    expect(byCommand('convert')[3]).toMatchObject({ from: 'official', to: 'model', id: 'my-model' });
    expect(readdirSync(join(cwd, 'samples')).some((f) => f.endsWith('.png'))).toBe(true);
    const ck = await loadCheckpoint(join(cwd, 'runs', 'var', 'checkpoint.safetensors'));
    expect(ck.state.step).toBe(8);
    if (torch.ok) expect(results.some((x) => x.command === 'official train_step')).toBe(true);
  });

  it('bad input: exists without --force, unknown --to, folders that are neither, wrong class names, import into a non-run', async () => {
    const dst = join(tmp, 'exists.pth');
    writeFileSync(dst, 'x');
    expect((await cli(['convert', fc.path('var.safetensors'), dst])).code).toBe(2);
    expect((await cli(['convert', fc.path('var.safetensors'), join(tmp, 'y.pth'), '--to', 'onnx'])).stderr).toMatch(
      /--to onnx: expected one of safetensors, pth, model, official, run/,
    );
    const junk = join(tmp, 'junk-dir');
    mkdirSync(junk);
    const r = await cli(['convert', junk, join(tmp, 'z')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/neither a model directory/);
    expect((await cli(['convert', fc.path('var.safetensors'), join(tmp, 'somewhere')])).stderr).toMatch(/cannot tell what to write/);
    const official = join(tmp, 'mnist-official');
    if (existsSync(official)) {
      const bad = await cli(['convert', official, join(tmp, 'bad-names'), '--class-names', 'a,b']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/has 10 classes; got 2 names/);
      expect(existsSync(join(tmp, 'bad-names'))).toBe(false);
    }
    const imp = await cli(['convert', fc.path('var.pth'), junk, '--to', 'run']);
    expect(imp.code).toBe(2);
    expect(imp.stderr).toMatch(/not a VAR run directory/);
    // a state dict whose names the official VAR does not know: typed error, no official directory written
    const extra = join(tmp, 'extra-model');
    mkdirSync(extra);
    const card = JSON.parse(readFileSync(join(MNIST, 'model-card.json'), 'utf8'));
    writeFileSync(join(extra, 'model-card.json'), JSON.stringify(card));
    writeFileSync(join(extra, 'vae.safetensors'), readFileSync(join(MNIST, 'vae.safetensors')));
    writeFileSync(join(extra, 'var.safetensors'), readFileSync(fc.path('var.safetensors')));
    const mis = await cli(['convert', extra, join(tmp, 'extra-official')]);
    expect(mis.code).toBe(1);
    expect(mis.stderr).toMatch(/CheckpointError: .*not the state dict of the official VAR/);
    expect(existsSync(join(tmp, 'extra-official'))).toBe(false);
  });
});
