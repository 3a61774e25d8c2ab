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
import {
  LOAD_COLUMNS,
  MAIN_COLUMNS,
  TORCH_COLUMNS,
  checkLoad,
  checkResult,
  renderMarkdown,
  renderScaling,
  type CaseResult,
  type GenerateBenchReport,
} from '../src/bench/generate-report.js';
import { findTorchPython, probeTorchBlas, type TorchAnchorResult } from '../src/bench/torch-side.js';
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
    const mdLines = md.split('\n');
    const mainAt = mdLines.indexOf(header);
    const mainTable = mdLines.slice(mainAt, mdLines.indexOf('', mainAt));
    const rowsMd = mainTable.filter((l) => l.startsWith('| tiny |'));
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

    // The PyTorch side: run for tiny when a python with torch and the reference code are here, otherwise skipped with the reason.
    const cols = (l: string) =>
      l
        .split('|')
        .map((c) => c.trim())
        .filter(Boolean);
    expect(rep.torch).toBeDefined();
    expect(rep.torchRows).toHaveLength(1);
    const t = rep.torchRows![0];
    if (rep.torch!.skipped) {
      expect(t.status).toBe('skipped');
      expect(md).toContain(`PyTorch side skipped: ${rep.torch!.skipped}`);
    } else {
      expect(t.status, JSON.stringify(t)).toBe('ok');
      if (t.status !== 'ok') return;
      expect(t.result.config).toBe('tiny');
      expect(t.result.median_total_s).toBeGreaterThan(0);
      expect(t.result.params_var).toBe(results[0].config.varParams);
      const head = md.split('\n').find((l) => l.startsWith('| case | backend | threads | var.ts total s'))!;
      expect(cols(head)).toEqual([...TORCH_COLUMNS]);
      const side = md.split('\n').filter((l) => /^\| tiny \| (cpu|wasm) \| .* \| [0-9.]+× \|/.test(l));
      expect(side).toHaveLength(2);
      const wasm = results[1];
      expect(side[1]).toContain(`${(wasm.totalMs / 1000 / t.result.median_total_s).toFixed(2)}×`);
    }
    // Loading: the fixture's .pth and .safetensors, every byte in the progress, the weights in backend memory, nothing leaked.
    expect(rep.load).toHaveLength(1);
    const ld = rep.load![0];
    expect(ld.model).toBe('tiny');
    expect(ld.rows.map((x) => (x.status === 'ok' ? x.result.format : `${x.format} ${x.status}`))).toEqual(['pth', 'safetensors']);
    for (const x of ld.rows) if (x.status === 'ok') expect(checkLoad(x.result), x.result.format).toEqual([]);
    expect(ld.torch.status).toBe(rep.torch!.skipped ? 'skipped' : 'ok');
    const loadHead = md.split('\n').find((l) => l.startsWith('| model | format |'))!;
    expect(cols(loadHead)).toEqual([...LOAD_COLUMNS]);
    expect(md.split('\n').filter((l) => /^\| tiny \| (pth|safetensors) \| wasm \| 1 \|/.test(l))).toHaveLength(2);
  }, 900_000);

  it('the side-by-side table: var.ts / PyTorch ratios and the issue targets marked met or missed by how much', () => {
    const row = (threads: number, totalMs: number, maxRssMB: number): CaseResult =>
      ({
        case: 'd16',
        backend: 'wasm',
        threads,
        backendDetail: null,
        config: { patchNums: [1, 2], imageSize: 256 },
        totalMs,
        decodeMs: 5000,
        transformerMs: 1,
        samplingMs: 1,
        otherMs: 0,
        scaleMs: [1, 1],
        transformerScaleMs: [1, 1],
        samplingScaleMs: [0, 0],
        transformerGflops: 1,
        decodeGflops: 1,
        peakGflops: 2,
        maxRssMB,
        leakedTensors: 0,
        buildMs: 1,
      }) as unknown as CaseResult;
    const torch: TorchAnchorResult = {
      config: 'd16',
      runs: 2,
      median_total_s: 20,
      min_total_s: 19,
      median_decode_s: 4,
      params_var: 1,
      params_vae: 1,
      peak_rss_mib: 2000,
      torch: '1.13',
    };
    const rep: GenerateBenchReport = {
      command: 'bench --generate',
      date: 'now',
      machine: { cpu: 'x', cores: 2, memoryGiB: 1, freeMemoryGiB: 1, os: 'linux', node: 'v20', loadAverageStart: [1, 1, 1] },
      tfjsVersion: '4',
      args: '',
      webgpu: null,
      rows: [
        { status: 'ok', case: 'd16', backend: 'wasm', threads: 1, result: row(1, 50_000, 1500) },
        { status: 'ok', case: 'd16', backend: 'wasm', threads: 2, result: row(2, 36_000, 2500) },
      ],
      torch: { python: '/usr/bin/python3', torch: '1.13', anchor: 'torch_anchor.py', skipped: null },
      torchRows: [{ status: 'ok', case: 'd16', result: torch }],
      seconds: 1,
    };
    const lines = renderMarkdown(rep)
      .split('\n')
      .filter((l) => l.startsWith('| d16 | wasm |') && l.includes('×'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('| 2.50× |'); // 50 s / 20 s
    expect(lines[0]).toContain('(targets compare 2 threads)');
    expect(lines[1]).toContain('| 1.80× |'); // 36 s / 20 s
    expect(lines[1]).toContain('| 1.25× |'); // decode 5 s / 4 s, RSS 2500 / 2000
    expect(lines[1]).toContain('total ≤ 1.5×: missed by 0.30×; RSS ≤ 1×: missed by 0.25×');
    rep.rows[1] = { status: 'ok', case: 'd16', backend: 'wasm', threads: 2, result: row(2, 28_000, 1800) };
    expect(renderMarkdown(rep)).toContain('total ≤ 1.5×: met; RSS ≤ 1×: met');
    // PyTorch's BLAS is shown; netlib's reference BLAS is flagged as no baseline
    rep.torch = {
      ...rep.torch!,
      blas: { library: '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3', reference: false, peakGflops: 150, n: 1024 },
    };
    expect(renderMarkdown(rep)).toContain(
      "PyTorch's BLAS: `/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3`; its 1024×1024×1024 float32 matMul on 2 threads: 150.0 GFLOP/s",
    );
    expect(renderMarkdown(rep)).not.toContain('reference BLAS');
    rep.torch = { ...rep.torch, blas: { library: '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3', reference: true, peakGflops: 3, n: 1024 } };
    expect(renderMarkdown(rep)).toContain("**Warning: this is netlib's reference BLAS");
    rep.torch = { python: null, torch: null, anchor: null, skipped: 'no python with torch' };
    rep.torchRows = [{ status: 'skipped', case: 'd16', reason: 'no python with torch' }];
    const md = renderMarkdown(rep);
    expect(md).toContain('PyTorch side skipped: no python with torch.');
    expect(md).not.toContain('| PyTorch total s |');
  });

  it("probes PyTorch's BLAS and its matMul rate (skipped without a python that has torch)", async (ctx) => {
    const py = await findTorchPython();
    if (!py.python) {
      console.log(`skipped: no python with torch (${py.tried.join('; ')})`);
      ctx.skip();
      return;
    }
    const b = await probeTorchBlas(py.python, 256);
    expect(b).not.toBeNull();
    expect(b!.n).toBe(256);
    expect(b!.peakGflops).toBeGreaterThan(0);
    expect(b!.library, 'a BLAS library mapped in the torch process').toMatch(/blas/i);
    console.log(`PyTorch BLAS ${b!.library} (reference: ${b!.reference}), 256³ matMul ${b!.peakGflops.toFixed(1)} GFLOP/s`);
  });

  it('d20 against d16: time ratios beside FLOP ratios, per backend and thread count', () => {
    const r = (
      c: 'd16' | 'd20',
      threads: number,
      totalMs: number,
      transformerMs: number,
      tf: number,
      df: number,
    ): { result: CaseResult } => ({
      result: {
        case: c,
        backend: 'wasm',
        threads,
        totalMs,
        transformerMs,
        transformerGflop: tf,
        decodeGflop: df,
        maxRssMB: 5000,
      } as unknown as CaseResult,
    });
    const L: string[] = [];
    renderScaling(
      [r('d16', 2, 50_000, 40_000, 600, 400), r('d20', 2, 80_000, 70_000, 1200, 400), r('d20', 1, 90_000, 80_000, 1200, 400)],
      L,
    );
    const rows = L.filter((l) => l.startsWith('| wasm |'));
    expect(rows).toHaveLength(1); // the 1-thread d20 has no d16 beside it
    expect(rows[0]).toContain('| 1.60× | 1.60× |'); // 80 / 50 s; 1600 / 1000 GFLOP
    expect(rows[0]).toContain('| 1.75× | 2.00× |'); // transformer 70 / 40 s; 1200 / 600 GFLOP
    const none: string[] = [];
    renderScaling([r('d16', 2, 50_000, 40_000, 600, 400)], none);
    expect(none).toEqual([]);
  });

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
