// Manual check (not CI): the official-layout d16 pair opened in the page, generated on wasm in
// Chromium, kept in the browser (OPFS), then loaded again from there with the file inputs empty.
//
// usage (from apps/web):
//   /usr/bin/python3 ../../../shared/bench/make_official_checkpoint.py 16 /tmp/d16   # the pair (random weights)
//   pnpm --filter @var/web build
//   node scripts/check-d16.mjs [--threads 2] [--dir /tmp/d16] [--no-regenerate]
//
// A persistent Chromium profile (a temporary folder, on disk like a visitor's) is used: an
// incognito context keeps OPFS in memory. Prints the load, generation, keep and cached-load
// times; with the default --regenerate, the model loaded from the cache generates the same
// tokens as the opened files (same seed). Screenshots go to /tmp/var-web-d16-<threads>.png.
// Exits 1 when a check fails.
import { createServer } from 'node:http';
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: opt } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    dir: { type: 'string', default: '/tmp/d16' },
    'no-regenerate': { type: 'boolean', default: false },
    chromium: { type: 'string', default: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' },
  },
});
const files = { vae: join(opt.dir, 'vae_ch160v4096z32.pth'), var: join(opt.dir, 'var_d16.pth') };
for (const f of Object.values(files)) {
  if (!existsSync(f)) {
    console.error(`${f} is missing: make it with /usr/bin/python3 ../../../shared/bench/make_official_checkpoint.py 16 ${opt.dir}`);
    process.exit(2);
  }
}
const dist = new URL('../dist/', import.meta.url).pathname;
if (!existsSync(join(dist, 'index.html'))) {
  console.error(`${dist} has no build: run pnpm --filter @var/web build first`);
  process.exit(2);
}
const pairBytes = statSync(files.vae).size + statSync(files.var).size;
const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};
const s = (ms) => `${(ms / 1000).toFixed(1)} s`;

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
};
function serve(dir) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = normalize(join(dir, path));
    if (file.startsWith(dir) && existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, origin: `http://127.0.0.1:${server.address().port}` })));
}

const state = (page, pick) =>
  page.evaluate(
    (p) => JSON.parse(JSON.stringify(p ? Object.fromEntries(p.split(',').map((k) => [k, window.__var[k]])) : window.__var)),
    pick,
  );

async function generate(page, runs) {
  await page.fill('#count', '1');
  await page.fill('#seed', '0');
  await page.fill('#cfg', '1.5');
  await page.fill('#topk', '900');
  await page.fill('#topp', '0.96');
  await page.selectOption('#class', '207');
  const t = Date.now();
  await page.click('#generate');
  await page.waitForFunction((n) => window.__var.runs > n || window.__var.error, runs, { timeout: 1_200_000 });
  const r = await state(page, 'last,error');
  return { wall: Date.now() - t, ...r };
}

const profile = mkdtempSync(join(tmpdir(), 'var-web-d16-profile-'));
const { server, origin } = await serve(dist);
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: opt.chromium,
  headless: true,
  args: ['--no-sandbox'],
  viewport: { width: 1366, height: 1000 },
});
try {
  console.log(
    `d16 pair: ${(pairBytes / 1e9).toFixed(2)} GB · wasm, ?threads=${opt.threads} · load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log('pageerror', e.message));
  page.on('console', (m) => m.type() !== 'log' && console.log('console', m.type(), m.text().slice(0, 300)));
  await page.goto(`${origin}/?backend=wasm&threads=${opt.threads}&previews=0`);
  await page.waitForFunction(() => window.__var?.state === 'ready', null, { timeout: 120_000 });
  const backend = (await state(page, 'backend')).backend;
  check(
    backend.name === 'wasm' && backend.threads === Number(opt.threads),
    `wasm with ${backend.threads} thread(s) (asked ${opt.threads})`,
  );

  // 1. Open the pair with preset d16.
  await page.click('#open-panel summary');
  await page.setInputFiles('#open-vae', files.vae);
  await page.setInputFiles('#open-var', files.var);
  await page.selectOption('#open-preset', 'd16');
  const progress = [];
  const poll = setInterval(
    () =>
      state(page, 'progress').then(
        (p) => p.progress && progress.push(p.progress),
        () => undefined,
      ),
    1000,
  );
  // The keeper worker copies the files into OPFS once the model has loaded, beside the generation.
  let keptAt = 0;
  let copying = 0;
  const keepPoll = setInterval(
    () =>
      state(page, 'cache,keeping').then(
        (k) => {
          if (k.keeping) copying++;
          if (!keptAt && k.cache.entries.some((e) => e.kind === 'opened')) keptAt = Date.now();
        },
        () => undefined,
      ),
    500,
  );
  const t0 = Date.now();
  await page.click('#open-load');
  await page.waitForFunction(() => window.__var.state !== 'loading', null, { timeout: 900_000 });
  const loadMs = Date.now() - t0;
  clearInterval(poll);
  const opened = await state(page, 'state,card,notices,progress');
  check(
    opened.state === 'ready' && opened.card?.name === 'var_d16.pth + vae_ch160v4096z32.pth',
    `opened files loaded in ${s(loadMs)}: ${opened.card?.name}, ${opened.card?.parameters?.toLocaleString('en')} parameters, ${opened.card?.imageSize} px`,
  );
  check(opened.progress?.total === pairBytes, `progress in bytes, total ${opened.progress?.total} = the two files' ${pairBytes}`);
  console.log(
    `     progress: ${progress
      .slice(0, 3)
      .map((p) => `${p.stage} ${(p.loaded / 1e6).toFixed(0)}/${(p.total / 1e6).toFixed(0)} MB`)
      .join(' → ')} … ${progress.length} samples`,
  );
  check((await page.inputValue('#model-select')) === '__opened__', 'the model select names the opened model');

  // 2. Generate one image (class 207, seed 0, the official sampling).
  const g1 = await generate(page, 0);
  check(
    !g1.error && g1.last?.tokens?.length === 10,
    `generated 1 image in ${s(g1.last?.ms ?? 0)} (wall ${s(g1.wall)})${g1.error ? `: ${g1.error}` : ''}`,
  );
  await page.screenshot({ path: `/tmp/var-web-d16-${opt.threads}.png`, fullPage: true });

  // 3. The copy into OPFS (started right after loading, beside the generation).
  await page.waitForFunction(
    () => window.__var.cache.entries.some((e) => e.kind === 'opened') || window.__var.notices.some((n) => /not kept/.test(n.text)),
    null,
    { timeout: 600_000 },
  );
  await new Promise((r) => setTimeout(r, 600));
  clearInterval(keepPoll);
  const { cache, lastKeep } = await state(page, 'cache,lastKeep');
  const kept = cache.entries.find((e) => e.kind === 'opened');
  const loadedAt = t0 + loadMs;
  check(
    kept?.store === 'opfs' && kept.bytes === pairBytes,
    `kept in OPFS: ${kept ? `${kept.label}, ${(kept.bytes / 1e9).toFixed(2)} GB, copied in ${s(lastKeep?.ms ?? NaN)} beside the ${s(g1.wall)} generation (listed ${s(keptAt - loadedAt)} after the model loaded; copy progress seen in ${copying} polls)` : (await state(page, 'notices')).notices.map((n) => n.text).join(' | ')}`,
  );
  await page.close();

  // 4. A new page, the file inputs empty: load the kept copy.
  const again = await ctx.newPage();
  await again.goto(`${origin}/?backend=wasm&threads=${opt.threads}&previews=0`);
  await again.waitForFunction(() => window.__var?.state === 'ready' && window.__var.cache.entries.some((e) => e.kind === 'opened'), null, {
    timeout: 120_000,
  });
  check(
    (await again.textContent('#open-var-name')) === 'no file' && (await again.textContent('#open-vae-name')) === 'no file',
    'new page: no files chosen',
  );
  console.log(`     cache: ${await again.textContent('#cache-summary')}`);
  await again.click('#cache-panel summary');
  const t2 = Date.now();
  await again.click('#cache-list .load-cached');
  await again.waitForFunction(
    () => (window.__var.state === 'ready' && window.__var.card?.id === 'opened') || window.__var.state === 'no-model',
    null,
    { timeout: 900_000 },
  );
  const cachedMs = Date.now() - t2;
  const c = await state(again, 'card,fromCache');
  check(
    c.fromCache && c.card?.parameters === opened.card?.parameters,
    `loaded from OPFS in ${s(cachedMs)} (vs ${s(loadMs)} from the opened files), fromCache ${c.fromCache}`,
  );
  if (!opt['no-regenerate']) {
    const g2 = await generate(again, 0);
    check(
      !g2.error && JSON.stringify(g2.last?.tokens) === JSON.stringify(g1.last?.tokens),
      `the cached model generates the same tokens (seed 0) in ${s(g2.last?.ms ?? 0)}`,
    );
  }
  await again.screenshot({ path: `/tmp/var-web-d16-${opt.threads}-cached.png`, fullPage: true });
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
} finally {
  await ctx.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
if (failures.length) {
  console.error(`${failures.length} check(s) failed`);
  process.exit(1);
}
