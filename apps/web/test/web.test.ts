/**
 * End-to-end test of the browser demo: builds the app with Vite, serves it (with COOP/COEP)
 * together with a tiny random model, drives Debian's chromium with Playwright, and checks
 * that the page generates the same tokens as the Node API (same weights, seed and options)
 * on wasm and on WebGPU (SwiftShader), that an in-painting edit matches Node's `edit`, that
 * Stop cancels, and that the page reports its backend. Screenshots go to test-results/.
 */
import { createServer, type Server } from 'node:http';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@var/core';
import { decodeImage, encodePng } from '@var/data';
import { defaultModelId, loadModel, saveModel, disposeModel, type LoadedModel } from '@var/models';
import { edit, generate } from '@var/sampling';
import { VQVAE, fromOfficialConfig as vqvaeConfig } from '@var/tokenizer';
import { VAR, fromOfficialConfig as varConfig } from '@var/transformer';
import { loadFixtureCase } from '@var/test-helpers';
import type { Browser, Page } from 'playwright-core';

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

/** A static server for `routes` (URL prefix → directory) with cross-origin isolation headers. */
function serve(routes: Array<[string, string]>): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    for (const [prefix, dir] of routes) {
      if (!path.startsWith(prefix)) continue;
      let file = normalize(join(dir, path.slice(prefix.length)));
      if (!file.startsWith(dir)) break;
      if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
      if (!existsSync(file)) break;
      res.writeHead(200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
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
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    resolve({ server, origin: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` });
  }));
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
    const building = build({ root: appDir, configFile: join(appDir, 'vite.config.ts'), logLevel: 'error', customLogger: createLogger('error'), build: { outDir, emptyOutDir: true } });
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
      card: { id: defaultModelId, name: 'tiny random stand-in (test only)', dataset: { name: 'none (random weights)' }, classNames: Array.from({ length: varCfg.numClasses }, (_, i) => `c${i}`) },
    });
    vae.dispose();
    net.dispose();
    // The Node reference loads the same float16 files the page fetches.
    model = await loadModel(modelDir);
    await building;
    // The main server has an empty models/ folder (whatever weights the build bundles): no registry model is available there.
    mkdirSync(join(tmp, 'no-models'));
    ({ server, origin } = await serve([[MODEL_PATH, modelDir], ['/models/', join(tmp, 'no-models')], ['/', outDir]]));
    ({ server: registryServer, origin: registryOrigin } = await serve([['/models/', join(tmp, 'registry')], ['/', outDir]]));
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

  async function fill(page: Page, p: { label: number; cfg: number; topK: number; topP: number; seed: number; count: number }): Promise<void> {
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
    const r = await generate(model.vae, model.var, { labels: params.label, count: params.count, cfg: params.cfg, topK: params.topK, topP: params.topP, seed: params.seed });
    nodeImages = { data: (await r.images!.data()) as Float32Array, shape: r.images!.shape };
    r.images!.dispose();
    r.fHat.dispose();
    nodeTokens = r.tokens.map((t) => Array.from(t));
    return nodeTokens;
  }

  it('wasm: reports the backend, generates the Node API\'s tokens, in-paints like Node\'s edit, and stops', async () => {
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
      console.info(`[web test] wasm: generated in ${(last.ms / 1000).toFixed(1)} s (with 300 ms pauses); per scale ${last.scales.map((s: any) => `${s.pn}×${s.pn}: ${s.ms.toFixed(0)} ms`).join(', ')}`);
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
        labels: params.label, count: params.count, cfg: params.cfg, topK: params.topK, topP: params.topP, seed: params.seed,
        image: img, mask: up.mask, decode: false,
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

  it('webgpu (SwiftShader): reports the adapter and generates the Node API\'s tokens', async (ctx) => {
    // SwiftShader runs WebGPU on the CPU, slowly: skip the per-scale preview decodes.
    const { page, state } = await open('webgpu', '&previews=0');
    try {
      if (state.state === 'error' && /navigator\.gpu is undefined|no WebGPU adapter|requestAdapter failed/.test(String(state.error))) {
        console.warn(`[web test] skipping WebGPU: this chromium has no WebGPU adapter: ${state.error}`);
        ctx.skip();
      }
      expect(state.state, `page state (error: ${state.error})\n${log.join('\n')}`).toBe('ready');
      expect(state.backend.name).toBe('webgpu');
      expect(await page.textContent('#backend-name')).toContain('webgpu');
      console.info(`[web test] webgpu backend: ${state.backend.reason} · ${state.backend.adapter}`);
      await fill(page, params);
      const last = await runAndWait(page, '#generate', 0);
      console.info(`[web test] webgpu: generated in ${(last.ms / 1000).toFixed(1)} s; per scale ${last.scales.map((s: any) => `${s.pn}×${s.pn}: ${s.ms.toFixed(0)} ms`).join(', ')}`);
      expect(last.tokens).toEqual(await expected());
      await page.screenshot({ path: join(resultsDir, 'web-webgpu.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('loads the registry\'s default model from the build\'s models/ folder, with a progress bar', async () => {
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
      const settle = () => page.waitForFunction(() => ['ready', 'error', 'no-model'].includes((window as any).__var?.state), null, { timeout: 60_000 });
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

  it('the build bundles the shipped models: MNIST loads by default and generates the Node API\'s digits; emoji is one click away', async () => {
    const { server: own, origin: ownOrigin } = await serve([['/', outDir]]); // the build alone, with its own models/ folder
    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    page.on('pageerror', (e) => log.push(`[bundled] pageerror: ${e.message}`));
    const settled = (id: string) =>
      page.waitForFunction((want) => (window as any).__var?.state === 'error' || ((window as any).__var?.state === 'ready' && (window as any).__var?.card?.id === want), id, { timeout: 120_000 });
    try {
      await page.goto(`${ownOrigin}/?backend=wasm`);
      await settled('mnist');
      const s = JSON.parse(await page.evaluate(() => JSON.stringify((window as any).__var)));
      expect(s.state, String(s.error)).toBe('ready');
      expect(s.card.id).toBe(defaultModelId);
      expect(s.models.filter((m: any) => m.bundled).map((m: any) => m.id).sort()).toEqual(['emoji', 'mnist']);
      const p = { label: 7, cfg: s.card.sampling?.cfg ?? 2, topK: s.card.sampling?.topK ?? 0, topP: s.card.sampling?.topP ?? 0, seed: 7, count: 2 };
      await fill(page, p);
      const last = await runAndWait(page, '#generate', 0);
      const shipped = await loadModel(defaultModelId);
      try {
        const r = await generate(shipped.vae, shipped.var, { labels: p.label, count: p.count, cfg: p.cfg, topK: p.topK, topP: p.topP, seed: p.seed });
        r.images!.dispose();
        r.fHat.dispose();
        expect(last.tokens).toEqual(r.tokens.map((t) => Array.from(t)));
      } finally {
        disposeModel(shipped);
      }
      await page.screenshot({ path: join(resultsDir, 'web-mnist.png'), fullPage: true });
      await page.selectOption('#model-select', 'emoji');
      await settled('emoji');
      const e = JSON.parse(await page.evaluate(() => JSON.stringify((window as any).__var)));
      expect(e.state, String(e.error)).toBe('ready');
      expect(e.card.classNames).toHaveLength(9);
      await fill(page, { label: 6, cfg: e.card.sampling?.cfg ?? 2, topK: 0, topP: 0, seed: 1, count: 2 });
      const le = await runAndWait(page, '#generate', e.runs);
      expect(le.labels).toEqual([6, 6]);
      expect(await page.locator('.result canvas').count()).toBe(2);
      await page.screenshot({ path: join(resultsDir, 'web-emoji.png'), fullPage: true });
    } finally {
      await page.close();
      await new Promise((r) => own.close(r));
    }
  });
});
