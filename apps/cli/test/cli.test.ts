/**
 * End-to-end tests of the `var` CLI on a tiny random model (the fixture case's configs) saved
 * to a temporary model directory: in-process through `run(argv, io)` (the same code the bin
 * runs), plus a few runs of the built bin in a child process.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@var/core';
import { readSafetensors } from '@var/checkpoint';
import { decodeImage, imageToTensor, tensorToImages, encodePng, type RawImage } from '@var/data';
import { VQVAE, countParameters as vaeParams, fromOfficialConfig as vqvaeConfig } from '@var/tokenizer';
import { VAR, countParameters, fromOfficialConfig as varConfig } from '@var/transformer';
import { listModels, loadModel, saveModel, defaultModelId } from '@var/models';
import { loadFixtureCase, runProcess, tinyFolderDataset, tinyTokenizerModel } from '@var/test-helpers';
import { run, readTokens, type Io } from '../src/index.js';
import { runCli } from './run-cli.js';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'dist', 'bin.js');
const fc = loadFixtureCase();
const tokCfg = vqvaeConfig(fc.config.VQVAE);
const varCfg = varConfig(fc.config.VAR, fc.config.VQVAE);
const S = varCfg.patchNums.length;
const BACKEND = ['--backend', 'wasm', '--threads', '1'];

let tmp: string;
let modelDir: string;
let size: number;

const cli = (args: string[]) => runCli(args, tmp);

function png(path: string): RawImage {
  return decodeImage(new Uint8Array(readFileSync(path)));
}

beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
  tmp = mkdtempSync(join(tmpdir(), 'var-cli-'));
  modelDir = join(tmp, 'tiny');
  const vae = VQVAE.create(tokCfg, { seed: 11 });
  const model = VAR.create(varCfg, { seed: 12 });
  size = vae.imageSize;
  await saveModel(modelDir, {
    vae,
    var: model,
    card: {
      id: 'tiny',
      name: 'tiny random model',
      dataset: { name: 'none' },
      classNames: Array.from({ length: varCfg.numClasses }, (_, i) => `class${i}`),
      sampling: { cfg: 1.5, topK: 0, topP: 0 },
    },
  });
  vae.dispose();
  model.dispose();
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('var generate', () => {
  it('writes one PNG per image and a labelled grid, of the right sizes; --json parses; no tensors leak', async () => {
    const before = tf.memory().numTensors;
    const r = await cli([
      'generate',
      '--model',
      modelDir,
      '--class',
      '3,class7',
      '--count',
      '2',
      '--seed',
      '5',
      '--out',
      'gen1',
      '--json',
      ...BACKEND,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const j = JSON.parse(r.stdout);
    expect(j.seed).toBe(5);
    expect(j.images.map((i: { label: number }) => i.label)).toEqual([3, 3, 7, 7]);
    expect(j.images.map((i: { className: string }) => i.className)).toEqual(['class3', 'class3', 'class7', 'class7']);
    for (const im of j.images) {
      const p = png(im.file);
      expect([p.width, p.height]).toEqual([size, size]);
    }
    const files = readdirSync(join(tmp, 'gen1')).sort();
    expect(files).toEqual(['0000-class3.png', '0001-class3.png', '0002-class7.png', '0003-class7.png', 'grid.png']); // no temp files left
    const grid = png(j.grid);
    expect(grid.width).toBe(2 + 2 * (size + 2)); // one row per class: 2 columns, torchvision-style padding 2
    expect(grid.height).toBeGreaterThan(2 * (size + 2) + 2); // two rows plus their label strips
  });

  it('same seed gives byte-identical PNGs; another seed gives other images', async () => {
    const a = await cli(['generate', '--model', modelDir, '--class', '1', '--count', '3', '--seed', '42', '--out', 'seedA', ...BACKEND]);
    const b = await cli(['generate', '--model', modelDir, '--class', '1', '--count', '3', '--seed', '42', '--out', 'seedB', ...BACKEND]);
    const c = await cli(['generate', '--model', modelDir, '--class', '1', '--count', '3', '--seed', '43', '--out', 'seedC', ...BACKEND]);
    expect([a.code, b.code, c.code]).toEqual([0, 0, 0]);
    // non-TTY output: one path per line
    expect(a.stdout.trim().split('\n')).toHaveLength(4);
    const names = readdirSync(join(tmp, 'seedA')).sort();
    let same = 0;
    for (const n of names) {
      const ba = readFileSync(join(tmp, 'seedA', n));
      expect(Buffer.compare(ba, readFileSync(join(tmp, 'seedB', n))), n).toBe(0);
      if (Buffer.compare(ba, readFileSync(join(tmp, 'seedC', n))) === 0) same++;
    }
    expect(same).toBeLessThan(names.length);
  });

  it('--progression writes a strip with one image per scale', async () => {
    const r = await cli([
      'generate',
      '--model',
      modelDir,
      '--class',
      '2',
      '--seed',
      '1',
      '--out',
      'prog',
      '--progression',
      '--no-grid',
      '--json',
      ...BACKEND,
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.grid).toBeNull();
    const strip = png(j.images[0].progression);
    expect(strip.width).toBe(2 + S * (size + 2));
    // the strip's last cell is the final image
    const fin = png(j.images[0].file);
    const row = 2; // first image row inside the padding
    const off = (row * strip.width + 2 + (S - 1) * (size + 2)) * strip.channels;
    const finRow = fin.data.subarray(0, size * fin.channels);
    expect(Array.from(strip.data.subarray(off, off + size * strip.channels))).toEqual(Array.from(finRow));
  });

  it('usage errors exit 2 with one clear line; typed errors exit 1', async () => {
    const bad = await cli(['generate', '--model', modelDir, '--class', 'banana', ...BACKEND]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown class "banana"/);
    expect(bad.stderr.split('\n').filter(Boolean).length).toBeLessThanOrEqual(2); // error + hint
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const badIdx = await cli(['generate', '--model', modelDir, '--class', String(varCfg.numClasses), ...BACKEND]);
    expect(badIdx.code).toBe(2);
    const unknownOpt = await cli(['generate', '--bogus']);
    expect(unknownOpt.code).toBe(2);
    expect(unknownOpt.stderr).toMatch(/unknown option/);
    const badSeed = await cli(['generate', '--model', modelDir, '--seed', 'x']);
    expect(badSeed.code).toBe(2);
    const noModel = await cli(['generate', '--model', 'no-such-model']);
    expect(noModel.code).toBe(1);
    expect(noModel.stderr).toMatch(/unknown model "no-such-model"/);
    const badBackend = await cli(['generate', '--model', modelDir, '--backend', 'quantum']);
    expect(badBackend.code).toBe(2);
  });

  it('generates with the bundled default model (MNIST) when no model is given: PNGs the digit classifier reads as the class asked for', async () => {
    const def = (await listModels()).find((m) => m.id === defaultModelId)!;
    expect(def.bundled, 'packages/models/weights/mnist is bundled').toBe(true);
    const r = await cli(['generate', '--class', '3', '--class', '8', '--count', '3', '--seed', '5', '--out', 'default-out', ...BACKEND]);
    expect(r.code, r.stderr).toBe(0);
    const dir = join(tmp, 'default-out');
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['0000-3.png', '0001-3.png', '0002-3.png', '0003-8.png', '0004-8.png', '0005-8.png', 'grid.png']); // named by the card's class names
    const { DigitClassifier } = await import('@var/metrics');
    const clf = await DigitClassifier.load(undefined, { fit: 'center-crop' });
    const imgs = files.filter((f) => f !== 'grid.png').map((f) => png(join(dir, f)));
    expect(imgs.every((i) => i.width === 32 && i.height === 32)).toBe(true);
    const x = tf.tidy(() => {
      const px = imgs.map((i) => Array.from({ length: 32 * 32 }, (_, k) => (i.data as Uint8Array)[k * i.channels] / 127.5 - 1));
      return tf.tensor4d(px.flat(), [imgs.length, 1, 32, 32]);
    });
    const pred = await clf.predict(x);
    x.dispose();
    clf.dispose();
    const asked = [3, 3, 3, 8, 8, 8];
    expect(asked.filter((c, i) => pred[i] === c).length, `classified as ${Array.from(pred)}`).toBeGreaterThanOrEqual(5); // a broken model: ~1 in 10
  });

  it('an interrupt (abort signal) stops generation: exit 130, only complete files, no grid', async () => {
    const ac = new AbortController();
    let _stdout = '';
    let stderr = '';
    const io: Io = {
      stdout: (t) => {
        _stdout += t;
        ac.abort(); // after the first written file
      },
      stderr: (t) => void (stderr += t),
      isTTY: false,
      cwd: tmp,
      signal: ac.signal,
    };
    const code = await run(
      ['generate', '--model', modelDir, '--class', '0', '--count', '3', '--batch', '1', '--seed', '9', '--out', 'aborted', ...BACKEND],
      io,
    );
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted/);
    const files = readdirSync(join(tmp, 'aborted'));
    expect(files).toEqual(['0000-class0.png']);
    expect(png(join(tmp, 'aborted', files[0])).width).toBe(size);
  });

  it('--help of every command has examples', async () => {
    for (const c of ['generate', 'edit', 'encode', 'decode', 'convert', 'eval', 'info', 'bench', 'train', 'train tokenizer', 'train var']) {
      const r = await cli([...c.split(' '), '--help']);
      expect(r.code, c).toBe(0);
      expect(r.stdout, c).toMatch(/Examples:\n\s+\$ var /);
    }
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Exit codes/);
  });
});

describe('var convert / info', () => {
  for (const part of ['var', 'vae'] as const) {
    it(`converts the fixture's ${part}.pth to safetensors equal to the fixture's ${part}.safetensors, checked against its config`, async () => {
      const out = join(tmp, `${part}.safetensors`);
      const cfgFile = join(tmp, 'config.json');
      writeFileSync(cfgFile, JSON.stringify(fc.config));
      const r = await cli(['convert', fc.path(`${part}.pth`), out, '--config', cfgFile, '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.check.ok).toBe(true);
      const got = await readSafetensors(out);
      const want = await readSafetensors(fc.path(`${part}.safetensors`));
      expect([...got.tensors.keys()].sort()).toEqual([...want.tensors.keys()].sort());
      for (const [k, t] of want.tensors) {
        const g = got.tensors.get(k)!;
        expect(g.dtype, k).toBe(t.dtype);
        expect(g.shape, k).toEqual(t.shape);
        expect(
          Buffer.compare(
            Buffer.from(g.data.buffer, g.data.byteOffset, g.data.byteLength),
            Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
          ),
          k,
        ).toBe(0);
      }
      // float16 variant halves the float data
      const r16 = await cli(['convert', fc.path(`${part}.pth`), join(tmp, `${part}-f16.safetensors`), '--float16', '--json']);
      expect(r16.code).toBe(0);
      const j16 = JSON.parse(r16.stdout);
      expect(j16.dtypes.F16).toBeGreaterThan(0);
      expect(j16.dtypes.F32 ?? 0).toBe(0);
    });
  }

  it('refuses a checkpoint that does not match the preset and writes nothing', async () => {
    const out = join(tmp, 'mismatch.safetensors');
    const r = await cli(['convert', fc.path('var.pth'), out, '--preset', 'd16']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not match preset d16; nothing written/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).some((f) => f.includes('mismatch'))).toBe(false);
    const exists = await cli(['convert', fc.path('var.pth'), join(tmp, 'var.safetensors')]);
    expect(exists.code).toBe(2); // output exists, no --force
  });

  it('info prints the parameter count of a checkpoint and of a model directory', async () => {
    const want = countParameters(varCfg);
    const r = await cli(['info', fc.path('var.safetensors'), '--no-backends']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`parameters: ${want} `);
    expect(r.stdout).toMatch(/kind: transformer/);
    const j = JSON.parse(
      (await cli(['info', fc.path('var.pth'), '--no-backends', '--json', '--config', JSON.stringify(fc.config)])).stdout,
    );
    expect(j.checkpoint.parameters).toBe(want);
    expect(j.checkpoint.configMatch.ok).toBe(true);
    expect(j.checkpoint.presetsMatched).toEqual([]);
    const v = await cli(['info', fc.path('vae.pth'), '--no-backends', '--json']);
    const vj = JSON.parse(v.stdout).checkpoint;
    expect(vj.kind).toBe('tokenizer');
    expect(vj.parameters).toBe(vaeParams(tokCfg));
    const d = await cli(['info', modelDir, '--json']);
    expect(d.code).toBe(0);
    const dj = JSON.parse(d.stdout);
    expect(dj.model.parameters.transformer).toBe(want);
    expect(dj.backends.available.find((b: { name: string }) => b.name === 'cpu').available).toBe(true);
    expect(typeof dj.backends.auto.name).toBe('string');
  });
});

describe('var encode / decode / edit', () => {
  let image: string;
  beforeAll(async () => {
    // a deterministic test picture: a bright rectangle on a gradient
    const data = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = y > size / 4 && y < (3 * size) / 4 && x > size / 3 && x < (2 * size) / 3;
        for (let c = 0; c < 3; c++) data[(y * size + x) * 3 + c] = inside ? 230 : (x * 4 + c * 40) % 256;
      }
    }
    image = join(tmp, 'picture.png');
    writeFileSync(image, encodePng({ width: size, height: size, channels: 3, data }));
  });

  it("encode → decode round trip: tokens are the tokenizer's, the decoded image is its reconstruction", async () => {
    const e = await cli([
      'encode',
      image,
      '--model',
      modelDir,
      '--out',
      'tok.safetensors',
      '--reconstructions',
      'rec',
      '--json',
      ...BACKEND,
    ]);
    expect(e.stderr).toBe('');
    expect(e.code).toBe(0);
    const ej = JSON.parse(e.stdout);
    expect(ej.patchNums).toEqual(tokCfg.vPatchNums);
    const ej2 = await cli(['encode', image, '--model', modelDir, '--out', 'tok.json', ...BACKEND]);
    expect(ej2.code).toBe(0);
    const a = await readTokens(join(tmp, 'tok.safetensors'));
    const b = await readTokens(join(tmp, 'tok.json'));
    expect(a.tokens).toEqual(b.tokens);
    const strip = png(ej.reconstructions[0]);
    expect(strip.width).toBe(2 + S * (size + 2));

    const m = await loadModel(modelDir);
    const x = imageToTensor(png(image), { channels: 3, size });
    const idx = m.vae.imgToIdx(x);
    const want = await Promise.all(idx.map(async (t) => [Array.from(await t.data())]));
    expect(a.tokens).toEqual(want);

    const d = await cli(['decode', join(tmp, 'tok.safetensors'), '--model', modelDir, '--out', 'dec', '--per-scale', '--json', ...BACKEND]);
    expect(d.code).toBe(0);
    const dj = JSON.parse(d.stdout);
    const img = m.vae.idxToImg(idx);
    const [ref] = await tensorToImages(img);
    const got = png(dj.images[0]);
    expect(Buffer.compare(Buffer.from(got.data), Buffer.from(ref.data))).toBe(0);
    tf.dispose([x, img, ...idx]);
    m.vae.dispose();
    m.var.dispose();

    const badTok = join(tmp, 'bad-tok.json');
    writeFileSync(badTok, JSON.stringify({ patchNums: [1, 2], tokens: [[[0]], [[0, 0, 0, 0]]] }));
    const bd = await cli(['decode', badTok, '--model', modelDir, ...BACKEND]);
    expect(bd.code).toBe(1);
    expect(bd.stderr).toMatch(/tokens of scales \(1,2\)/);
  });

  it("edit keeps the input's tokens outside the rectangle and writes the before/mask/after strip", async () => {
    const r = await cli([
      'edit',
      image,
      '--model',
      modelDir,
      '--rect',
      '0,0,0.5,1',
      '--class',
      '4',
      '--seed',
      '3',
      '--out',
      'edited.png',
      '--strip',
      'strip.png',
      '--tokens-out',
      'edit-tokens.json',
      '--json',
      ...BACKEND,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.mode).toBe('inpaint');
    const edited = png(j.output);
    expect([edited.width, edited.height]).toEqual([size, size]);
    expect(png(j.strip).width).toBe(2 + 3 * (size + 2));
    const doc = JSON.parse(readFileSync(join(tmp, 'edit-tokens.json'), 'utf8'));
    const m = await loadModel(modelDir);
    const x = imageToTensor(png(image), { channels: 3, size });
    const idx = m.vae.imgToIdx(x);
    let kept = 0;
    for (let si = 0; si < S; si++) {
      const input = await idx[si].data();
      const keep: number[] = doc.keep[si][0];
      keep.forEach((k, i) => {
        if (k) {
          expect(doc.tokens[si][0][i], `scale ${si} pos ${i}`).toBe(input[i]);
          kept++;
        }
      });
    }
    const last = j.keep[S - 1];
    expect(last.kept).toBeGreaterThan(0);
    expect(last.kept).toBeLessThan(last.total); // the top half was regenerated
    expect(kept).toBeGreaterThan(0);
    tf.dispose([x, ...idx]);
    m.vae.dispose();
    m.var.dispose();

    const badRect = await cli(['edit', image, '--model', modelDir, '--rect', '0,0,2,1']);
    expect(badRect.code).toBe(2);
    const both = await cli(['edit', image, '--model', modelDir, '--rect', '0,0,1,1', '--mask', image]);
    expect(both.code).toBe(2);
    const notImage = join(tmp, 'not-an-image.png');
    writeFileSync(notImage, 'hello');
    const badMask = await cli(['edit', image, '--model', modelDir, '--mask', notImage, ...BACKEND]);
    expect(badMask.code).toBe(1);
    expect(badMask.stderr).toMatch(/ImageFormatError/);
  });
});

describe('var eval / bench', () => {
  it('eval computes FID, IS, precision/recall and accuracy with the digit classifier against MNIST', async () => {
    const r = await cli(['eval', '--model', modelDir, '--count', '1', '--reference-count', '24', '--batch', '10', '--json', ...BACKEND]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.samples).toBe(varCfg.numClasses);
    expect(j.reference.images).toBe(24);
    expect(Number.isFinite(j.fid) && j.fid >= 0).toBe(true);
    expect(j.inceptionScore.mean).toBeGreaterThanOrEqual(1 - 1e-9);
    expect(j.accuracy).toBeGreaterThanOrEqual(0);
    expect(j.accuracy).toBeLessThanOrEqual(1);
    expect(j.precision).toBeGreaterThanOrEqual(0);
    expect(j.recall).toBeLessThanOrEqual(1);
    const bad = await cli(['eval', '--model', modelDir, '--metrics', 'fid,speed']);
    expect(bad.code).toBe(2);
  });

  it("bench lists the packages' benchmarks", async () => {
    const r = await cli(['bench', '--list', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const pkgs = j.benchmarks.map((b: { package: string }) => b.package);
    expect(pkgs).toContain('@var/sampling');
    for (const b of j.benchmarks) expect(b.command[0]).toBe('node');
    const bad = await cli(['bench', '--only', 'nonexistent']);
    expect(bad.code).toBe(2);
  });
});

describe('var train', () => {
  it('trains a tokenizer then a transformer through @var/train, in resumable slices', async () => {
    const folder = join(tmp, 'train-images');
    for (const [ci, cls] of ['a', 'b'].entries()) {
      for (let k = 0; k < 8; k++) {
        const data = new Uint8Array(64);
        for (let i = 0; i < 64; i++) data[i] = ((ci === 0 ? i % 8 < 4 : i < 32) ? 200 : 40) + ((i * 7 + k * 13) % 30);
        const dir = join(folder, cls);
        (await import('node:fs')).mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, `${k}.png`), encodePng({ width: 8, height: 8, channels: 1, data }));
      }
    }
    const tokCfg = {
      model: tinyTokenizerModel(),
      dataset: tinyFolderDataset(folder),
      train: { steps: 2, batchSize: 4 },
      evalSamples: 0,
    };
    const tok = await cli(['train', 'tokenizer', '--run-dir', 'runs/tok', '--config', JSON.stringify(tokCfg), '--json', ...BACKEND]);
    expect(tok.stderr).toBe('');
    expect(tok.code).toBe(0);
    const tj = JSON.parse(tok.stdout);
    expect([tj.step, tj.totalSteps, tj.done]).toEqual([2, 2, true]);
    const varCfgFile = join(tmp, 'var-train.json');
    writeFileSync(
      varCfgFile,
      JSON.stringify({
        model: { depth: 2, embedDim: 16, numHeads: 2 },
        dataset: tinyFolderDataset(folder),
        train: { steps: 3, batchSize: 4, warmupSteps: 1 },
        settings: { evalEvery: 0 },
        eval: { valSamples: 2, perClass: 0 },
      }),
    );
    const a = await cli([
      'train',
      'var',
      '--run-dir',
      'runs/var',
      '--tokenizer',
      'runs/tok',
      '--config',
      varCfgFile,
      '--stop-after',
      '1',
      '--json',
      ...BACKEND,
    ]);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    const aj = JSON.parse(a.stdout);
    expect([aj.step, aj.done]).toEqual([1, false]);
    const b = await cli(['train', 'var', '--run-dir', 'runs/var', '--tokenizer', 'runs/tok', '--config', varCfgFile, '--json', ...BACKEND]);
    expect(b.code).toBe(0);
    const bj = JSON.parse(b.stdout);
    expect([bj.step, bj.done, bj.resumedFrom]).toEqual([3, true, 1]);
    const noTok = await cli(['train', 'var', '--run-dir', 'runs/var2', '--config', varCfgFile]);
    expect(noTok.code).toBe(2);
    const wrongKind = await cli(['train', 'tokenizer', '--config', JSON.stringify({ kind: 'var', runDir: 'x' })]);
    expect(wrongKind.code).toBe(2);
    expect(wrongKind.stderr).toMatch(/use `var train var`/);
  });
});

describe('the built bin', () => {
  const built = existsSync(BIN);
  it.skipIf(!built)('runs as a child process: generate --json, usage error exit 2', async () => {
    const env = { ...process.env, CI: '1' };
    const g = await runProcess(
      process.execPath,
      [BIN, 'generate', '--model', modelDir, '--class', '0', '--seed', '7', '--out', join(tmp, 'spawned'), '--json', ...BACKEND],
      { env },
    );
    expect(g.status, g.stderr).toBe(0);
    const j = JSON.parse(g.stdout);
    expect(j.images).toHaveLength(1);
    // same seed in-process and in the bin → same bytes
    const bad = await runProcess(process.execPath, [BIN, 'generate', '--model', modelDir, '--class', 'nope'], { env });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown class "nope"/);
  });
});
