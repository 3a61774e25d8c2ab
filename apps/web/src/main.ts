/**
 * The page: controls, canvases and the mask editor. All TensorFlow.js work happens in
 * worker.ts; this file only sends parameters and draws what comes back.
 *
 * Query parameters: `backend=auto|webgpu|wasm|cpu` (default auto), `threads=<1…8>` (wasm),
 * `model=<URL of a model directory>` (loads that model instead of the registry's), `id=<registry id>`.
 */
import './style.css';
import type { BackendName } from '@var/core';
import type {
  CacheEntry,
  CardSummary,
  EditParams,
  FromKeeper,
  FromWorker,
  ImageInput,
  ModelEntry,
  ModelSource,
  SampleParams,
  ToKeeper,
  ToWorker,
} from './protocol';
import { formatBytes } from './format';
import { threadsWanted } from './threads';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const q = new URLSearchParams(location.search);
const BACKENDS: BackendName[] = ['auto', 'webgpu', 'wasm', 'cpu'];
const backendParam = (q.get('backend') ?? 'auto') as BackendName;
const backend: BackendName = BACKENDS.includes(backendParam) ? backendParam : 'auto';
const threads = threadsWanted(q.get('threads'), navigator.hardwareConcurrency ?? 1);
const base = new URL('./', document.baseURI);
const registryRoot = new URL('models/', base).href;
const CUSTOM = '__url__';
/** The model select's entry for a loaded opened model. */
const OPENED = '__opened__';

interface LastRun {
  kind: 'generate' | 'edit';
  params: SampleParams;
  tokens: number[][];
  labels: number[];
  mask?: number[][];
  keep?: number[][];
  inputTokens?: number[][];
  ms: number;
  scales: Array<{ si: number; pn: number; ms: number }>;
}

/** State exposed for tests and the console (`window.__var`). */
const state = {
  state: 'starting' as string,
  backend: null as null | Record<string, unknown>,
  models: [] as ModelEntry[],
  card: null as CardSummary | null,
  error: null as string | null,
  last: null as LastRun | null,
  runs: 0,
  /** Short messages shown to the user (newest last), for tests: { kind, text }. */
  notices: [] as Array<{ kind: string; text: string }>,
  /** The last load's progress event, and whether the loaded model came from the cache. */
  progress: null as null | { stage: string; loaded: number; total: number },
  fromCache: false,
  cache: { available: false, entries: [] as CacheEntry[] },
  /** An opened model being copied into the browser's storage (bytes), or null. */
  keeping: null as null | { label: string; loaded: number; total: number },
  /** Copies into the browser's storage finished (kept or not), and the last one's outcome and time. */
  keeps: 0,
  lastKeep: null as null | { label: string; ms: number; key?: string; note?: string },
  imports: 0,
};
(window as unknown as { __var: typeof state }).__var = state;

/**
 * A short message in the page (what was expected, what to do), with the full text on demand.
 * Messages stay until dismissed; the page keeps working.
 */
function notify(kind: 'bad' | 'warn' | 'ok', title: string, detail = ''): void {
  state.notices.push({ kind, text: `${title} ${detail}`.trim() });
  const box = $('notices');
  const n = document.createElement('div');
  n.className = `message ${kind} notice`;
  const h = document.createElement('strong');
  h.textContent = title;
  n.append(h);
  if (detail) {
    const short = detail.length > 220 ? `${detail.slice(0, 200)}…` : detail;
    const p = document.createElement('p');
    p.textContent = short;
    n.append(p);
    if (short !== detail) {
      const d = document.createElement('details');
      const sm = document.createElement('summary');
      sm.textContent = 'full message';
      const pre = document.createElement('pre');
      pre.textContent = detail;
      d.append(sm, pre);
      n.append(d);
    }
  }
  const x = document.createElement('button');
  x.type = 'button';
  x.className = 'dismiss';
  x.textContent = '×';
  x.title = 'dismiss';
  x.onclick = () => n.remove();
  n.append(x);
  box.append(n);
  while (box.children.length > 4) box.firstElementChild?.remove();
}

function setState(s: string): void {
  state.state = s;
  document.body.dataset.state = s;
  const running = s === 'running';
  const ready = s === 'ready';
  $<HTMLButtonElement>('generate').disabled = !ready;
  $<HTMLButtonElement>('edit').disabled = !ready || !editSource;
  $<HTMLButtonElement>('stop').disabled = !running;
  $<HTMLSelectElement>('model-select').disabled = running || s === 'loading';
  $<HTMLButtonElement>('open-load').disabled = running || s === 'loading' || s === 'starting' || s === 'error';
}

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);
/** Copies opened files into the browser's storage (OPFS) while the worker generates. */
const keeper = new Worker(new URL('./keeper.ts', import.meta.url), { type: 'module' });
const toKeeper = (m: ToKeeper) => keeper.postMessage(m);

// ---------- model selection ----------
let currentSource: ModelSource | null = null;
const customUrl = q.get('model');

function renderModelSelect(): void {
  const sel = $<HTMLSelectElement>('model-select');
  sel.replaceChildren();
  if (!currentSource) {
    const none = new Option(state.models.some((m) => m.bundled) ? 'choose a model…' : 'no model available', '');
    none.disabled = true;
    sel.append(none);
  }
  if (customUrl) sel.append(new Option(`${customUrl} (from the URL)`, CUSTOM));
  // An opened model (files, or their kept copy) is named in the select while it is loaded.
  const openedLoaded = (currentSource?.kind === 'files' || currentSource?.kind === 'cached') && state.card;
  if (openedLoaded) sel.append(new Option(`${state.card!.name} (opened files)`, OPENED));
  for (const m of state.models) {
    const o = new Option(`${m.name}${m.bundled ? '' : ' — not bundled yet'}`, m.id);
    o.disabled = !m.bundled;
    sel.append(o);
  }
  if (currentSource?.kind === 'url') sel.value = CUSTOM;
  else if (currentSource?.kind === 'id') sel.value = currentSource.id;
  else if (openedLoaded) sel.value = OPENED;
  else sel.value = '';
}

let previousSource: ModelSource | null = null;
function loadSource(source: ModelSource): void {
  previousSource = currentSource;
  currentSource = source;
  $('model-message').hidden = true;
  showProgress(
    0,
    source.kind === 'files' ? 'reading the files…' : source.kind === 'cached' ? 'reading from the cache…' : 'fetching the model card…',
  );
  setState('loading');
  send({ type: 'load', source });
}

function chooseInitialModel(): void {
  if (customUrl) {
    loadSource({ kind: 'url', url: new URL(customUrl, location.href).href });
    return;
  }
  const wanted = q.get('id');
  const bundled = state.models.filter((m) => m.bundled);
  const asked = wanted ? state.models.find((m) => m.id === wanted) : undefined;
  if (wanted && !asked?.bundled) {
    const known = state.models.map((m) => `${m.id}${m.bundled ? '' : ' (not bundled)'}`).join(', ');
    notify(
      'warn',
      asked ? `Model “${wanted}” is not bundled with this build.` : `Unknown model “${wanted}” (from ?id=).`,
      `Known models: ${known || 'none'}. ${bundled[0] ? `Loaded “${bundled[0].name}” instead; ` : ''}use ?id=<one of them>, ?model=<URL of a model directory>, or open checkpoint files below.`,
    );
  }
  const pick = (asked?.bundled ? asked : undefined) || bundled[0];
  if (pick?.bundled) {
    loadSource({ kind: 'id', id: pick.id, root: registryRoot });
    return;
  }
  // Nothing to load: say so, never show made-up output.
  setState('no-model');
  const msg = $('model-message');
  msg.hidden = false;
  msg.className = 'message warn';
  const names = state.models.map((m) => `“${m.name}” (${m.id}): ${m.bundled ? 'available' : 'weights not bundled yet'}`);
  msg.innerHTML = '';
  const h = document.createElement('strong');
  h.textContent = wanted && !asked ? `Unknown model “${wanted}”.` : 'No trained model is bundled with this build yet.';
  const p = document.createElement('p');
  p.textContent =
    'The registry lists: ' +
    (names.join('; ') || 'nothing') +
    '. Train one with @var/train (see packages/models/README.md) and rebuild, open a model directory with ?model=<URL>, or open checkpoint files (.pth / .safetensors) below.';
  msg.append(h, p);
  renderModelSelect();
}

$<HTMLSelectElement>('model-select').addEventListener('change', (e) => {
  const v = (e.target as HTMLSelectElement).value;
  if (v === OPENED) return; // already loaded
  if (v === CUSTOM && customUrl) loadSource({ kind: 'url', url: new URL(customUrl, location.href).href });
  else loadSource({ kind: 'id', id: v, root: registryRoot });
});

function showProgress(fraction: number, label: string): void {
  const p = $('load-progress');
  p.hidden = false;
  p.classList.toggle('busy', fraction <= 0);
  (p.querySelector('.bar') as HTMLElement).style.width = `${Math.round(fraction * 100)}%`;
  (p.querySelector('.label') as HTMLElement).textContent = label;
}

function renderCard(card: CardSummary, source: string, ms: number): void {
  const info = $('model-info');
  info.replaceChildren();
  const rows: Array<[string, string]> = [
    ['Name', card.name],
    ['Dataset', card.dataset],
    ['Image', `${card.imageSize}×${card.imageSize}${card.channels === 1 ? ' (gray)' : ''}`],
    ['Scales', card.patchNums.join(' → ')],
    ['Vocabulary', String(card.vocabSize)],
    ['Parameters', card.parameters.toLocaleString('en')],
    ['Loaded in', `${(ms / 1000).toFixed(2)} s`],
    ['From', source],
  ];
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    info.append(dt, dd);
  }
  for (const id of ['class', 'edit-class']) {
    const sel = $<HTMLSelectElement>(id);
    sel.replaceChildren();
    card.classNames.forEach((n, i) => sel.append(new Option(`${i}: ${n}`, String(i))));
    sel.append(new Option('unconditional', String(card.numClasses)));
  }
  const s = card.sampling;
  if (s?.cfg !== undefined) $<HTMLInputElement>('cfg').value = String(s.cfg);
  if (s?.topK !== undefined) $<HTMLInputElement>('topk').value = String(s.topK);
  if (s?.topP !== undefined) $<HTMLInputElement>('topp').value = String(s.topP);
}

// ---------- drawing ----------
function pictureCanvas(rgba: Uint8ClampedArray, size: number, display: number, cls = 'pic', height = size): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = size;
  c.height = height;
  c.className = cls;
  c.style.width = `${display}px`;
  c.style.height = `${Math.round((display * height) / size)}px`;
  c.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(rgba), size, height), 0, 0);
  return c;
}

/** A token map (pn×pn) as a colour grid: each token id hashed to a hue. */
function tokenCanvas(tokens: Int32Array, pn: number, b: number, display: number): HTMLCanvasElement {
  const rgba = new Uint8ClampedArray(pn * pn * 4);
  const V = state.card?.vocabSize ?? 1;
  for (let i = 0; i < pn * pn; i++) {
    const t = tokens[b * pn * pn + i];
    const h = ((t * 137.508) % 360) / 360;
    const l = 0.35 + 0.4 * (t / Math.max(1, V - 1));
    const [r, g, bl] = hsl(h, 0.55, l);
    rgba.set([r, g, bl, 255], 4 * i);
  }
  return pictureCanvas(rgba, pn, display, 'pic tokens');
}

function hsl(h: number, s: number, l: number): [number, number, number] {
  const f = (n: number) => {
    const k = (n + h * 12) % 12;
    const a = s * Math.min(l, 1 - l);
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

let runScales: Array<{ si: number; pn: number; ms: number }> = [];

function startScalesView(scales: number[]): void {
  const box = $('scales');
  box.replaceChildren();
  scales.forEach((pn, si) => {
    const cell = document.createElement('figure');
    cell.className = 'scale pending';
    cell.dataset.si = String(si);
    const slot = document.createElement('div');
    slot.className = 'slot';
    const cap = document.createElement('figcaption');
    cap.innerHTML = `<b>${pn}×${pn}</b> <span class="ms">…</span>`;
    cell.append(slot, cap);
    box.append(cell);
  });
}

/**
 * Thumbnail size so that all scales fit the row (each cell: 2×2 pairs of token map + preview
 * for a batch, one pair for a single image); below the minimum the row scrolls, with a hint.
 */
function thumbSize(scales: number, batch: boolean, previews: boolean): number {
  const box = $('scales');
  const cell = (box.clientWidth - 12 * (scales - 1)) / scales - 18;
  const perRow = (batch ? 2 : 1) * (previews ? 2 : 1);
  const fit = Math.floor((cell - 3 * perRow - (batch ? 6 : 0)) / perRow);
  return Math.max(batch ? 24 : 32, Math.min(batch ? 56 : 112, fit));
}

/** Say so when the scales row is wider than its panel (it scrolls sideways). */
function markOverflow(): void {
  const box = $('scales');
  const over = box.scrollWidth > box.clientWidth + 1;
  $('scales-panel').classList.toggle('overflowing', over);
  $('scroll-hint').hidden = !over;
}

function showScale(m: Extract<FromWorker, { type: 'scale' }>): void {
  runScales.push({ si: m.si, pn: m.pn, ms: m.ms });
  const cell = $('scales').querySelector(`[data-si="${m.si}"]`) as HTMLElement | null;
  if (!cell) return;
  cell.classList.remove('pending');
  const slot = cell.querySelector('.slot')!;
  slot.replaceChildren();
  const n = m.preview ? m.preview.rgba.length : Math.max(1, m.tokens.length / (m.pn * m.pn));
  const show = Math.min(n, 4);
  const disp = thumbSize(m.scales, show > 1, !!m.preview);
  const grid = document.createElement('div');
  grid.className = 'mini';
  for (let b = 0; b < show; b++) {
    const pair = document.createElement('div');
    pair.className = 'pair';
    pair.append(tokenCanvas(m.tokens, m.pn, b, disp));
    if (m.preview) pair.append(pictureCanvas(m.preview.rgba[b], m.preview.width, disp, 'pic', m.preview.height));
    grid.append(pair);
  }
  slot.append(grid);
  (cell.querySelector('.ms') as HTMLElement).textContent = `${m.ms.toFixed(0)} ms`;
  markOverflow();
  cell.title = m.preview ? 'time of this scale, including the preview decode' : 'time of this scale (transformer step + sampling)';
  $('run-status').textContent = `scale ${m.si + 1}/${m.scales}`;
}

function download(rgba: Uint8ClampedArray, size: number, name: string): void {
  const c = pictureCanvas(rgba, size, size);
  c.toBlob((blob) => {
    if (!blob) return;
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }, 'image/png');
}

function showResults(m: Extract<FromWorker, { type: 'done' }>, params: SampleParams): void {
  const box = $('results');
  box.replaceChildren();
  const names = state.card?.classNames ?? [];
  m.images.rgba.forEach((rgba, b) => {
    const fig = document.createElement('figure');
    fig.className = m.kind === 'edit' ? 'result edited' : 'result';
    fig.append(pictureCanvas(rgba, m.images.width, 160, 'pic', m.images.height));
    const cap = document.createElement('figcaption');
    const lab = m.labels[b];
    cap.textContent = `${m.kind === 'edit' ? 'edit · ' : ''}${lab >= names.length ? 'unconditional' : `class ${names[lab]}`} · seed ${params.seed} · #${b}`;
    const btns = document.createElement('div');
    btns.className = 'buttons';
    const e = document.createElement('button');
    e.textContent = 'Edit';
    e.className = 'edit-this';
    e.onclick = () =>
      setEditSource({
        kind: 'generated',
        rgba,
        size: m.images.width,
        label: lab,
        tokens: m.tokens.map((t) => t.slice(b * (t.length / m.labels.length), (b + 1) * (t.length / m.labels.length))),
      });
    const d = document.createElement('button');
    d.textContent = 'PNG';
    d.className = 'download';
    d.onclick = () => download(rgba, m.images.width, `var-${m.kind}-${lab}-seed${params.seed}-${b}.png`);
    btns.append(e, d);
    fig.append(cap, btns);
    box.append(fig);
  });
}

// ---------- editor ----------
type EditSource =
  | { kind: 'generated'; rgba: Uint8ClampedArray; size: number; label: number; tokens: Int32Array[] }
  | { kind: 'upload'; rgba: Uint8ClampedArray; size: number; image: ImageInput; label: number };
let editSource: EditSource | null = null;
const imgCanvas = $<HTMLCanvasElement>('edit-image');
const maskCanvas = $<HTMLCanvasElement>('edit-mask');
const mctx = maskCanvas.getContext('2d', { willReadFrequently: true })!;

function setEditSource(src: EditSource): void {
  editSource = src;
  const ctx = imgCanvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, imgCanvas.width, imgCanvas.height);
  ctx.drawImage(pictureCanvas(src.rgba, src.size, src.size), 0, 0, imgCanvas.width, imgCanvas.height);
  $('editor-empty').hidden = true;
  // The edit generates the source's class unless the user picks another.
  if (state.card && src.label >= 0 && src.label <= state.card.numClasses) $<HTMLSelectElement>('edit-class').value = String(src.label);
  clearMask();
  setState(state.state);
  $('edit-panel').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
}

function clearMask(): void {
  mctx.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
}
$('clear-mask').onclick = clearMask;

let drag: { x: number; y: number; snapshot: ImageData } | null = null;
const tool = () => (document.querySelector('input[name=tool]:checked') as HTMLInputElement).value;
function pos(e: PointerEvent): { x: number; y: number } {
  const r = maskCanvas.getBoundingClientRect();
  return { x: ((e.clientX - r.left) / r.width) * maskCanvas.width, y: ((e.clientY - r.top) / r.height) * maskCanvas.height };
}
const PAINT = 'rgba(255, 40, 120, 0.6)';
function dab(x: number, y: number): void {
  const r = Number($<HTMLInputElement>('brush').value) / 2;
  mctx.fillStyle = PAINT;
  mctx.beginPath();
  mctx.arc(x, y, r, 0, Math.PI * 2);
  mctx.fill();
}
maskCanvas.addEventListener('pointerdown', (e) => {
  if (!editSource) return;
  maskCanvas.setPointerCapture(e.pointerId);
  const p = pos(e);
  drag = { ...p, snapshot: mctx.getImageData(0, 0, maskCanvas.width, maskCanvas.height) };
  if (tool() === 'brush') dab(p.x, p.y);
});
maskCanvas.addEventListener('pointermove', (e) => {
  if (!drag) return;
  const p = pos(e);
  if (tool() === 'brush') {
    // Fill the gap between pointer events.
    const steps = Math.ceil(Math.hypot(p.x - drag.x, p.y - drag.y) / 3);
    for (let i = 1; i <= steps; i++) dab(drag.x + ((p.x - drag.x) * i) / steps, drag.y + ((p.y - drag.y) * i) / steps);
    drag.x = p.x;
    drag.y = p.y;
  } else {
    mctx.putImageData(drag.snapshot, 0, 0);
    mctx.fillStyle = PAINT;
    mctx.fillRect(Math.min(drag.x, p.x), Math.min(drag.y, p.y), Math.abs(p.x - drag.x), Math.abs(p.y - drag.y));
  }
});
const endDrag = () => {
  drag = null;
};
maskCanvas.addEventListener('pointerup', endDrag);
maskCanvas.addEventListener('pointercancel', endDrag);

/** The painted area at the model's resolution: coverage in [0, 1] per pixel. */
function paintedCoverage(size: number): number[][] {
  const data = mctx.getImageData(0, 0, maskCanvas.width, maskCanvas.height).data;
  const W = maskCanvas.width;
  const cell = W / size;
  const out: number[][] = [];
  for (let y = 0; y < size; y++) {
    const row: number[] = [];
    for (let x = 0; x < size; x++) {
      let hit = 0;
      let n = 0;
      for (let yy = Math.floor(y * cell); yy < Math.floor((y + 1) * cell); yy++) {
        for (let xx = Math.floor(x * cell); xx < Math.floor((x + 1) * cell); xx++) {
          n++;
          if (data[4 * (yy * W + xx) + 3] > 0) hit++;
        }
      }
      row.push(n ? hit / n : 0);
    }
    out.push(row);
  }
  return out;
}

/** PNG and JPEG go to the worker as bytes (decoded by @var/data, as the CLI does); other formats are decoded by the browser. */
async function imageInput(file: File): Promise<ImageInput> {
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  const png = head[0] === 0x89 && head[1] === 0x50 && head[2] === 0x4e && head[3] === 0x47;
  const jpeg = head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff;
  if (png || jpeg || file.size === 0) return { kind: 'bytes', bytes: await file.arrayBuffer(), name: file.name };
  let bmp: ImageBitmap;
  try {
    bmp = await createImageBitmap(file);
  } catch {
    throw new Error(
      `${file.name} is not an image this browser can decode (${file.type || 'unknown type'}, ${formatBytes(file.size)}). Upload a PNG, JPEG, WebP or GIF image.`,
    );
  }
  const c = new OffscreenCanvas(bmp.width, bmp.height);
  const ctx = c.getContext('2d')!;
  ctx.drawImage(bmp, 0, 0);
  const data = ctx.getImageData(0, 0, bmp.width, bmp.height).data;
  bmp.close();
  return { kind: 'rgba', width: c.width, height: c.height, data, name: file.name };
}

let importId = 0;
const imports = new Map<number, ImageInput>();
async function importFile(file: File): Promise<void> {
  if (!state.card) return;
  try {
    const image = await imageInput(file);
    importId += 1;
    imports.set(importId, image);
    // The worker decodes, centre-crops and resizes it to the model's size and channels.
    send({ type: 'import-image', reqId: importId, image: image.kind === 'bytes' ? { ...image, bytes: image.bytes.slice(0) } : image });
  } catch (e) {
    state.imports += 1;
    notify('bad', 'Could not use this image.', (e as Error).message);
  }
}
$<HTMLInputElement>('upload').addEventListener('change', async (e) => {
  const input = e.target as HTMLInputElement;
  const file = input.files?.[0];
  if (file) await importFile(file);
  input.value = '';
});

const placeholders = { scales: $('scales').innerHTML, results: $('results').innerHTML };
/** A new model: earlier results and the edit source belong to the old one. */
function resetOutputs(): void {
  editSource = null;
  imgCanvas.getContext('2d')!.clearRect(0, 0, imgCanvas.width, imgCanvas.height);
  clearMask();
  $('editor-empty').hidden = false;
  $('scales').innerHTML = placeholders.scales;
  $('results').innerHTML = placeholders.results;
  $('run-status').textContent = '';
}

// ---------- runs ----------
let reqId = 0;
let pending: { id: number; params: SampleParams; kind: 'generate' | 'edit'; extra: Partial<LastRun> } | null = null;

function readParams(labelFrom: string): SampleParams {
  const num = (id: string) => Number($<HTMLInputElement>(id).value);
  return {
    label: Number($<HTMLSelectElement>(labelFrom).value),
    count: Math.max(1, Math.min(16, Math.round(num('count')))),
    cfg: num('cfg'),
    topK: Math.round(num('topk')),
    topP: num('topp'),
    seed: Math.round(num('seed')),
    delayMs: Number($<HTMLSelectElement>('delay').value),
    previews: $<HTMLInputElement>('previews').checked,
  };
}

function beginRun(kind: 'generate' | 'edit', params: SampleParams, extra: Partial<LastRun>): number {
  reqId += 1;
  pending = { id: reqId, params, kind, extra };
  runScales = [];
  state.error = null;
  startScalesView(state.card!.patchNums);
  $('run-status').textContent = 'starting…';
  setState('running');
  return reqId;
}

$<HTMLFormElement>('generate-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (state.state !== 'ready') return;
  const params = readParams('class');
  const id = beginRun('generate', params, {});
  send({ type: 'generate', reqId: id, params });
});
$('reseed').onclick = () => {
  $<HTMLInputElement>('seed').value = String(Math.floor(Math.random() * 1e6));
};
$('stop').onclick = () => send({ type: 'stop' });

$('edit').onclick = () => {
  if (state.state !== 'ready' || !editSource || !state.card) return;
  const size = state.card.imageSize;
  const painted = paintedCoverage(size);
  if (!painted.some((row) => row.some((v) => v > 0))) {
    $('run-status').textContent = 'paint a region on the image first (brush or rectangle)';
    $('scales-panel').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
    return;
  }
  const inpaint = (document.querySelector('input[name=mode]:checked') as HTMLInputElement).value === 'inpaint';
  // keep = 1 where the input stays: outside the painted region for in-painting, inside it for out-painting.
  const mask = painted.map((row) => row.map((v) => (inpaint ? 1 - v : v)));
  const params: EditParams = { ...readParams('edit-class'), mask };
  const transfer: Transferable[] = [];
  if (editSource.kind === 'generated') params.inputTokens = editSource.tokens.map((t) => new Int32Array(t));
  else {
    const im = editSource.image;
    params.image = im.kind === 'bytes' ? { ...im, bytes: im.bytes.slice(0) } : { ...im, data: new Uint8ClampedArray(im.data) };
    transfer.push(params.image.kind === 'bytes' ? params.image.bytes : params.image.data.buffer);
  }
  const extra: Partial<LastRun> = { mask, ...(params.inputTokens ? { inputTokens: params.inputTokens.map((t) => Array.from(t)) } : {}) };
  const id = beginRun('edit', params, extra);
  send({ type: 'edit', reqId: id, params }, transfer);
};

// ---------- opening checkpoint files ----------
const opened: { vae?: File; var?: File; config?: File } = {};
const CHECKPOINT = /\.(pth|pt|bin|ckpt|safetensors)$/i;

/** Which slot a file goes to: JSON → config; a name with vae/tokenizer/vqvae → tokenizer; else transformer. */
function slotOf(f: File): 'vae' | 'var' | 'config' | null {
  const n = f.name.toLowerCase();
  if (n.endsWith('.json')) return 'config';
  if (!CHECKPOINT.test(n)) return null;
  return /vae|vqvae|tokenizer/.test(n) ? 'vae' : 'var';
}

function renderOpened(): void {
  const show = (slot: 'vae' | 'var' | 'config', empty: string) => {
    const f = opened[slot];
    $(`open-${slot}-name`).textContent = f ? `${f.name} (${formatBytes(f.size)})` : empty;
  };
  show('vae', 'no file');
  show('var', 'no file');
  show('config', 'none (use the preset)');
  const preset = $<HTMLSelectElement>('open-preset').value;
  const okConfig = !!opened.config || preset !== '';
  $<HTMLButtonElement>('open-load').disabled =
    !(opened.vae && opened.var && okConfig) || state.state === 'loading' || state.state === 'running';
  $('open-hint').textContent =
    !opened.vae || !opened.var
      ? 'Open (or drop here) a tokenizer and a transformer checkpoint, .pth or .safetensors — e.g. vae_ch160v4096z32.pth and var_d16.pth.'
      : okConfig
        ? `Ready: ${opened.var.name} with ${opened.vae.name}, ${opened.config ? `config ${opened.config.name}` : `preset ${preset}`}.`
        : 'Choose the preset these weights were trained with, or open their config file.';
}

function addFiles(files: Iterable<File>): void {
  const rejected: string[] = [];
  for (const f of files) {
    const slot = slotOf(f);
    if (slot) opened[slot] = f;
    else rejected.push(f.name);
  }
  if (rejected.length)
    notify(
      'warn',
      `Not a checkpoint or a config: ${rejected.join(', ')}.`,
      'Open .pth / .safetensors checkpoints (a tokenizer and a transformer) and optionally a config .json (model-card.json or the official config.json).',
    );
  renderOpened();
}
for (const slot of ['vae', 'var', 'config'] as const) {
  $<HTMLInputElement>(`open-${slot}`).addEventListener('change', (e) => {
    const input = e.target as HTMLInputElement;
    const f = input.files?.[0];
    if (f) {
      if (slot !== 'config' && !CHECKPOINT.test(f.name))
        notify('warn', `${f.name} does not look like a checkpoint.`, 'Expected a .pth or .safetensors file; trying it anyway.');
      opened[slot] = f;
    }
    input.value = '';
    renderOpened();
  });
}
$<HTMLInputElement>('open-any').addEventListener('change', (e) => {
  const input = e.target as HTMLInputElement;
  addFiles(input.files ?? []);
  input.value = '';
});
$<HTMLSelectElement>('open-preset').addEventListener('change', renderOpened);
$('open-load').onclick = () => {
  if (!opened.vae || !opened.var) return;
  const preset = $<HTMLSelectElement>('open-preset').value;
  loadSource({ kind: 'files', vae: opened.vae, var: opened.var, ...(opened.config ? { config: opened.config } : { preset }) });
};
// Drag and drop anywhere on the page: checkpoints and configs go to the open panel, images to the editor.
document.addEventListener('dragover', (e) => {
  e.preventDefault();
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', (e) => {
  if (e.relatedTarget === null) document.body.classList.remove('dragging');
});
document.addEventListener('drop', (e) => {
  e.preventDefault();
  document.body.classList.remove('dragging');
  const files = [...(e.dataTransfer?.files ?? [])];
  const images = files.filter((f) => f.type.startsWith('image/'));
  const rest = files.filter((f) => !f.type.startsWith('image/'));
  if (rest.length) addFiles(rest);
  if (images[0]) void importFile(images[0]);
});

// ---------- cache ----------
function renderCache(): void {
  const box = $('cache-list');
  box.replaceChildren();
  const { available, entries } = state.cache;
  const total = entries.reduce((s, e) => s + e.bytes, 0);
  $('cache-summary').textContent = !available
    ? 'not available here (no Cache Storage, no origin-private file system): models are downloaded on every visit'
    : entries.length
      ? `${entries.length} model${entries.length === 1 ? '' : 's'}, ${formatBytes(total)}`
      : 'empty';
  for (const e of entries) {
    const li = document.createElement('li');
    const what = e.kind === 'bundled' ? 'bundled' : e.kind === 'opened' ? 'opened files' : 'from a URL';
    li.textContent = `${e.label} — ${formatBytes(e.bytes)} (${what})`;
    li.title = e.store === 'opfs' ? "kept in this browser's origin-private file system" : "kept in this browser's Cache Storage";
    if (e.key) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'load-cached';
      b.textContent = 'Load';
      b.onclick = () => loadSource({ kind: 'cached', key: e.key! });
      const r = document.createElement('button');
      r.type = 'button';
      r.className = 'remove-cached';
      r.textContent = 'Remove';
      r.onclick = () => send({ type: 'cache-remove', key: e.key! });
      li.append(' ', b, ' ', r);
    }
    box.append(li);
  }
  const k = state.keeping;
  const keepBox = $('cache-keeping');
  keepBox.hidden = !k;
  if (k)
    keepBox.textContent = `Keeping ${k.label} in this browser: ${formatBytes(k.loaded)} of ${formatBytes(k.total)} (${Math.floor((100 * k.loaded) / Math.max(1, k.total))}%)…`;
  $<HTMLButtonElement>('cache-clear').disabled = !available || entries.length === 0;
}
$('cache-clear').onclick = () => {
  toKeeper({ type: 'abort' }); // a copy in progress stops first (nothing half-written stays)
  send({ type: 'cache-clear' });
};
keeper.onmessage = (ev: MessageEvent<FromKeeper>) => {
  const m = ev.data;
  if (m.type === 'keeping') state.keeping = m.progress;
  else {
    state.keeping = null;
    state.keeps += 1;
    state.lastKeep = { label: m.label, ms: m.ms, ...(m.key ? { key: m.key } : {}), ...(m.note ? { note: m.note } : {}) };
    if (m.note) notify('warn', 'The opened model was not kept in this browser.', m.note);
    // OPFS's list at once; the worker's full list (with Cache Storage) when it is free.
    state.cache = {
      available: state.cache.available || m.opened.length > 0,
      entries: [...state.cache.entries.filter((e) => e.store !== 'opfs'), ...m.opened],
    };
    send({ type: 'cache-list' });
  }
  renderCache();
};
keeper.onerror = (e) => notify('warn', 'Opened models cannot be kept in this browser.', e.message || 'the keeper worker failed to start');

// ---------- worker messages ----------
worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const m = ev.data;
  switch (m.type) {
    case 'backend': {
      state.backend = m.info as unknown as Record<string, unknown>;
      document.body.dataset.backend = m.info.name;
      const i = m.info;
      const label =
        i.name === 'wasm'
          ? `wasm · ${i.threads} thread${i.threads === 1 ? '' : 's'}`
          : i.name === 'webgpu'
            ? `WebGPU${i.adapter?.includes('(software)') ? ' · software' : ''}`
            : i.name;
      $('backend-name').textContent = label;
      $('backend').className = `backend ok ${i.name}`;
      // Details on demand: why this backend, the adapter, threads and isolation.
      const rows: Array<[string, string]> = [['why', i.reason]];
      if (i.adapter) rows.push(['adapter', i.adapter]);
      if (i.limits)
        rows.push([
          'limits',
          Object.entries(i.limits)
            .map(([k, v]) => `${k} ${formatBytes(v.requested)}`)
            .join(', '),
        ]);
      if (i.name === 'wasm') {
        rows.push(['threads', `${i.threads} of ${i.threadsWanted ?? '?'} asked (${i.wasmBinary} build; ?threads=N to change)`]);
        rows.push([
          'isolation',
          i.crossOriginIsolated
            ? 'cross-origin isolated: wasm threads available'
            : 'not cross-origin isolated: no SharedArrayBuffer, one thread',
        ]);
      }
      rows.push(['cores', String(i.cores)]);
      if (backend === 'auto') rows.push(['other', '?backend=webgpu|wasm|cpu']);
      const dl = $('backend-reason');
      dl.replaceChildren();
      for (const [k, v] of rows) {
        const dt = document.createElement('dt');
        dt.textContent = k;
        const dd = document.createElement('dd');
        dd.textContent = v;
        dl.append(dt, dd);
      }
      if (i.name === 'wasm' && (i.threads ?? 1) < (i.threadsWanted ?? 1)) {
        notify(
          'warn',
          `wasm runs ${i.threads} thread(s) of the ${i.threadsWanted} asked.`,
          i.crossOriginIsolated
            ? i.reason
            : 'The page is not cross-origin isolated (serve it with COOP/COEP headers), so wasm cannot use threads.',
        );
      }
      break;
    }
    case 'backend-error':
      state.error = m.message;
      $('backend-name').textContent = `no ${backend} backend`;
      $('backend').className = 'backend bad';
      $('backend-reason').textContent = m.message;
      notify(
        'bad',
        `The ${backend} backend cannot start here.`,
        `${m.message} Try ?backend=wasm (works in every current browser) or ?backend=auto.`,
      );
      setState('error');
      break;
    case 'models':
      state.models = m.models;
      chooseInitialModel();
      renderModelSelect();
      break;
    case 'progress': {
      state.progress = { stage: m.stage, loaded: m.loaded, total: m.total };
      const f = m.total > 0 ? m.loaded / m.total : 0;
      const bytes = m.total > 0 ? `${formatBytes(m.loaded)} of ${formatBytes(m.total)}` : m.loaded > 0 ? formatBytes(m.loaded) : '';
      showProgress(f, `${m.stage}${m.file ? ` ${m.file}` : ''}${bytes ? ` · ${bytes}` : ''}`);
      break;
    }
    case 'loaded':
      if (m.keep && currentSource?.kind === 'files')
        toKeeper({ type: 'keep', vae: currentSource.vae, var: currentSource.var, card: m.keep.card, label: m.keep.label });
      state.card = m.card;
      state.fromCache = m.fromCache;
      state.error = null;
      resetOutputs();
      showProgress(1, `loaded ${m.card.name}${m.fromCache ? ' from the cache' : ''}`);
      setTimeout(() => ($('load-progress').hidden = true), 600);
      renderCard(m.card, m.source, m.ms);
      renderModelSelect();
      setState('ready');
      break;
    case 'load-error': {
      state.error = m.message;
      $('load-progress').hidden = true;
      const what =
        currentSource?.kind === 'files' ? 'the opened files' : currentSource?.kind === 'url' ? 'the model at this URL' : 'the model';
      const hint =
        /E_CHECKPOINT/.test(m.code) && /does not match|mis-shaped|missing key|unexpected key/i.test(m.message)
          ? ' These weights do not fit the chosen configuration: pick the preset or config file they were made with (both files must belong to one model).'
          : /E_CONFIG/.test(m.code)
            ? ' The configuration is not valid: give a model-card.json, a { tokenizer, var } config, the official config.json, or a preset.'
            : '';
      notify('bad', `Could not load ${what}.`, `${m.message}${hint}`);
      if (state.card) {
        // The previous model is still loaded: keep working with it.
        currentSource = previousSource;
        renderModelSelect();
        setState('ready');
      } else {
        const msg = $('model-message');
        msg.hidden = false;
        msg.className = 'message bad';
        msg.textContent = m.code.includes('E_MODEL_NOT_BUNDLED')
          ? `This model is not bundled yet. ${m.message}`
          : `Could not load the model: ${m.message}`;
        setState('no-model');
      }
      break;
    }
    case 'cache':
      state.cache = { available: m.available, entries: m.entries };
      renderCache();
      if (m.note) notify('warn', 'The opened model was not kept in this browser.', m.note);
      break;

    case 'imported': {
      state.imports += 1;
      const image = imports.get(m.reqId);
      imports.delete(m.reqId);
      if (!image || !state.card) break;
      setEditSource({ kind: 'upload', rgba: m.picture.rgba[0], size: m.picture.width, image, label: -1 });
      break;
    }
    case 'import-error':
      state.imports += 1;
      imports.delete(m.reqId);
      notify('bad', 'Could not use this image.', `${m.message}. Upload a PNG or JPEG image (or any image format this browser shows).`);
      break;
    case 'scale':
      if (pending && m.reqId === pending.id) showScale(m);
      break;
    case 'done': {
      if (!pending || m.reqId !== pending.id) break;
      state.last = {
        kind: m.kind,
        params: pending.params,
        tokens: m.tokens.map((t) => Array.from(t)),
        labels: Array.from(m.labels),
        ...(m.keep ? { keep: m.keep.map((k) => Array.from(k)) } : {}),
        ...(m.inputTokens ? { inputTokens: m.inputTokens.map((t) => Array.from(t)) } : {}),
        ...pending.extra,
        ms: m.ms,
        scales: runScales,
      };
      state.runs += 1;
      showResults(m, pending.params);
      $('run-status').textContent = `done in ${(m.ms / 1000).toFixed(2)} s (${runScales.length} scales)`;
      pending = null;
      setState('ready');
      break;
    }
    case 'aborted':
      $('run-status').textContent = 'stopped';
      pending = null;
      setState('ready');
      break;
    case 'error':
      state.error = m.message;
      $('run-status').textContent = `error: ${m.message}`;
      notify('bad', 'The run failed.', m.message);
      pending = null;
      setState(state.card ? 'ready' : 'no-model');
      break;
  }
};
worker.onerror = (e) => {
  state.error = e.message || 'the worker failed to start';
  $('backend-name').textContent = 'worker failed';
  $('backend-reason').textContent = state.error;
  setState('error');
};

if (q.get('previews') === '0') $<HTMLInputElement>('previews').checked = false;
const delayParam = q.get('delay');
if (delayParam !== null) {
  const sel = $<HTMLSelectElement>('delay');
  if (![...sel.options].some((o) => o.value === delayParam)) sel.append(new Option(`${delayParam} ms between scales`, delayParam));
  sel.value = delayParam;
}
setState('starting');
// Progress from the first moment: the backend starts, then the model list, then the model.
showProgress(0, `starting the ${backend === 'auto' ? '' : `${backend} `}backend…`);
$('backend-name').textContent = `starting ${backend}…`;
if (!BACKENDS.includes(backendParam)) {
  notify('warn', `Unknown backend “${backendParam}” (from ?backend=).`, `Expected one of ${BACKENDS.join(', ')}; using auto.`);
}
if (threads.error) notify('warn', 'Bad thread count.', threads.error);
renderOpened();
renderCache();
send({ type: 'init', backend, wasmPaths: new URL('tfjs-wasm/', base).href, registryRoot, threads: threads.threads });
