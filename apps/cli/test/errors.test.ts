/**
 * Bad input on the command line and in the files it names: every case exits with 2 (usage) or
 * 1 (a typed error, printed as `var: error: <Class>: <message>` plus a hint) — never a stack
 * trace — and leaves no output file behind. Runs `run(argv, io)` in-process on a tiny random
 * model (the fixture case's configs) saved to a temporary model directory.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@var/core';
import { encodePng } from '@var/data';
import { saveModel } from '@var/models';
import { VQVAE, fromOfficialConfig as vqvaeConfig } from '@var/tokenizer';
import { VAR, fromOfficialConfig as varConfig } from '@var/transformer';
import { loadFixtureCase } from '@var/test-helpers';
import { runCli } from './run-cli.js';

const fc = loadFixtureCase();
const tokCfg = vqvaeConfig(fc.config.VQVAE);
const varCfg = varConfig(fc.config.VAR, fc.config.VQVAE);
const BACKEND = ['--backend', 'wasm', '--threads', '1'];

let tmp: string;
let modelDir: string;
let cfgFile: string;
let image: string;
let size: number;

const cli = (args: string[]) => runCli(args, tmp);

/** Exit 1 with one `var: error: <cls>: …` line (plus a hint for most classes) and no stack trace. */
function typed(r: { code: number; stderr: string }, cls: string, re?: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`^var: error: ${cls}: `));
  expect(r.stderr.split('\n').filter(Boolean).length).toBeLessThanOrEqual(2);
  if (cls !== 'ValueError') expect(r.stderr).toMatch(/\nvar: hint: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  if (re) expect(r.stderr).toMatch(re);
}

function usage(r: { code: number; stderr: string }, re?: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  if (re) expect(r.stderr).toMatch(re);
}

const leftovers = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.startsWith('.')) : []);

beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
  tmp = mkdtempSync(join(tmpdir(), 'var-cli-errors-'));
  modelDir = join(tmp, 'tiny');
  const vae = VQVAE.create(tokCfg, { seed: 1 });
  const model = VAR.create(varCfg, { seed: 2 });
  size = vae.imageSize;
  await saveModel(modelDir, {
    vae,
    var: model,
    card: {
      id: 'tiny',
      name: 'tiny random model',
      dataset: { name: 'none' },
      classNames: Array.from({ length: fc.config.VAR.num_classes as number }, (_, i) => `c${i}`),
    },
  });
  vae.dispose();
  model.dispose();
  cfgFile = join(tmp, 'config.json');
  writeFileSync(cfgFile, JSON.stringify(fc.config));
  image = join(tmp, 'picture.png');
  writeFileSync(
    image,
    encodePng({ width: size, height: size, channels: 3, data: new Uint8Array(size * size * 3).map((_, i) => (i * 7) % 256) }),
  );
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('var generate', () => {
  it('sampler options out of range or not numbers are usage errors', async () => {
    for (const bad of [
      ['--cfg', '-1'],
      ['--cfg', 'NaN'],
      ['--top-k', '-1'],
      ['--top-k', '1.5'],
      ['--top-p', '1.5'],
      ['--top-p', 'x'],
      ['--count', '0'],
      ['--batch', '0'],
    ]) {
      usage(await cli(['generate', '--model', modelDir, ...bad, ...BACKEND]), new RegExp(bad[0]));
    }
  });

  it('an output location that cannot be written is a DataIOError (exit 1) naming the path', async () => {
    const blocker = join(tmp, 'a-file');
    writeFileSync(blocker, 'x');
    const r = await cli(['generate', '--model', modelDir, '--class', '0', '--seed', '1', '--out', join(blocker, 'out'), ...BACKEND]);
    typed(r, 'DataIOError', /a-file/);
    expect(readFileSync(blocker, 'utf8')).toBe('x');
  });

  it('truncated, corrupt or mismatched --vae/--var checkpoints are CheckpointErrors', async () => {
    const bytes = readFileSync(fc.path('var.safetensors'));
    const truncated = join(tmp, 'truncated.safetensors');
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    typed(
      await cli(['generate', '--vae', fc.path('vae.safetensors'), '--var', truncated, '--config', cfgFile, '--class', '0', ...BACKEND]),
      'CheckpointError',
      /truncated\.safetensors/,
    );
    const garbage = join(tmp, 'garbage.pth');
    writeFileSync(garbage, 'PK\u0003\u0004 not really a zip');
    typed(
      await cli(['generate', '--vae', fc.path('vae.safetensors'), '--var', garbage, '--config', cfgFile, '--class', '0', ...BACKEND]),
      'CheckpointError',
    );
    // the weights of the case with a config that describes another model
    const other = { ...fc.config, VAR: { ...fc.config.VAR, depth: fc.config.VAR.depth + 1 } };
    const mismatch = [
      'generate',
      '--vae',
      fc.path('vae.pth'),
      '--var',
      fc.path('var.pth'),
      '--config',
      JSON.stringify(other),
      '--class',
      '0',
      ...BACKEND,
    ];
    typed(await cli(mismatch), 'CheckpointError');
    // the key list is in the details (--verbose)
    const v = await cli([...mismatch, '--verbose']);
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(new RegExp(`blocks\\.${fc.config.VAR.depth}\\.`));
    // tokenizer and transformer swapped
    typed(
      await cli(['generate', '--vae', fc.path('var.pth'), '--var', fc.path('vae.pth'), '--config', cfgFile, '--class', '0', ...BACKEND]),
      'CheckpointError',
    );
  });
});

describe('var convert / info', () => {
  it('a truncated .pth or a file that is no checkpoint is a CheckpointError and nothing is written', async () => {
    const bytes = readFileSync(fc.path('vae.pth'));
    const truncated = join(tmp, 'cut.pth');
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const out = join(tmp, 'conv');
    mkdirSync(out, { recursive: true });
    typed(await cli(['convert', truncated, join(out, 'cut.safetensors')]), 'CheckpointError');
    const junk = join(tmp, 'junk.safetensors');
    writeFileSync(junk, new Uint8Array(64).fill(0xff));
    typed(await cli(['convert', junk, join(out, 'junk.safetensors')]), 'CheckpointError');
    expect(readdirSync(out)).toEqual([]);
    typed(await cli(['info', truncated, '--no-backends']), 'CheckpointError');
    typed(await cli(['info', junk, '--no-backends']), 'CheckpointError');
  });

  it('a missing input is a usage error; an unwritable output is a CheckpointError with no temporary file left', async () => {
    usage(await cli(['convert', join(tmp, 'nope.pth'), join(tmp, 'x.safetensors')]), /no such file/);
    usage(await cli(['info', join(tmp, 'nope.safetensors'), '--no-backends']), /no such file or model/);
    usage(
      await cli(['convert', fc.path('vae.pth'), join(tmp, 'y.safetensors'), '--config', '{nope']),
      /--config: inline JSON cannot be read as JSON/,
    );
    usage(
      await cli(['convert', fc.path('vae.pth'), join(tmp, 'y.safetensors'), '--config', join(tmp, 'nope.json')]),
      /--config: .*nope\.json cannot be read as JSON/,
    );
    const r = await cli(['convert', fc.path('vae.pth'), join(tmp, 'missing-dir', 'vae.safetensors')]);
    typed(r, 'CheckpointError', /cannot write checkpoint .*missing-dir/);
    expect(r.stderr).toMatch(/hint: check the path and its permissions/);
    expect(leftovers(tmp)).toEqual([]);
  });

  it('a state dict with unknown keys does not match the config: CheckpointError naming the keys, nothing written', async () => {
    const { loadStateDict, writeSafetensors } = await import('@var/checkpoint');
    const sd = await loadStateDict(fc.path('var.safetensors'));
    sd.set('blocks.99.attn.unknown', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    const extra = join(tmp, 'extra-key.safetensors');
    await writeSafetensors(extra, sd);
    const out = join(tmp, 'extra-out.safetensors');
    typed(await cli(['convert', extra, out, '--config', cfgFile]), 'CheckpointError', /nothing written/);
    expect(existsSync(out)).toBe(false);
    const j = JSON.parse((await cli(['info', extra, '--no-backends', '--json', '--config', cfgFile])).stdout);
    expect(j.checkpoint.configMatch.ok).toBe(false);
    expect(JSON.stringify(j.checkpoint.configMatch)).toContain('blocks.99.attn.unknown');
  });
});

describe('var encode / decode / edit', () => {
  it('missing inputs are usage errors; files that are not images are ImageFormatErrors', async () => {
    usage(await cli(['encode', join(tmp, 'nope.png'), '--model', modelDir, ...BACKEND]), /no such image/);
    usage(await cli(['edit', join(tmp, 'nope.png'), '--model', modelDir, '--rect', '0,0,0.5,0.5', ...BACKEND]), /no such image/);
    usage(await cli(['decode', join(tmp, 'nope.json'), '--model', modelDir, ...BACKEND]), /no such tokens file/);
    const text = join(tmp, 'text.png');
    writeFileSync(text, 'not a picture');
    typed(await cli(['encode', text, '--model', modelDir, '--out', 'tok.json', ...BACKEND]), 'ImageFormatError', /text\.png/);
    typed(await cli(['edit', text, '--model', modelDir, '--rect', '0,0,0.5,0.5', '--out', 'e.png', ...BACKEND]), 'ImageFormatError');
    usage(await cli(['edit', image, '--model', modelDir, '--rect', '0,0,0.5,0.5', '--out', 'e.jpg', ...BACKEND]), /\.png/);
    usage(await cli(['edit', image, '--model', modelDir, '--rect', '0.5,0,0.2,1', ...BACKEND]), /y1 > y0/);
    expect(existsSync(join(tmp, 'tok.json'))).toBe(false);
    expect(existsSync(join(tmp, 'e.png'))).toBe(false);
  }, 300_000);

  it('token files that are not token files, or hold tokens outside the vocabulary, are ValueErrors', async () => {
    const notTokens = join(tmp, 'not-tokens.json');
    writeFileSync(notTokens, JSON.stringify({ hello: 1 }));
    typed(await cli(['decode', notTokens, '--model', modelDir, ...BACKEND]), 'ValueError', /not a tokens file/);
    const pn: number[] = tokCfg.vPatchNums;
    const outside = join(tmp, 'outside.json');
    writeFileSync(outside, JSON.stringify({ patchNums: pn, tokens: pn.map((p) => [new Array(p * p).fill(tokCfg.vocabSize)]) }));
    typed(
      await cli(['decode', outside, '--model', modelDir, '--out', 'dec', ...BACKEND]),
      'ValueError',
      new RegExp(`token ${tokCfg.vocabSize} outside the vocabulary`),
    );
    expect(existsSync(join(tmp, 'dec'))).toBe(false);
  });
});

describe('var train', () => {
  it('configs that do not parse or do not validate are usage errors or ConfigErrors', async () => {
    usage(await cli(['train', 'tokenizer', '--run-dir', 'runs/x', '--config', '{not json', ...BACKEND]), /not valid JSON/);
    usage(await cli(['train', 'tokenizer', '--run-dir', 'runs/x', '--config', join(tmp, 'nope.json'), ...BACKEND]), /no such file/);
    const bad = { model: { ch: 48 }, dataset: { name: 'mnist', size: 32 }, train: { steps: 1, batchSize: 2 } };
    typed(await cli(['train', 'tokenizer', '--run-dir', 'runs/bad', '--config', JSON.stringify(bad), ...BACKEND]), 'ConfigError', /ch/);
  }, 400_000); // the first `var train` imports @var/train
});
