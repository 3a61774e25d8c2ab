// Manual benchmark (not CI): one generation's time in Chromium on wasm with 1 vs 2 (…) threads.
//
// usage (from apps/web, after pnpm --filter @var/web build):
//   node scripts/bench-threads.mjs [--threads 1,2] [--runs 5] [--count 16] [--model mnist]
//
// One page per thread count, all open at once (the backend of each page is started once); after
// a warm-up run on each, the runs alternate between the pages (1, 2, 1, 2, …) so that other load
// on the machine falls on every thread count alike. Prints each run, the median and the minimum
// per thread count, and the load average before and after. The generation: the bundled model,
// class 3, seed 1, cfg 3, top-k 10, top-p 0.9, `count` images in one batch, previews off.
import { createServer } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: opt } = parseArgs({
  options: {
    threads: { type: 'string', default: '1,2' },
    runs: { type: 'string', default: '5' },
    count: { type: 'string', default: '16' },
    model: { type: 'string', default: 'mnist' },
    chromium: { type: 'string', default: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' },
  },
});
const threads = opt.threads.split(',').map(Number);
const runs = Number(opt.runs);
const dist = new URL('../dist/', import.meta.url).pathname;
if (!existsSync(join(dist, 'index.html'))) {
  console.error(`${dist} has no build: run pnpm --filter @var/web build first`);
  process.exit(2);
}
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
};
const server = createServer((req, res) => {
  let file = normalize(join(dist, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
  if (file.startsWith(dist) && existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
  if (!file.startsWith(dist) || !existsSync(file)) {
    res.writeHead(404);
    res.end();
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
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: opt.chromium, headless: true, args: ['--no-sandbox'] });
const la = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
try {
  console.log(
    `${opt.model}, ${opt.count} images per generation, wasm in Chromium ${browser.version()}, ${runs} runs per thread count · load average ${la()}`,
  );
  const pages = new Map();
  for (const n of threads) {
    const page = await browser.newPage({ viewport: { width: 1366, height: 1000 } });
    await page.goto(`${origin}/?backend=wasm&threads=${n}&previews=0&id=${opt.model}`);
    await page.waitForFunction((id) => window.__var?.state === 'ready' && window.__var.card?.id === id, opt.model, { timeout: 120_000 });
    const b = await page.evaluate(() => window.__var.backend);
    if (b.name !== 'wasm' || b.threads !== n || !b.crossOriginIsolated)
      throw new Error(`asked for ${n} wasm thread(s), the page has ${b.name} with ${b.threads} (isolated: ${b.crossOriginIsolated})`);
    await page.fill('#count', opt.count);
    await page.fill('#seed', '1');
    await page.fill('#cfg', '3');
    await page.fill('#topk', '10');
    await page.fill('#topp', '0.9');
    await page.selectOption('#class', '3');
    pages.set(n, page);
  }
  const once = async (page) => {
    const before = await page.evaluate(() => window.__var.runs);
    await page.click('#generate');
    await page.waitForFunction((k) => window.__var.runs > k || window.__var.error, before, { timeout: 600_000 });
    const r = await page.evaluate(() => ({ ms: window.__var.last?.ms, error: window.__var.error }));
    if (r.error) throw new Error(r.error);
    return r.ms;
  };
  for (const [n, page] of pages) console.log(`warm-up, ${n} thread(s): ${(await once(page)).toFixed(0)} ms`);
  const times = new Map(threads.map((n) => [n, []]));
  for (let i = 0; i < runs; i++) {
    for (const [n, page] of pages) {
      const ms = await once(page);
      times.get(n).push(ms);
      console.log(`run ${i + 1}, ${n} thread(s): ${ms.toFixed(0)} ms`);
    }
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const base = median(times.get(threads[0]));
  for (const n of threads) {
    const m = median(times.get(n));
    console.log(
      `${n} thread(s): median ${(m / 1000).toFixed(2)} s, min ${(Math.min(...times.get(n)) / 1000).toFixed(2)} s (${(base / m).toFixed(2)}× the ${threads[0]}-thread median)`,
    );
  }
  console.log(`load average after: ${la()}`);
} finally {
  await browser.close();
  server.close();
}
