import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const require = createRequire(import.meta.url);

/** tfjs-backend-wasm's `.wasm` binaries (served at /tfjs-wasm/, passed to setWasmPaths). */
const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
/** The shipped models (`packages/models/weights/<id>/`), served at /models/. */
const weightsDir = join(root, 'packages', 'models', 'weights');

/** COOP + COEP make the page cross-origin isolated: SharedArrayBuffer, so wasm threads. */
export const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

/**
 * `models/index.json`: the bundled models (every `weights/<id>/` with a card and both weight
 * files), with each file's size and SHA-256, so the page lists what exists without downloading
 * any weights, shows sizes, and keys its cache by content.
 */
export function modelIndex(dir: string): {
  format: string;
  models: Array<{ id: string; name: string; files: Array<{ name: string; bytes: number; sha256: string }> }>;
} {
  const models = [];
  if (existsSync(dir)) {
    for (const id of readdirSync(dir).sort()) {
      const d = join(dir, id);
      if (!statSync(d).isDirectory() || !existsSync(join(d, 'model-card.json'))) continue;
      const card = JSON.parse(readFileSync(join(d, 'model-card.json'), 'utf8')) as {
        name?: string;
        tokenizer?: { file?: string };
        var?: { file?: string };
      };
      const names = ['model-card.json', card.tokenizer?.file ?? 'vae.safetensors', card.var?.file ?? 'var.safetensors'];
      if (!names.every((n) => existsSync(join(d, n)))) continue;
      const files = names.map((name) => {
        const bytes = readFileSync(join(d, name));
        return { name, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
      });
      models.push({ id, name: card.name ?? id, files });
    }
  }
  return { format: 'var-ts-model-index', models };
}

/** Files served under a URL prefix: in dev from disk, in the build copied into dist/. */
function localAssets(): Plugin {
  const mounts: Array<{ prefix: string; dir: string; filter: (f: string) => boolean }> = [
    { prefix: 'tfjs-wasm/', dir: wasmDir, filter: (f) => f.endsWith('.wasm') && !f.includes(sep + 'miniprogram') },
    { prefix: 'models/', dir: weightsDir, filter: (f) => /\.(json|safetensors)$/.test(f) },
  ];
  const types: Record<string, string> = { '.wasm': 'application/wasm', '.json': 'application/json' };
  return {
    name: 'var-local-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = decodeURIComponent((req.url ?? '').split('?')[0]);
        if (url === '/models/index.json') {
          res.setHeader('Content-Type', 'application/json');
          for (const [k, v] of Object.entries(isolationHeaders)) res.setHeader(k, v);
          res.end(JSON.stringify(modelIndex(weightsDir)));
          return;
        }
        for (const m of mounts) {
          const prefix = `/${m.prefix}`;
          if (!url.startsWith(prefix)) continue;
          const file = join(m.dir, url.slice(prefix.length));
          if (!file.startsWith(m.dir) || !existsSync(file) || !statSync(file).isFile() || !m.filter(file)) {
            res.statusCode = 404;
            res.end('not found');
            return;
          }
          const ext = file.slice(file.lastIndexOf('.'));
          res.setHeader('Content-Type', types[ext] ?? 'application/octet-stream');
          for (const [k, v] of Object.entries(isolationHeaders)) res.setHeader(k, v);
          createReadStream(file).pipe(res);
          return;
        }
        next();
      });
    },
    generateBundle() {
      for (const m of mounts) {
        for (const f of listFiles(m.dir).filter(m.filter)) {
          const rel = relative(m.dir, f).split(sep).join('/');
          if (rel.includes('/') && m.prefix === 'tfjs-wasm/') continue;
          this.emitFile({ type: 'asset', fileName: `${m.prefix}${rel}`, source: readFileSync(f) });
        }
      }
      this.emitFile({ type: 'asset', fileName: 'models/index.json', source: `${JSON.stringify(modelIndex(weightsDir), null, 1)}\n` });
    },
  };
}

/** Workspace packages resolve to their TypeScript sources (no build order between packages). */
const varAliases = [
  { find: /^@var\/core\/errors$/, replacement: join(root, 'packages', 'core', 'src', 'errors.ts') },
  { find: /^@var\/core\/fs$/, replacement: join(root, 'packages', 'core', 'src', 'fs', 'atomic.ts') },
  {
    find: /^@var\/(core|checkpoint|tokenizer|transformer|sampling|data|models|pipeline)$/,
    replacement: join(root, 'packages', '$1', 'src', 'index.ts'),
  },
];

/**
 * The packages' Node-only branches (`import('node:fs/promises')` behind `isNode()`, the default
 * weights root `new URL('../weights/', import.meta.url)`) are expected in a browser build:
 * Vite stubs the Node modules, the worker passes explicit URLs. Keep those two notices out
 * of the build log; every other warning is shown.
 */
const logger = createLogger();
const expected = (msg: string) =>
  /Module "node:[a-z/]+" has been externalized for browser compatibility, imported by "[^"]*\/packages\//.test(msg) ||
  msg.includes('new URL("../weights/", import.meta.url) doesn\'t exist at build time');
const warn = logger.warn.bind(logger);
const warnOnce = logger.warnOnce.bind(logger);
logger.warn = (msg, opts) => (expected(msg) ? undefined : warn(msg, opts));
logger.warnOnce = (msg, opts) => (expected(msg) ? undefined : warnOnce(msg, opts));

export default defineConfig({
  customLogger: logger,
  base: './',
  resolve: { alias: varAliases },
  plugins: [localAssets()],
  server: { headers: isolationHeaders, host: '127.0.0.1' },
  preview: { headers: isolationHeaders, host: '127.0.0.1' },
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 4000,
  },
  // The backends are imported lazily by @var/core's initBackend; pre-bundle them up front so
  // the dev server does not re-optimise (and reload) on the first generation.
  optimizeDeps: {
    include: [
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-backend-cpu',
      '@tensorflow/tfjs-backend-wasm',
      '@tensorflow/tfjs-backend-webgpu',
      'fflate',
    ],
  },
});
