// Manual check (not CI): the official-layout d16 pair opened in the page, generated on wasm in Chromium.
// usage: /usr/bin/python3 ../../../shared/bench/make_official_checkpoint.py 16 /tmp/d16 && pnpm --filter @var/web build && node scripts/check-d16.mjs [threads] [dir]
// Manual check: the official-layout d16 pair (random weights) opened in the page, generation on wasm.

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png' };
import { chromium } from 'playwright-core';
const threads = process.argv[2] ?? '2';
const dir = process.argv[3] ?? '/tmp/d16';
const { server, origin } = await serve([['/', new URL('../dist/', import.meta.url).pathname]]);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1366, height: 1000 } });
page.on('pageerror', (e) => console.log('pageerror', e.message));
page.on('console', (m) => { if (m.type() !== 'log') console.log('console', m.type(), m.text().slice(0, 300)); });
await page.goto(`${origin}/?backend=wasm&threads=${threads}&previews=0`);
await page.waitForFunction(() => window.__var?.state === 'ready', null, { timeout: 90000 });
await page.click('#open-panel summary');
await page.setInputFiles('#open-vae', `${dir}/vae_ch160v4096z32.pth`);
await page.setInputFiles('#open-var', `${dir}/var_d16.pth`);
await page.selectOption('#open-preset', 'd16');
const t0 = Date.now();
const samples = [];
const poll = setInterval(async () => { try { samples.push(await page.evaluate(() => JSON.stringify(window.__var.progress))); } catch {} }, 2000);
await page.click('#open-load');
await page.waitForFunction(() => window.__var.state !== 'loading', null, { timeout: 600000 });
clearInterval(poll);
const s = await page.evaluate(() => JSON.stringify({ state: window.__var.state, card: window.__var.card && { name: window.__var.card.name, params: window.__var.card.parameters, size: window.__var.card.imageSize }, notices: window.__var.notices, backend: window.__var.backend }));
console.log('load', (Date.now() - t0) / 1000, 's', s);
console.log('progress samples', samples.slice(0, 4).join(' '), '...', samples.slice(-2).join(' '));
await page.fill('#count', '1'); await page.fill('#seed', '0'); await page.fill('#cfg', '1.5'); await page.fill('#topk', '900'); await page.fill('#topp', '0.96');
await page.selectOption('#class', '207');
const t1 = Date.now();
await page.click('#generate');
await page.waitForFunction(() => window.__var.runs >= 1 || window.__var.error, null, { timeout: 600000 });
const r = await page.evaluate(() => JSON.stringify({ ms: window.__var.last?.ms, scales: window.__var.last?.scales, err: window.__var.error }));
console.log('generate', (Date.now() - t1) / 1000, 's', r);
await page.screenshot({ path: `/tmp/var-web-d16-${threads}.png`, fullPage: true });
await page.waitForFunction(() => window.__var.cache.entries.some((e) => e.kind === 'opened') || window.__var.notices.some((n) => /cache/.test(n.text)), null, { timeout: 120000 }).catch(() => {});
console.log('cache', await page.evaluate(() => JSON.stringify(window.__var.cache)));
await browser.close(); server.close();
import { createServer } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { join, extname, normalize } from 'node:path';
function serve(routes) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    for (const [prefix, dir] of routes) {
      if (!path.startsWith(prefix)) continue;
      let file = normalize(join(dir, path.slice(prefix.length)));
      if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
      if (!existsSync(file)) break;
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': statSync(file).size, 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin', 'Cache-Control': 'no-store' });
      createReadStream(file).pipe(res);
      return;
    }
    res.writeHead(404); res.end('not found');
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, origin: `http://127.0.0.1:${server.address().port}` })));
}
