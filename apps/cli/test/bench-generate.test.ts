/**
 * `var bench --generate` on the fixture case only (tiny, 1 wasm thread, cpu and wasm, plus the
 * webgpu row: run on a hardware adapter, otherwise skipped with the reason). Runs the built
 * dist/bench-child.js in child processes (`pnpm build` first, as CI does). Takes seconds on
 * an idle machine.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadFixtureCase } from '@var/test-helpers';
import { fromOfficialConfig as vqvaeConfig } from '@var/tokenizer';
import { fromOfficialConfig as varConfig } from '@var/transformer';
import { runCli } from './run-cli.js';
import { MAIN_COLUMNS, checkResult, type CaseResult, type GenerateBenchReport } from '../src/bench/generate-report.js';
import { decodeFlops, transformerFlops } from '../src/bench/flops.js';

const fc = loadFixtureCase();
const tmp = mkdtempSync(join(tmpdir(), 'var-bench-gen-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cli = (args: string[]) => runCli(args, tmp);

describe('var bench --generate', () => {
  it('tiny case on cpu and wasm (1 thread): every column, sane values, no leaks; webgpu run or skipped with a reason', async () => {
    const out = join(tmp, 'benchmarks.md');
    const r = await cli([
      'bench',
      '--generate',
      '--cases',
      'tiny',
      '--threads',
      '1',
      '--peak-size',
      '256',
      '--fixture',
      fc.dir,
      '--out',
      out,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as GenerateBenchReport;
    const patchNums: number[] = fc.config.VAR.patch_nums;
    const vCfg = varConfig(fc.config.VAR, fc.config.VQVAE);
    const tCfg = vqvaeConfig(fc.config.VQVAE);
    expect(rep.rows.map((x) => `${x.case} ${x.backend} ${x.threads ?? '-'}`)).toEqual(['tiny cpu -', 'tiny wasm 1', 'tiny webgpu -']);
    const results = rep.rows.flatMap((x) => (x.status === 'ok' ? [x.result] : []));
    expect(results.map((x) => x.backend).slice(0, 2)).toEqual(['cpu', 'wasm']);
    const web = rep.rows[2];
    if (web.status !== 'ok') {
      expect(web.status).toBe('skipped');
      expect(web.reason.length).toBeGreaterThan(10);
    }
    for (const x of results as CaseResult[]) {
      expect(checkResult(x), `${x.backend}`).toEqual([]);
      expect(x.leakedTensors).toBe(0);
      expect(x.scaleMs).toHaveLength(patchNums.length);
      for (const v of [x.totalMs, x.transformerMs, x.samplingMs, x.decodeMs, ...x.scaleMs]) expect(v).toBeGreaterThan(0);
      for (const v of [x.transformerGflops, x.decodeGflops, x.peakGflops]) {
        expect(Number.isFinite(v)).toBe(true);
        expect(v).toBeGreaterThan(0);
      }
      expect(x.maxRssMB).toBeGreaterThan(10);
      expect(x.config.patchNums).toEqual(patchNums);
      expect(x.config.imageSize).toBe(fc.config.img_size);
      expect(x.transformerGflop * 1e9).toBeCloseTo(transformerFlops(vCfg, 2).total, -1);
      expect(x.decodeGflop * 1e9).toBeCloseTo(decodeFlops(tCfg, 1), -1);
      expect(x.imageShape).toEqual([1, 3, fc.config.img_size, fc.config.img_size]);
    }
    expect(results[1].threads).toBe(1);
    expect(rep.machine.cores).toBeGreaterThan(0);
    expect(rep.machine.memoryGiB).toBeGreaterThan(0);

    const md = readFileSync(out, 'utf8');
    const header = md.split('\n').find((l) => l.startsWith('| case |'))!;
    expect(
      header
        .split('|')
        .map((c) => c.trim())
        .filter(Boolean),
    ).toEqual([...MAIN_COLUMNS]);
    const rowsMd = md.split('\n').filter((l) => l.startsWith('| tiny |'));
    expect(rowsMd).toHaveLength(3);
    for (const l of rowsMd.slice(0, 2)) expect(l.split('|').length).toBe(MAIN_COLUMNS.length + 2);
    expect(rowsMd[2]).toMatch(web.status === 'ok' ? /\| tiny \| webgpu/ : /\| skipped: \S/);
    for (const want of [
      `Node ${process.version}`,
      `TensorFlow.js (tfjs-core) ${results[0].tfjsVersion}`,
      `${rep.machine.cores} cores`,
      'GiB memory',
      rep.date,
      `| ${patchNums.map((pn, si) => `s${si} ${pn}×${pn}`).join(' | ')} |`,
      'do not edit by hand',
    ]) {
      expect(md).toContain(want);
    }
  }, 900_000);

  it('rejects bad options with usage errors (exit 2)', async () => {
    for (const args of [
      ['--cases', 'tiny,huge'],
      ['--threads', '0'],
      ['--backends', 'gpu'],
      ['--peak-size', 'x'],
      ['--fixture', join(tmp, 'nowhere')],
    ]) {
      const r = await cli(['bench', '--generate', '--cases', 'tiny', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^var: error: /);
    }
  });
});
