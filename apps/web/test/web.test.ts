/**
 * End-to-end test of the browser demo: builds the app with Vite, serves it (with COOP/COEP)
 * together with a tiny random model, drives Debian's chromium with Playwright, and checks
 * that the page generates the same tokens as the Node API (same weights, seed and options)
 * on wasm and on WebGPU (SwiftShader), that an in-painting edit matches Node's `edit`, that
 * Stop cancels, and that the page reports its backend. With the bundled models: the result
 * canvases hold the CLI's pixels for the same seed (gray stays gray), uploads edit on both
 * models, opened checkpoint files load and are cached, the cache serves models with the model
 * server down, and every bad input gets a message while the page keeps working.
 * Screenshots go to test-results/.
 */
import { createServer, type Server } from 'node:http';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@var/core';
import { decodeImage, encodePng, imageToTensor } from '@var/data';
import { defaultModelId, loadModel, saveModel, disposeModel, type LoadedModel } from '@var/models';
import { edit, generate } from '@var/sampling';
import { VQVAE, fromOfficialConfig as vqvaeConfig } from '@var/tokenizer';
import { VAR, fromOfficialConfig as varConfig } from '@var/transformer';
import { loadFixtureCase, repoRoot, runProcess } from '@var/test-helpers';
import { zipSync } from 'fflate';
import type { Browser, BrowserContext, Page } from 'playwright-core';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = join(appDir, 'test-results');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const MODEL_PATH = '/test-model/';
const FLAGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--use-angle=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
};

/** Switches of a test server: `down` prefixes drop their connections (the model server is unreachable). */
interface ServeControl {
  down: Set<string>;
}

/**
 * A static server for `routes` (URL prefix → directory) with cross-origin isolation headers.
 * A route whose directory is `'html'` answers every path with an HTML page (a misconfigured
 * model URL).
 */
function serve(routes: Array<[string, string]>, control: ServeControl = { down: new Set() }): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    for (const [prefix, dir] of routes) {
      if (!path.startsWith(prefix)) continue;
      if (control.down.has(prefix)) {
        req.socket.destroy();
        return;
      }
      if (dir === 'html') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cross-Origin-Resource-Policy': 'same-origin' });
        res.end('<!doctype html><title>Not here</title><p>This is a web page, not a model.</p>');
        return;
      }
      let file = normalize(join(dir, path.slice(prefix.length)));
      if (!file.startsWith(dir)) break;
      if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
      if (!existsSync(file)) break;
      res.writeHead(200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Content-Length': String(statSync(file).size),
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
        'Cross-Origin-Resource-Policy': 'same-origin',
        'Cache-Control': 'no-store',
      });
      createReadStream(file).pipe(res);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, origin: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` });
    }),
  );
}

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`[web test] ${CHROMIUM} not found: install Debian's chromium (.ci/system-deps.sh does); skipping`);

describe.skipIf(!haveChromium)('@var/web in chromium', () => {
  const fc = loadFixtureCase();
  let tmp: string;
  let server: Server;
  let origin: string;
  let registryServer: Server;
  let registryOrigin: string;
  let browser: Browser;
  let model: LoadedModel;
  let outDir: string;
  const log: string[] = [];

  beforeAll(async () => {
    mkdirSync(resultsDir, { recursive: true });
    tmp = mkdtempSync(join(tmpdir(), 'var-web-'));
    outDir = join(tmp, 'dist');
    const modelDir = join(tmp, 'test-model');
    const { build, createLogger } = await import('vite');
    // The production build of the app (the test serves the built files, not the dev server).
    const building = build({
      root: appDir,
      configFile: join(appDir, 'vite.config.ts'),
      logLevel: 'error',
      customLogger: createLogger('error'),
      build: { outDir, emptyOutDir: true },
    });
    await initBackend('cpu');
    const tokCfg = vqvaeConfig(fc.config.VQVAE);
    const varCfg = varConfig(fc.config.VAR, fc.config.VQVAE);
    const vae = VQVAE.create(tokCfg, { seed: 11 });
    const net = VAR.create(varCfg, { seed: 12 });
    await saveModel(modelDir, {
      vae,
      var: net,
      card: {
        id: 'test-model',
        name: 'tiny random test model',
        dataset: { name: 'none (random weights)' },
        classNames: Array.from({ length: varCfg.numClasses }, (_, i) => `c${i}`),
      },
    });
    // The same weights as the registry's default model id, for the "bundled default model" path.
    await saveModel(join(tmp, 'registry', defaultModelId), {
      vae,
      var: net,
      card: {
        id: defaultModelId,
        name: 'tiny random stand-in (test only)',
        dataset: { name: 'none (random weights)' },
        classNames: Array.from({ length: varCfg.numClasses }, (_, i) => `c${i}`),
      },
    });
    vae.dispose();
    net.dispose();
    // The Node reference loads the same float16 files the page fetches.
    model = await loadModel(modelDir);
    await building;
    // The main server has an empty models/ folder (whatever weights the build bundles): no registry model is available there.
    mkdirSync(join(tmp, 'no-models'));
    ({ server, origin } = await serve([
      [MODEL_PATH, modelDir],
      ['/models/', join(tmp, 'no-models')],
      ['/', outDir],
    ]));
    ({ server: registryServer, origin: registryOrigin } = await serve([
      ['/models/', join(tmp, 'registry')],
      ['/', outDir],
    ]));
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS }); // launch() gives chromium a fresh temporary --user-data-dir
  });

  afterAll(async () => {
    if (log.length) console.info(`[web test] browser console:\n${log.slice(0, 60).join('\n')}`);
    await browser?.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    await new Promise((r) => (registryServer ? registryServer.close(r) : r(undefined)));
    if (model) disposeModel(model);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  async function open(backend: string, extra = ''): Promise<{ page: Page; state: any }> {
    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    const t0 = Date.now();
    page.on('console', (m) => log.push(`[${backend}] ${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`[${backend}] pageerror: ${e.message}`));
    await page.goto(`${origin}/?backend=${backend}&model=${MODEL_PATH}${extra}`);
    await page.waitForFunction(() => ['ready', 'error', 'no-model'].includes((window as any).__var?.state), null, { timeout: 90_000 });
    const state = JSON.parse(await page.evaluate(() => JSON.stringify((window as any).__var)));
    console.info(`[web test] ${backend}: page ${state.state} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return { page, state };
  }

  async function fill(
    page: Page,
    p: { label: number; cfg: number; topK: number; topP: number; seed: number; count: number },
  ): Promise<void> {
    await page.selectOption('#class', String(p.label));
    await page.fill('#cfg', String(p.cfg));
    await page.fill('#topk', String(p.topK));
    await page.fill('#topp', String(p.topP));
    await page.fill('#seed', String(p.seed));
    await page.fill('#count', String(p.count));
  }

  async function runAndWait(page: Page, button: string, runsBefore: number): Promise<any> {
    await page.click(button);
    await page.waitForFunction((n) => (window as any).__var.runs > n || (window as any).__var.error, runsBefore, { timeout: 90_000 });
    const s = JSON.parse(await page.evaluate(() => JSON.stringify((window as any).__var)));
    if (s.error) throw new Error(`page error: ${s.error}\n${log.join('\n')}`);
    return s.last;
  }

  const params = { label: 3, cfg: 2, topK: 0, topP: 0.9, seed: 1234, count: 2 };
  let nodeTokens: number[][];
  /** Node's decoded images, (B, 3, H, W) in [0, 1]. */
  let nodeImages: { data: Float32Array; shape: number[] };

  async function expected(): Promise<number[][]> {
    if (nodeTokens) return nodeTokens;
    const r = await generate(model.vae, model.var, {
      labels: params.label,
      count: params.count,
      cfg: params.cfg,
      topK: params.topK,
      topP: params.topP,
      seed: params.seed,
    });
    nodeImages = { data: (await r.images!.data()) as Float32Array, shape: r.images!.shape };
    r.images!.dispose();
    r.fHat.dispose();
    nodeTokens = r.tokens.map((t) => Array.from(t));
    return nodeTokens;
  }

  it("wasm: reports the backend, generates the Node API's tokens, in-paints like Node's edit, and stops", async () => {
    const { page, state } = await open('wasm', '&delay=300');
    try {
      expect(state.state, `page state (error: ${state.error})\n${log.join('\n')}`).toBe('ready');
      expect(state.backend.name).toBe('wasm');
      expect(state.backend.crossOriginIsolated).toBe(true);
      const badge = await page.textContent('#backend-name');
      expect(badge).toContain('wasm');
      expect(await page.textContent('#backend-reason')).toMatch(/wasm/);
      console.info(`[web test] wasm backend: ${state.backend.reason}`);

      await fill(page, params);
      // Mid-generation screenshot (slow motion keeps each scale on screen for 300 ms).
      await page.click('#generate');
      await page.waitForSelector('.scale:not(.pending)[data-si="1"]', { timeout: 60_000 });
      await page.screenshot({ path: join(resultsDir, 'web-generating.png'), fullPage: true });
      await page.waitForFunction(() => (window as any).__var.runs >= 1 || (window as any).__var.error, null, { timeout: 90_000 });
      const last = JSON.parse(await page.evaluate(() => JSON.stringify((window as any).__var.last)));
      expect(last.kind).toBe('generate');
      expect(last.labels).toEqual(new Array(params.count).fill(params.label));
      expect(last.scales.map((s: any) => s.pn)).toEqual(fc.config.VAR.patch_nums);
      console.info(
        `[web test] wasm: generated in ${(last.ms / 1000).toFixed(1)} s (with 300 ms pauses); per scale ${last.scales.map((s: any) => `${s.pn}×${s.pn}: ${s.ms.toFixed(0)} ms`).join(', ')}`,
      );
      expect(last.tokens).toEqual(await expected());
      expect(await page.locator('.result canvas').count()).toBe(params.count);

      // Download result #1 as PNG: the model's resolution, the pixels Node decodes (up to rounding).
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator('.result .download').nth(1).click()]);
      expect(download.suggestedFilename()).toMatch(/\.png$/);
      const png = decodeImage(readFileSync((await download.path())!));
      const [, , H0, W0] = nodeImages.shape;
      expect([png.width, png.height]).toEqual([W0, H0]);
      let maxDiff = 0;
      for (let i = 0; i < H0 * W0; i++) {
        for (let c = 0; c < 3; c++) {
          const want = Math.round(nodeImages.data[(1 * 3 + c) * H0 * W0 + i] * 255);
          maxDiff = Math.max(maxDiff, Math.abs((png.data as Uint8Array)[i * png.channels + c] - want));
        }
      }
      console.info(`[web test] downloaded PNG vs Node's decoded image: max |diff| = ${maxDiff}/255`);
      expect(maxDiff).toBeLessThanOrEqual(2);
      await page.screenshot({ path: join(resultsDir, 'web-wasm.png'), fullPage: true });

      // Stop: start a slow run and cancel it.
      await page.selectOption('#delay', '1000');
      await page.click('#generate');
      await page.waitForSelector('.scale:not(.pending)[data-si="0"]', { timeout: 60_000 });
      await page.click('#stop');
      await page.waitForFunction(() => (window as any).__var.state === 'ready', null, { timeout: 30_000 });
      expect(await page.textContent('#run-status')).toBe('stopped');
      expect(await page.evaluate(() => (window as any).__var.runs)).toBe(1);
      await page.selectOption('#delay', '0');

      // Edit result #0: draw a rectangle over its upper-left part and in-paint it.
      await page.locator('.result .edit-this').first().click();
      await page.check('input[name=tool][value=rect]');
      await page.check('input[name=mode][value=inpaint]');
      await page.selectOption('#edit-class', String(params.label + 1));
      const box = (await page.locator('#edit-mask').boundingBox())!;
      await page.mouse.move(box.x + 2, box.y + 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3, { steps: 4 });
      await page.mouse.move(box.x + box.width * 0.55, box.y + box.height * 0.6, { steps: 4 });
      await page.mouse.up();
      const ed = await runAndWait(page, '#edit', 1);
      await page.screenshot({ path: join(resultsDir, 'web-edit.png'), fullPage: true });
      expect(ed.kind).toBe('edit');
      const exp = await expected();
      const S = exp.length;
      // The edit started from result #0's tokens.
      expect(ed.inputTokens).toEqual(exp.map((t) => t.slice(0, t.length / params.count)));
      const flat = ed.mask.flat();
      expect(flat.some((v: number) => v < 0.5)).toBe(true); // something to generate
      expect(flat.some((v: number) => v > 0.5)).toBe(true); // something to keep
      expect(ed.mask[4][4]).toBeLessThan(0.5); // the painted corner is regenerated
      const r = await edit(model.vae, model.var, {
        labels: params.label + 1,
        count: params.count,
        cfg: params.cfg,
        topK: params.topK,
        topP: params.topP,
        seed: params.seed,
        inputTokens: ed.inputTokens.map((t: number[]) => Int32Array.from(t)),
        mask: ed.mask,
        decode: false,
      });
      r.fHat.dispose();
      expect(ed.tokens).toEqual(r.tokens.map((t) => Array.from(t)));
      expect(ed.keep).toEqual(r.keep!.map((k) => Array.from(k)));
      // Kept tokens of the last scale are the input's; some were regenerated.
      const keepLast: number[] = ed.keep[S - 1];
      const L = exp[S - 1].length / params.count;
      expect(keepLast.some((k) => k === 0) && keepLast.some((k) => k === 1)).toBe(true);
      keepLast.forEach((k, i) => {
        if (k === 1) expect(ed.tokens[S - 1][i]).toBe(ed.inputTokens[S - 1][i % L]);
      });

      // Upload a PNG (an image Node generated and encoded), paint a brush stroke, out-paint.
      const g = await generate(model.vae, model.var, { labels: 5 % fc.config.VAR.num_classes, seed: 77, cfg: 1 });
      const [, , H, W] = g.images!.shape;
      const px = await g.images!.data();
      const rgb = new Uint8Array(H * W * 3);
      for (let i = 0; i < H * W; i++) for (let c = 0; c < 3; c++) rgb[3 * i + c] = Math.round(px[c * H * W + i] * 255);
      g.images!.dispose();
      g.fHat.dispose();
      const pngPath = join(tmp, 'upload.png');
      writeFileSync(pngPath, encodePng({ width: W, height: H, channels: 3, data: rgb }));
      await page.setInputFiles('#upload', pngPath);
      await page.waitForSelector('#editor-empty', { state: 'hidden' });
      await page.check('input[name=tool][value=brush]');
      await page.check('input[name=mode][value=outpaint]');
      await page.selectOption('#edit-class', String(params.label));
      await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.5);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.5, { steps: 8 });
      await page.mouse.up();
      const up = await runAndWait(page, '#edit', 2);
      await page.screenshot({ path: join(resultsDir, 'web-upload-edit.png'), fullPage: true });
      expect(up.mask[0][0]).toBe(0); // out-painting: the unpainted corner is generated
      expect(up.mask[H >> 1][W >> 1]).toBeGreaterThan(0.5); // the stroke is kept
      const dec = decodeImage(readFileSync(pngPath));
      const img = tf.tidy(() => {
        const hwc = tf.tensor3d(Float32Array.from(dec.data as ArrayLike<number>), [dec.height, dec.width, dec.channels]);
        const chw = tf.slice(tf.transpose(hwc, [2, 0, 1]), [0, 0, 0], [3, H, W]);
        return tf.sub(tf.mul(tf.expandDims(chw, 0), 2 / 255), 1) as tf.Tensor4D;
      });
      const ru = await edit(model.vae, model.var, {
        labels: params.label,
        count: params.count,
        cfg: params.cfg,
        topK: params.topK,
        topP: params.topP,
        seed: params.seed,
        image: img,
        mask: up.mask,
        decode: false,
      });
      img.dispose();
      ru.fHat.dispose();
      // The page tokenised the upload with its VQVAE (wasm) exactly as Node does (cpu).
      expect(up.inputTokens).toEqual(ru.inputTokens!.map((t) => Array.from(t)));
      expect(up.tokens).toEqual(ru.tokens.map((t) => Array.from(t)));
    } finally {
      await page.close();
    }
  });

  it("webgpu (SwiftShader): reports the adapter and generates the Node API's tokens", async (ctx) => {
    // SwiftShader runs WebGPU on the CPU, slowly: skip the per-scale preview decodes.
    const { page, state } = await open('webgpu', '&previews=0');
    try {
      if (state.state === 'error' && /navigator\.gpu is undefined|no WebGPU adapter|requestAdapter failed/.test(String(state.error))) {
        console.warn(`[web test] skipping WebGPU: this chromium has no WebGPU adapter: ${state.error}`);
        ctx.skip();
      }
      expect(state.state, `page state (error: ${state.error})\n${log.join('\n')}`).toBe('ready');
      expect(state.backend.name).toBe('webgpu');
      expect(await page.textContent('#backend-name')).toMatch(/webgpu/i);
      console.info(`[web test] webgpu backend: ${state.backend.reason} · ${state.backend.adapter}`);
      await fill(page, params);
      const last = await runAndWait(page, '#generate', 0);
      console.info(
        `[web test] webgpu: generated in ${(last.ms / 1000).toFixed(1)} s; per scale ${last.scales.map((s: any) => `${s.pn}×${s.pn}: ${s.ms.toFixed(0)} ms`).join(', ')}`,
      );
      expect(last.tokens).toEqual(await expected());
      // No synchronous GPU read-back in the generation path (tfjs-backend-webgpu warns on each).
      const syncWarnings = log.filter((l) => l.startsWith('[webgpu]') && /synchronous|dataSync|readSync/i.test(l));
      expect(syncWarnings).toEqual([]);
      expect(state.backend.limits?.maxStorageBufferBindingSize?.requested).toBeGreaterThan(0);
      await page.screenshot({ path: join(resultsDir, 'web-webgpu.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it("loads the registry's default model from the build's models/ folder, with a progress bar", async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    try {
      const seen = page.waitForSelector('#load-progress:not([hidden])', { timeout: 60_000 });
      await page.goto(`${registryOrigin}/?backend=cpu`);
      await seen;
      await page.waitForFunction(() => ['ready', 'error', 'no-model'].includes((window as any).__var?.state), null, { timeout: 60_000 });
      const s = JSON.parse(await page.evaluate(() => JSON.stringify((window as any).__var)));
      expect(s.state, String(s.error)).toBe('ready');
      expect(s.card.id).toBe(defaultModelId);
      expect(s.models.find((m: any) => m.id === defaultModelId)?.bundled).toBe(true);
      expect(await page.inputValue('#model-select')).toBe(defaultModelId);
      expect(await page.isEnabled('#generate')).toBe(true);
    } finally {
      await page.close();
    }
  });

  it('says so clearly when no model is bundled (or an unknown one is asked for), instead of showing output', async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    try {
      const settle = () =>
        page.waitForFunction(() => ['ready', 'error', 'no-model'].includes((window as any).__var?.state), null, { timeout: 60_000 });
      await page.goto(`${origin}/?backend=cpu`);
      await settle();
      const s = JSON.parse(await page.evaluate(() => JSON.stringify((window as any).__var)));
      expect(s.state).toBe('no-model');
      expect(s.models.length).toBeGreaterThan(0);
      expect(s.models.every((m: any) => !m.bundled)).toBe(true);
      const text = await page.textContent('#model-message');
      expect(text).toContain('No trained model is bundled');
      for (const m of s.models) expect(text).toContain(m.id);
      expect(await page.isDisabled('#generate')).toBe(true);
      expect(await page.isDisabled('#edit')).toBe(true);
      expect(await page.locator('.result').count()).toBe(0);
      await page.screenshot({ path: join(resultsDir, 'web-no-model.png') });
      await page.goto(`${origin}/?backend=cpu&id=no-such-model`);
      await settle();
      expect(await page.textContent('#model-message')).toContain('Unknown model');
    } finally {
      await page.close();
    }
  });

  // ---------------------------------------------------------------- the bundled models, as people use them

  /** Every `.result canvas` of the page as its raw RGBA pixels. */
  async function resultPixels(page: Page): Promise<Array<{ width: number; height: number; data: number[] }>> {
    return page.$$eval('.result canvas', (cs) =>
      (cs as HTMLCanvasElement[]).map((c) => ({
        width: c.width,
        height: c.height,
        data: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data),
      })),
    );
  }

  /** `var generate` (the CLI, cpu backend) into a fresh folder; returns its JSON report. (A child process awaited, not spawnSync: see runProcess.) */
  async function cliGenerate(args: string[]): Promise<{ images: Array<{ file: string; label: number }> }> {
    const bin = join(repoRoot(), 'apps', 'cli', 'dist', 'bin.js');
    if (!existsSync(bin)) throw new Error(`${bin} is missing: build the CLI first (pnpm turbo run build --filter=@var/cli)`);
    const out = mkdtempSync(join(tmp, 'cli-'));
    const r = await runProcess(process.execPath, [bin, 'generate', ...args, '--backend', 'cpu', '--out', out, '--json'], {
      env: { ...process.env, VAR_WASM_THREADS: '1' },
    });
    if (r.error || r.status !== 0)
      throw new Error(`var generate ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr}`);
    const stdout = r.stdout;
    return JSON.parse(stdout.slice(stdout.indexOf('{'), stdout.lastIndexOf('}') + 1));
  }

  /** Largest |page − CLI PNG| over all pixels and channels; the PNG may be gray (1 channel) or RGB. */
  function maxPixelDiff(page: { width: number; height: number; data: number[] }, pngFile: string): number {
    const png = decodeImage(readFileSync(pngFile));
    expect([page.width, page.height]).toEqual([png.width, png.height]);
    let max = 0;
    for (let i = 0; i < png.width * png.height; i++) {
      for (let c = 0; c < 3; c++) {
        const want = (png.data as Uint8Array)[i * png.channels + (png.channels === 1 ? 0 : c)];
        max = Math.max(max, Math.abs(page.data[4 * i + c] - want));
      }
      expect(page.data[4 * i + 3]).toBe(255);
    }
    return max;
  }

  /** Node's tokens of an image file, through a model's VQVAE (as `var edit` tokenises it). */
  async function tokensOf(m: LoadedModel, pngFile: string): Promise<number[][]> {
    const x = imageToTensor(decodeImage(readFileSync(pngFile)), { channels: m.vae.config.inChannels === 1 ? 1 : 3, size: m.vae.imageSize });
    const idx = m.vae.imgToIdx(x);
    x.dispose();
    const out = await Promise.all(idx.map(async (t) => Array.from(await t.data())));
    tf.dispose(idx);
    return out;
  }

  /** A rectangle on the mask from (f0, f0) to (x1, f1), as fractions of the image (x1 defaults to f1: a square). */
  async function drawRect(page: Page, f0: number, f1: number, x1 = f1): Promise<void> {
    await page.check('input[name=tool][value=rect]');
    const box = (await page.locator('#edit-mask').boundingBox())!;
    await page.mouse.move(box.x + box.width * f0, box.y + box.height * f0);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * x1, box.y + box.height * f1, { steps: 4 });
    await page.mouse.up();
  }

  async function upload(page: Page, file: string | { name: string; mimeType: string; buffer: Buffer }): Promise<void> {
    const n = await page.evaluate(() => (window as any).__var.imports);
    await page.setInputFiles('#upload', file as any);
    await page.waitForFunction((k) => (window as any).__var.imports > k, n, { timeout: 30_000 });
  }

  /** The demo's folder of the origin-private file system: { model folder: { path: bytes } }. */
  const opfsFiles = async (page: Page): Promise<Record<string, Record<string, number>>> =>
    page.evaluate(async () => {
      const out: Record<string, Record<string, number>> = {};
      let root: FileSystemDirectoryHandle;
      try {
        root = await (await navigator.storage.getDirectory()).getDirectoryHandle('var-ts-opened-v1');
      } catch {
        return out;
      }
      const walk = async (d: FileSystemDirectoryHandle, prefix: string, into: Record<string, number>) => {
        for await (const [name, h] of (d as any).entries() as AsyncIterable<[string, FileSystemHandle]>) {
          if (h.kind === 'directory') await walk(h as FileSystemDirectoryHandle, `${prefix}${name}/`, into);
          else into[`${prefix}${name}`] = (await (h as FileSystemFileHandle).getFile()).size;
        }
      };
      for await (const [name, h] of (root as any).entries() as AsyncIterable<[string, FileSystemHandle]>) {
        if (h.kind !== 'directory') continue;
        out[name] = {};
        await walk(h as FileSystemDirectoryHandle, '', out[name]);
      }
      return out;
    });
  const notices = async (page: Page): Promise<Array<{ kind: string; text: string }>> => page.evaluate(() => (window as any).__var.notices);
  const settle = (page: Page, id?: string) =>
    page.waitForFunction(
      (want) => {
        const v = (window as any).__var;
        return v && (v.state === 'error' || v.state === 'no-model' || (v.state === 'ready' && (!want || v.card?.id === want)));
      },
      id,
      { timeout: 120_000 },
    );
  const pageState = async (page: Page) => JSON.parse(await page.evaluate(() => JSON.stringify((window as any).__var)));

  it("the build bundles the shipped models: the page shows the CLI's pixels for the same seed (MNIST gray, emoji RGB), uploads edit on both, and bad images get a message", async () => {
    const { server: own, origin: ownOrigin } = await serve([['/', outDir]]); // the build alone, with its own models/ folder
    const page = await browser.newPage({ viewport: { width: 1366, height: 1000 } });
    page.on('pageerror', (e) => log.push(`[bundled] pageerror: ${e.message}`));
    try {
      const seen = page.waitForSelector('#load-progress:not([hidden])', { timeout: 30_000 });
      await page.goto(`${ownOrigin}/?backend=wasm`);
      await seen; // progress from the first moment
      await settle(page, 'mnist');
      const s = await pageState(page);
      expect(s.state, String(s.error)).toBe('ready');
      expect(s.card.id).toBe(defaultModelId);
      expect(s.card.channels).toBe(1);
      expect(
        s.models
          .filter((m: any) => m.bundled)
          .map((m: any) => m.id)
          .sort(),
      ).toEqual(['emoji', 'mnist']);
      expect(s.models.every((m: any) => m.bytes > 0)).toBe(true);

      // The default generation (class 0, seed 0, count 4) with the card's sampling settings.
      const sp = s.card.sampling ?? {};
      const p = { label: 0, cfg: sp.cfg ?? 1.5, topK: sp.topK ?? 0, topP: sp.topP ?? 0, seed: 0, count: 4 };
      await fill(page, p);
      const last = await runAndWait(page, '#generate', 0);
      await page.screenshot({ path: join(resultsDir, 'web-mnist.png'), fullPage: true });
      const shipped = await loadModel(defaultModelId);
      try {
        const r = await generate(shipped.vae, shipped.var, {
          labels: p.label,
          count: p.count,
          cfg: p.cfg,
          topK: p.topK,
          topP: p.topP,
          seed: p.seed,
        });
        r.images!.dispose();
        r.fHat.dispose();
        expect(last.tokens).toEqual(r.tokens.map((t) => Array.from(t)));
        // The result canvases hold the CLI's PNGs, image by image; gray stays gray.
        const pics = await resultPixels(page);
        expect(pics).toHaveLength(p.count);
        const cli = await cliGenerate([
          '--class',
          String(p.label),
          '--count',
          String(p.count),
          '--seed',
          String(p.seed),
          '--cfg',
          String(p.cfg),
          '--top-k',
          String(p.topK),
          '--top-p',
          String(p.topP),
        ]);
        expect(cli.images).toHaveLength(p.count);
        const diffs = pics.map((pic, b) => maxPixelDiff(pic, cli.images[b].file));
        console.info(`[web test] mnist: result canvases vs the CLI's PNGs, max |diff| per image = ${diffs.join(', ')}/255`);
        for (const d of diffs) expect(d).toBeLessThanOrEqual(2);
        for (const pic of pics)
          for (let i = 0; i < pic.data.length; i += 4)
            expect(pic.data[i] === pic.data[i + 1] && pic.data[i] === pic.data[i + 2]).toBe(true);
        for (let b = 1; b < pics.length; b++) expect(pics[b].data).not.toEqual(pics[0].data); // each result is its own sample

        // Edit a result: the edit class follows the result's class.
        await page.selectOption('#edit-class', '3');
        await page.locator('.result .edit-this').nth(2).click();
        expect(await page.inputValue('#edit-class')).toBe(String(p.label));
        // ... and in-painting its upper half with that default keeps the class (the docs' edit screenshot).
        await page.check('input[name=mode][value=inpaint]');
        await drawRect(page, 0.02, 0.5, 0.98);
        const er = await runAndWait(page, '#edit', 1);
        expect(er.kind).toBe('edit');
        expect(er.labels).toEqual(new Array(p.count).fill(p.label));
        expect(er.inputTokens).toEqual(last.tokens.map((t: number[]) => t.slice(2 * (t.length / p.count), 3 * (t.length / p.count))));
        await page.screenshot({ path: join(resultsDir, 'web-edit-result-mnist.png'), fullPage: true });

        // Upload the CLI's PNG of image #1 and in-paint its upper half as a 7.
        await upload(page, cli.images[1].file);
        expect(await page.isHidden('#editor-empty')).toBe(true);
        await page.check('input[name=mode][value=inpaint]');
        await page.selectOption('#edit-class', '7');
        await drawRect(page, 0.02, 0.5);
        const ed = await runAndWait(page, '#edit', 2);
        expect(ed.kind).toBe('edit');
        // The page tokenised the upload as Node does (one copy per image of the batch).
        expect(ed.inputTokens.map((t: number[]) => t.slice(0, t.length / p.count))).toEqual(await tokensOf(shipped, cli.images[1].file));
        const edited = await resultPixels(page);
        expect(edited).toHaveLength(p.count);
        for (const pic of edited)
          for (let i = 0; i < pic.data.length; i += 4)
            expect(pic.data[i] === pic.data[i + 1] && pic.data[i] === pic.data[i + 2]).toBe(true);
        await page.screenshot({ path: join(resultsDir, 'web-edit-mnist.png'), fullPage: true });
      } finally {
        disposeModel(shipped);
      }
      // The page fits 1366 px: nothing sticks out sideways; the scales row scrolls inside its panel.
      const widths = await page.evaluate(() => ({
        doc: document.documentElement.scrollWidth,
        view: innerWidth,
        scales: getComputedStyle(document.getElementById('scales')!).overflowX,
      }));
      expect(widths.doc).toBeLessThanOrEqual(widths.view);
      expect(widths.scales).toBe('auto');

      // Emoji (3 channels): the CLI's colours, then an upload edit.
      await page.selectOption('#model-select', 'emoji');
      await settle(page, 'emoji');
      const e = await pageState(page);
      expect(e.state, String(e.error)).toBe('ready');
      expect(e.card.classNames).toHaveLength(9);
      const es = e.card.sampling ?? {};
      const pe = { label: 6, cfg: es.cfg ?? 1.5, topK: es.topK ?? 0, topP: es.topP ?? 0, seed: 1, count: 2 };
      await fill(page, pe);
      const le = await runAndWait(page, '#generate', e.runs);
      expect(le.labels).toEqual([6, 6]);
      const epics = await resultPixels(page);
      const ecli = await cliGenerate([
        '--model',
        'emoji',
        '--class',
        '6',
        '--count',
        '2',
        '--seed',
        '1',
        '--cfg',
        String(pe.cfg),
        '--top-k',
        String(pe.topK),
        '--top-p',
        String(pe.topP),
      ]);
      const ediffs = epics.map((pic, b) => maxPixelDiff(pic, ecli.images[b].file));
      console.info(`[web test] emoji: result canvases vs the CLI's PNGs, max |diff| per image = ${ediffs.join(', ')}/255`);
      for (const d of ediffs) expect(d).toBeLessThanOrEqual(2);
      expect(epics[1].data).not.toEqual(epics[0].data);
      await page.screenshot({ path: join(resultsDir, 'web-emoji.png'), fullPage: true });
      const emoji = await loadModel('emoji');
      try {
        await upload(page, ecli.images[0].file);
        await page.check('input[name=mode][value=outpaint]');
        await drawRect(page, 0.25, 0.75);
        const eu = await runAndWait(page, '#edit', e.runs + 1);
        expect(eu.inputTokens.map((t: number[]) => t.slice(0, t.length / pe.count))).toEqual(await tokensOf(emoji, ecli.images[0].file));
      } finally {
        disposeModel(emoji);
      }

      // Bad images: a message each, nothing else changes, and the page keeps working.
      const before = (await notices(page)).length;
      await upload(page, { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('just some words, not an image') });
      await upload(page, {
        name: 'broken.png',
        mimeType: 'image/png',
        buffer: Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(200, 7)]),
      });
      const good = readFileSync(ecli.images[0].file);
      await upload(page, { name: 'cut.png', mimeType: 'image/png', buffer: good.subarray(0, good.length >> 1) });
      const bad = (await notices(page)).slice(before);
      console.info(`[web test] bad images: ${bad.map((n) => n.text.slice(0, 140)).join(' | ')}`);
      expect(bad).toHaveLength(3);
      for (const n of bad) expect(n.kind).toBe('bad');
      expect(bad[0].text).toMatch(/notes\.txt.*not an image/);
      expect(bad[1].text).toMatch(/PNG/);
      expect(bad[2].text).toMatch(/PNG|truncated|corrupt/i);
      const runs = (await pageState(page)).runs;
      await runAndWait(page, '#generate', runs);
    } finally {
      await page.close();
      await new Promise((r) => own.close(r));
    }
  });

  it('opens checkpoint files (.pth + config, in the worker), keeps them and the downloads in the cache, loads from the cache with the model server down, and refuses bad checkpoints and URLs with a message', async () => {
    const control: ServeControl = { down: new Set() };
    const { server: own, origin: ownOrigin } = await serve(
      [
        ['/html-model/', 'html'],
        ['/', outDir],
      ],
      control,
    );
    const ctx: BrowserContext = await browser.newContext({ viewport: { width: 1366, height: 1000 } });
    const fx = fc.dir;
    const files = { vae: join(fx, 'vae.pth'), var: join(fx, 'var.pth'), config: join(fx, 'config.json') };
    const bad = join(tmp, 'bad');
    mkdirSync(bad, { recursive: true });
    const varBytes = readFileSync(files.var);
    writeFileSync(join(bad, 'var_cut.pth'), varBytes.subarray(0, varBytes.length >> 1));
    // A pickle that would run os.system('ls') if it were executed (GLOBAL posix system, REDUCE).
    const hostile = Buffer.concat([
      Buffer.from([0x80, 0x02]),
      Buffer.from('cposix\nsystem\n'),
      Buffer.from([0x58, 2, 0, 0, 0]),
      Buffer.from('ls'),
      Buffer.from([0x85, 0x52, 0x2e]),
    ]);
    writeFileSync(
      join(bad, 'var_hostile.pth'),
      zipSync({ 'archive/data.pkl': [hostile, { level: 0 }], 'archive/version': [Buffer.from('3\n'), { level: 0 }] }),
    );
    writeFileSync(join(bad, 'broken.json'), '{ "tokenizer": ');
    try {
      const page = await ctx.newPage();
      page.on('pageerror', (e) => log.push(`[files] pageerror: ${e.message}`));
      await page.goto(`${ownOrigin}/?backend=wasm`);
      await settle(page, 'mnist');
      await page.click('#open-panel summary');
      const openFiles = async (f: { vae: string; var: string; config?: string }, preset?: string) => {
        await page.setInputFiles('#open-vae', f.vae);
        await page.setInputFiles('#open-var', f.var);
        if (f.config) await page.setInputFiles('#open-config', f.config);
        if (preset) await page.selectOption('#open-preset', preset);
        const n = (await notices(page)).length;
        await page.click('#open-load');
        await page.waitForFunction(
          (k) =>
            (window as any).__var.state === 'ready' &&
            ((window as any).__var.notices.length > k || (window as any).__var.card?.id === 'opened'),
          n,
          { timeout: 60_000 },
        );
        return (await notices(page)).slice(n);
      };

      // Bad checkpoints first (the bundled MNIST stays loaded and usable after each).
      const wrongPreset = await openFiles({ vae: files.vae, var: files.var }, 'd16');
      const cut = await openFiles({ vae: files.vae, var: join(bad, 'var_cut.pth'), config: files.config });
      const evil = await openFiles({ vae: files.vae, var: join(bad, 'var_hostile.pth'), config: files.config });
      const notJson = await openFiles({ vae: files.vae, var: files.var, config: join(bad, 'broken.json') });
      for (const [what, n] of [
        ['wrong preset', wrongPreset],
        ['truncated', cut],
        ['hostile pickle', evil],
        ['config not JSON', notJson],
      ] as const) {
        console.info(`[web test] ${what}: ${n.map((x) => x.text.slice(0, 160)).join(' | ')}`);
        expect(n, what).toHaveLength(1);
        expect(n[0].kind, what).toBe('bad');
        expect((await pageState(page)).card.id, what).toBe('mnist');
      }
      expect(wrongPreset[0].text).toMatch(/preset|config/i);
      expect(cut[0].text).toMatch(/truncated|outside|end/i);
      expect(cut[0].text).toMatch(/var_cut\.pth/); // the opened file's name, not "checkpoint bytes"
      expect(evil[0].text).toMatch(/var_hostile\.pth/);
      expect(evil[0].text).toMatch(/posix|system|refus|not allowed|global/i);
      expect(notJson[0].text).toMatch(/not JSON/);

      // The fixture's official .pth files with their config.json: parsed in the worker, progress in bytes.
      // First with the page's storage quota below their size: loaded, but not kept (a message says why; nothing written).
      const pairBytes = statSync(files.vae).size + statSync(files.var).size;
      const cdp = await ctx.newCDPSession(page);
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: ownOrigin, quotaSize: Math.floor(pairBytes / 2) });
      await page.setInputFiles('#open-config', files.config);
      const small = await openFiles(files);
      await page.waitForFunction(() => (window as any).__var.notices.some((n: any) => /not kept/.test(n.text)), null, { timeout: 30_000 });
      const quotaNote = (await notices(page)).find((n) => /not kept/.test(n.text))!;
      console.info(`[web test] quota below the opened pair: ${quotaNote.text.slice(0, 200)}`);
      // (Chromium's estimate() does not show the override, so the copy starts and meets QuotaExceededError.)
      expect(quotaNote.text).toMatch(
        /need [\d.]+ MB.*store [\d.]+ (MB|kB|B) more|The browser's storage for this page ran out after [\d.]+ MB of [\d.]+ MB \(nothing was left half-written\)|The browser's storage for this page is full: it refused even a folder for the two files \([\d.]+ MB\), so nothing was written/,
      );
      expect(small.filter((n) => n.kind === 'bad')).toEqual([]);
      expect(await opfsFiles(page)).toEqual({});
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: ownOrigin }); // back to the browser's own quota
      await page.selectOption('#model-select', 'mnist');
      await settle(page, 'mnist');

      await page.setInputFiles('#open-config', files.config);
      const ok = await openFiles(files);
      expect(ok.filter((n) => n.kind === 'bad')).toEqual([]);
      const st = await pageState(page);
      expect(st.card.name).toBe('var.pth + vae.pth');
      expect(st.progress.total).toBe(pairBytes);
      // The model select names the opened model while it is loaded.
      expect(await page.inputValue('#model-select')).toBe('__opened__');
      expect(await page.locator('#model-select option:checked').textContent()).toContain('var.pth + vae.pth');
      await fill(page, { label: 1, cfg: 1.5, topK: 0, topP: 0, seed: 3, count: 1 });
      const g = await runAndWait(page, '#generate', st.runs);
      const node = await loadModel({ vae: files.vae, var: files.var, config: JSON.parse(readFileSync(files.config, 'utf8')) });
      try {
        const r = await generate(node.vae, node.var, { labels: 1, count: 1, cfg: 1.5, topK: 0, topP: 0, seed: 3 });
        r.images!.dispose();
        r.fHat.dispose();
        expect(g.tokens).toEqual(r.tokens.map((t) => Array.from(t)));
      } finally {
        disposeModel(node);
      }
      await page.waitForFunction(() => (window as any).__var.cache.entries.some((e: any) => e.kind === 'opened'), null, {
        timeout: 30_000,
      });
      const cache = (await pageState(page)).cache;
      console.info(`[web test] cache: ${cache.entries.map((e: any) => `${e.label} ${e.bytes} B (${e.store})`).join(', ')}`);
      const kept = cache.entries.find((e: any) => e.kind === 'opened');
      expect(kept.bytes).toBe(pairBytes);
      expect(kept.store).toBe('opfs');
      expect(kept.key).toMatch(/^opfs:/);
      expect(cache.entries.find((e: any) => e.kind === 'bundled' && e.label === 'mnist').store).toBe('cache');
      expect(cache.entries.find((e: any) => e.kind === 'bundled' && e.label === 'mnist').bytes).toBeGreaterThan(4e6);
      // In the origin-private file system: both files at their full size under their own names, and the card.
      const inOpfs = await opfsFiles(page);
      const folder = Object.keys(inOpfs);
      expect(folder).toHaveLength(1);
      expect(inOpfs[folder[0]]).toEqual({
        'model.json': expect.any(Number),
        'vae/vae.pth': statSync(files.vae).size,
        'var/var.pth': statSync(files.var).size,
      });
      // An interrupted copy (no model.json) is not listed, and is removed.
      await page.evaluate(async () => {
        const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('var-ts-opened-v1');
        const d = await (await root.getDirectoryHandle('interrupted-0', { create: true })).getDirectoryHandle('var', { create: true });
        const w = await (await d.getFileHandle('var_d16.pth', { create: true })).createWritable();
        await w.write(new Uint8Array(1000));
        await w.close();
      });
      await page.close();

      // The model server goes down: the page still loads MNIST, and the opened model, from the cache.
      control.down.add('/models/');
      const off = await ctx.newPage();
      await off.goto(`${ownOrigin}/?backend=wasm`);
      await settle(off, 'mnist');
      const so = await pageState(off);
      expect(so.state, String(so.error)).toBe('ready');
      expect(so.fromCache).toBe(true);
      expect(await off.textContent('#cache-summary')).toMatch(/2 models, [\d.]+ MB/); // MNIST (downloaded) and the opened files
      expect(Object.keys(await opfsFiles(off))).toEqual(folder); // the interrupted copy is gone
      // The opened model from OPFS, with the file inputs empty: the same tokens as when it was opened.
      await off.click('#cache-panel summary');
      await off.click('#cache-list .load-cached');
      await settle(off, 'opened');
      const sc = await pageState(off);
      expect(sc.fromCache).toBe(true);
      expect(await off.inputValue('#model-select')).toBe('__opened__');
      await fill(off, { label: 1, cfg: 1.5, topK: 0, topP: 0, seed: 3, count: 1 });
      expect((await runAndWait(off, '#generate', sc.runs)).tokens).toEqual(g.tokens);
      // A copy in progress (its Web Lock held, here by the page; no model.json yet) is not taken for an interrupted one.
      await off.evaluate(async () => {
        const root = await (await navigator.storage.getDirectory()).getDirectoryHandle('var-ts-opened-v1');
        await (await root.getDirectoryHandle('writing-1', { create: true })).getDirectoryHandle('vae', { create: true });
        await new Promise<void>((held) => {
          navigator.locks.request(
            'var-keep:writing-1',
            () =>
              new Promise<void>((release) => {
                (window as any).releaseCopy = release;
                held();
              }),
          );
        });
      });
      // Remove the opened model alone (the list is read again), then clear the rest.
      await off.click('#cache-list .remove-cached');
      await off.waitForFunction(() => !(window as any).__var.cache.entries.some((e: any) => e.kind === 'opened'), null, {
        timeout: 30_000,
      });
      expect(await opfsFiles(off)).toEqual({ 'writing-1': {} });
      await off.evaluate(() => (window as any).releaseCopy());
      expect((await pageState(off)).cache.entries.map((e: any) => e.label)).toEqual(['mnist']);
      await off.click('#cache-clear');
      await off.waitForFunction(() => (window as any).__var.cache.entries.length === 0, null, { timeout: 30_000 });
      expect(await off.textContent('#cache-summary')).toBe('empty');
      expect(await opfsFiles(off)).toEqual({});
      await off.close();
      control.down.delete('/models/');

      // Bad query parameters and model URLs: a message, and the page still works.
      const q = await ctx.newPage();
      await q.goto(`${ownOrigin}/?backend=tpu&id=no-such-model`);
      await settle(q, 'mnist');
      const nq = await notices(q);
      expect(nq.map((n) => n.text).join('\n')).toMatch(/Unknown backend “tpu”[\s\S]*Unknown model “no-such-model”/);
      expect((await pageState(q)).state).toBe('ready');
      for (const [url, want] of [
        ['http://127.0.0.1:9/nothing/', /cannot reach/],
        ['/html-model/', /HTML/],
      ] as const) {
        await q.goto(`${ownOrigin}/?backend=cpu&model=${encodeURIComponent(url)}`);
        await settle(q);
        const s = await pageState(q);
        expect(s.state).toBe('no-model');
        expect(s.notices.map((n: any) => n.text).join('\n')).toMatch(want);
        console.info(`[web test] ?model=${url}: ${s.notices.at(-1).text.slice(0, 160)}`);
      }
      await q.selectOption('#model-select', 'mnist'); // still usable
      await settle(q, 'mnist');
      expect((await pageState(q)).state).toBe('ready');
      await q.close();
    } finally {
      await ctx.close();
      await new Promise((r) => own.close(r));
    }
  });

  it('wasm uses the threads it asks for (1 vs 2 in a cross-origin isolated page)', async () => {
    const { server: own, origin: ownOrigin } = await serve([['/', outDir]]);
    try {
      const times: Record<number, number> = {};
      for (const n of [1, 2]) {
        const page = await browser.newPage({ viewport: { width: 1366, height: 1000 } });
        try {
          await page.goto(`${ownOrigin}/?backend=wasm&threads=${n}&previews=0`);
          await settle(page, 'mnist');
          const s = await pageState(page);
          expect(s.backend.crossOriginIsolated).toBe(true);
          expect(s.backend.threads).toBe(n);
          await fill(page, { label: 3, cfg: 3, topK: 10, topP: 0.9, seed: 1, count: 16 });
          await runAndWait(page, '#generate', 0); // warm-up
          const last = await runAndWait(page, '#generate', 1);
          times[n] = last.ms;
        } finally {
          await page.close();
        }
      }
      console.info(
        `[web test] mnist, 16 images, wasm in chromium: 1 thread ${(times[1] / 1000).toFixed(2)} s, 2 threads ${(times[2] / 1000).toFixed(2)} s`,
      );
    } finally {
      await new Promise((r) => own.close(r));
    }
  });
});
