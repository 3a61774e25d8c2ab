/**
 * The page: controls, canvases and the mask editor. All TensorFlow.js work happens in
 * worker.ts; this file only sends parameters and draws what comes back.
 *
 * Query parameters: `backend=auto|webgpu|wasm|cpu` (default auto), `model=<URL of a model
 * directory>` (loads that model instead of the registry's), `id=<registry id>`.
 */
import './style.css';
import type { BackendName } from '@var/core';
import type { CardSummary, EditParams, FromWorker, ModelEntry, ModelSource, Pictures, SampleParams, ToWorker } from './protocol';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const q = new URLSearchParams(location.search);
const BACKENDS: BackendName[] = ['auto', 'webgpu', 'wasm', 'cpu'];
const backendParam = (q.get('backend') ?? 'auto') as BackendName;
const backend: BackendName = BACKENDS.includes(backendParam) ? backendParam : 'auto';
const base = new URL('./', document.baseURI);
const registryRoot = new URL('models/', base).href;
const CUSTOM = '__url__';

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
};
(window as unknown as { __var: typeof state }).__var = state;

function setState(s: string): void {
  state.state = s;
  document.body.dataset.state = s;
  const running = s === 'running';
  const ready = s === 'ready';
  $<HTMLButtonElement>('generate').disabled = !ready;
  $<HTMLButtonElement>('edit').disabled = !ready || !editSource;
  $<HTMLButtonElement>('stop').disabled = !running;
  $<HTMLSelectElement>('model-select').disabled = running || s === 'loading';
}

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);

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
  for (const m of state.models) {
    const o = new Option(`${m.name}${m.bundled ? '' : ' — not bundled yet'}`, m.id);
    o.disabled = !m.bundled;
    sel.append(o);
  }
  if (currentSource?.kind === 'url') sel.value = CUSTOM;
  else if (currentSource?.kind === 'id') sel.value = currentSource.id;
  else sel.value = '';
}

function loadSource(source: ModelSource): void {
  currentSource = source;
  state.card = null;
  $('model-message').hidden = true;
  $('model-info').replaceChildren();
  showProgress(0, 'loading model card');
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
  const pick = (wanted && state.models.find((m) => m.id === wanted)) || bundled[0];
  if (pick && pick.bundled) {
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
  h.textContent = wanted && !pick ? `Unknown model “${wanted}”.` : 'No trained model is bundled with this build yet.';
  const p = document.createElement('p');
  p.textContent =
    'The registry lists: ' + (names.join('; ') || 'nothing') +
    '. Train one with @var/train (see packages/models/README.md) and rebuild, or open a model directory with ?model=<URL>.';
  msg.append(h, p);
  renderModelSelect();
}

$<HTMLSelectElement>('model-select').addEventListener('change', (e) => {
  const v = (e.target as HTMLSelectElement).value;
  if (v === CUSTOM && customUrl) loadSource({ kind: 'url', url: new URL(customUrl, location.href).href });
  else loadSource({ kind: 'id', id: v, root: registryRoot });
});

function showProgress(fraction: number, label: string): void {
  const p = $('load-progress');
  p.hidden = false;
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
function pictureCanvas(rgba: Uint8ClampedArray, size: number, display: number, cls = 'pic'): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = size;
  c.height = size;
  c.className = cls;
  c.style.width = `${display}px`;
  c.style.height = `${display}px`;
  c.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(rgba), size, size), 0, 0);
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

function showScale(m: Extract<FromWorker, { type: 'scale' }>): void {
  runScales.push({ si: m.si, pn: m.pn, ms: m.ms });
  const cell = $('scales').querySelector(`[data-si="${m.si}"]`) as HTMLElement | null;
  if (!cell) return;
  cell.classList.remove('pending');
  const slot = cell.querySelector('.slot')!;
  slot.replaceChildren();
  const n = m.preview ? m.preview.rgba.length : 1;
  const show = Math.min(n, 4);
  const disp = show > 1 ? 56 : 112;
  const grid = document.createElement('div');
  grid.className = 'mini';
  for (let b = 0; b < show; b++) {
    const pair = document.createElement('div');
    pair.className = 'pair';
    pair.append(tokenCanvas(m.tokens, m.pn, b, disp));
    if (m.preview) pair.append(pictureCanvas(m.preview.rgba[b], m.preview.size, disp));
    grid.append(pair);
  }
  slot.append(grid);
  (cell.querySelector('.ms') as HTMLElement).textContent = `${m.ms.toFixed(0)} ms`;
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
    fig.append(pictureCanvas(rgba, m.images.size, 160));
    const cap = document.createElement('figcaption');
    const lab = m.labels[b];
    cap.textContent = `${m.kind === 'edit' ? 'edit · ' : ''}${lab >= names.length ? 'unconditional' : `class ${names[lab]}`} · seed ${params.seed} · #${b}`;
    const btns = document.createElement('div');
    btns.className = 'buttons';
    const e = document.createElement('button');
    e.textContent = 'Edit';
    e.className = 'edit-this';
    e.onclick = () => setEditSource({ kind: 'generated', rgba, size: m.images.size, tokens: m.tokens.map((t) => t.slice(b * (t.length / m.labels.length), (b + 1) * (t.length / m.labels.length))) });
    const d = document.createElement('button');
    d.textContent = 'PNG';
    d.className = 'download';
    d.onclick = () => download(rgba, m.images.size, `var-${m.kind}-${lab}-seed${params.seed}-${b}.png`);
    btns.append(e, d);
    fig.append(cap, btns);
    box.append(fig);
  });
}

// ---------- editor ----------
type EditSource = { kind: 'generated'; rgba: Uint8ClampedArray; size: number; tokens: Int32Array[] } | { kind: 'upload'; rgba: Uint8ClampedArray; size: number };
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

$<HTMLInputElement>('upload').addEventListener('change', async (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (!file || !state.card) return;
  const size = state.card.imageSize;
  const bmp = await createImageBitmap(file);
  const c = document.createElement('canvas');
  c.width = size;
  c.height = size;
  const ctx = c.getContext('2d')!;
  // Centre-crop to a square, then resize to the model's size.
  const s = Math.min(bmp.width, bmp.height);
  ctx.drawImage(bmp, (bmp.width - s) / 2, (bmp.height - s) / 2, s, s, 0, 0, size, size);
  const rgba = ctx.getImageData(0, 0, size, size).data;
  if (state.card.channels === 1) {
    for (let i = 0; i < size * size; i++) {
      const g = Math.round(0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]);
      rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = g;
    }
  }
  setEditSource({ kind: 'upload', rgba: new Uint8ClampedArray(rgba), size });
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
    const img = new Float32Array(3 * size * size);
    for (let i = 0; i < size * size; i++) for (let ch = 0; ch < 3; ch++) img[ch * size * size + i] = (editSource.rgba[4 * i + ch] / 255) * 2 - 1;
    params.image = img;
    transfer.push(img.buffer);
  }
  const extra: Partial<LastRun> = { mask, ...(params.inputTokens ? { inputTokens: params.inputTokens.map((t) => Array.from(t)) } : {}) };
  const id = beginRun('edit', params, extra);
  send({ type: 'edit', reqId: id, params }, transfer);
};

// ---------- worker messages ----------
worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const m = ev.data;
  switch (m.type) {
    case 'backend': {
      state.backend = m.info as unknown as Record<string, unknown>;
      document.body.dataset.backend = m.info.name;
      const label = m.info.name === 'wasm' ? `wasm · ${m.info.threads} thread${m.info.threads === 1 ? '' : 's'}` : m.info.name;
      $('backend-name').textContent = label;
      $('backend').className = `backend ok ${m.info.name}`;
      const iso = m.info.crossOriginIsolated
        ? 'page is cross-origin isolated (SharedArrayBuffer: wasm threads possible)'
        : 'page is NOT cross-origin isolated (no SharedArrayBuffer, so no wasm threads)';
      const why: string[] = [m.info.reason];
      if (m.info.adapter) why.push(`adapter: ${m.info.adapter}`);
      if (m.info.name === 'wasm') {
        why.push(iso);
        why.push(`navigator.hardwareConcurrency = ${m.info.cores}`);
      }
      if (backend === 'auto') why.push('pick another with ?backend=webgpu|wasm|cpu');
      $('backend-reason').textContent = why.join(' · ');
      break;
    }
    case 'backend-error':
      state.error = m.message;
      $('backend-name').textContent = `no ${backend} backend`;
      $('backend').className = 'backend bad';
      $('backend-reason').textContent = m.message;
      setState('error');
      break;
    case 'models':
      state.models = m.models;
      chooseInitialModel();
      renderModelSelect();
      break;
    case 'progress':
      showProgress(m.fraction, `${m.stage} ${Math.round(m.fraction * 100)}%`);
      break;
    case 'loaded':
      state.card = m.card;
      resetOutputs();
      showProgress(1, `loaded ${m.card.name}`);
      setTimeout(() => ($('load-progress').hidden = true), 600);
      renderCard(m.card, m.source, m.ms);
      renderModelSelect();
      setState('ready');
      break;
    case 'load-error': {
      state.error = m.message;
      $('load-progress').hidden = true;
      const msg = $('model-message');
      msg.hidden = false;
      msg.className = 'message bad';
      msg.textContent = m.code === 'E_MODEL_NOT_BUNDLED' ? `This model is not bundled yet. ${m.message}` : `Could not load the model: ${m.message}`;
      setState('no-model');
      break;
    }
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
      pending = null;
      setState('ready');
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
$('backend-name').textContent = `starting ${backend}…`;
send({ type: 'init', backend, wasmPaths: new URL('tfjs-wasm/', base).href, registryRoot });
