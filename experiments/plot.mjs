/**
 * Minimal scientific plots rendered into RGB rasters (no dependencies apart from @var/data's
 * 5×7 bitmap font and PNG encoder), for the script-produced figures of docs/paper-claims.md.
 *
 *   import { renderPlot, encodePlotPng } from './plot.mjs';
 *   const img = renderPlot({ title: 'Loss vs params', xLabel: 'params', yLabel: 'loss',
 *     series: [{ name: 'VAR', color: [31, 119, 180], points: [{ x: 1e5, y: 2.1 }, …], line: true }],
 *     fits: [{ name: 'power law', color: [214, 39, 40], f: (x) => 3 * x ** -0.05 }] });
 *   await writeFile('loss.png', encodePlotPng(img));
 *
 * Series draw markers (default on; squares and circles alternate between series) and, with
 * `line: true`, a 2 px polyline through the points in the given order. Fits are dashed curves
 * sampled on 200 points across the data's x range. Log axes tick at 1, 2, 5 × 10^k (only
 * 1 × 10^k over many decades; "nice" linear ticks when the range holds fewer than three).
 * The legend (`legend: true`) sits in the upper right unless data lies under it there, then in
 * the corner that hides the fewest data pixels; `legend: 'lower left'` etc. forces a corner.
 */
import { FONT_HEIGHT, FONT_WIDTH, encodePng, glyph } from '@var/data';

const BLACK = [0, 0, 0];
const GRID = [225, 225, 225];
const FIT_SAMPLES = 200;

/** Tick label: 50000 → "50K", 1e6 → "1M", 0.9 → "0.9", 2e-5 → "2E-5". */
export function formatTick(v) {
  const a = Math.abs(v);
  if (a === 0) return '0';
  for (const [unit, s] of [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ]) {
    if (a >= unit) return `${parseFloat((v / unit).toPrecision(4))}${s}`;
  }
  return a < 1e-3
    ? v
        .toExponential()
        .replace(/\.?0+e/, 'e')
        .replace('e', 'E')
    : String(parseFloat(v.toPrecision(4)));
}

function niceLinearTicks(lo, hi, target = 5) {
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) ticks.push(parseFloat((i * step).toPrecision(12)));
  return ticks;
}

/** Tick values (data units) for an axis spanning [lo, hi] in transformed (log10 when `log`) units. */
function axisTicks(lo, hi, log) {
  if (!log) return niceLinearTicks(lo, hi);
  const decades = hi - lo;
  const mantissas = decades > 4 ? [1] : [1, 2, 5];
  const every = Math.max(1, Math.ceil(decades / 8));
  const ticks = [];
  for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
    if (k % every !== 0) continue;
    for (const m of mantissas) {
      const t = Math.log10(m) + k;
      if (t >= lo - 1e-9 && t <= hi + 1e-9) ticks.push(parseFloat((m * 10 ** k).toPrecision(12)));
    }
  }
  return ticks.length >= 3 ? ticks : niceLinearTicks(10 ** lo, 10 ** hi).filter((v) => v > 0);
}

/** Labels for a tick set; plain decimals get a common number of digits ("1.8", "2.0", "2.2"). */
function tickLabels(ticks) {
  const labels = ticks.map(formatTick);
  const step = ticks[1] - ticks[0];
  const even = ticks.length > 2 && ticks.every((v, i) => i === 0 || Math.abs(v - ticks[i - 1] - step) < 1e-9 * Math.abs(step));
  if (!even || !labels.every((s) => /^-?\d+(\.\d+)?$/.test(s))) return labels;
  const digits = Math.max(...labels.map((s) => (s.split('.')[1] ?? '').length));
  return ticks.map((v) => v.toFixed(digits));
}

function checkColor(c, where) {
  if (!Array.isArray(c) || c.length !== 3 || c.some((v) => !Number.isInteger(v) || v < 0 || v > 255)) {
    throw new Error(`renderPlot: ${where}.color must be [r, g, b] with integers 0…255; got ${JSON.stringify(c)}`);
  }
}

/** A white RGB canvas with clipped pixel, line and text primitives. */
function canvas(width, height) {
  const data = new Uint8Array(width * height * 3).fill(255);
  let clip = [0, 0, width - 1, height - 1];
  const set = (x, y, c) => {
    x = Math.round(x);
    y = Math.round(y);
    if (x < clip[0] || x > clip[2] || y < clip[1] || y > clip[3]) return;
    data.set(c, (y * width + x) * 3);
  };
  const rect = (x0, y0, x1, y1, c) => {
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) set(x, y, c);
  };
  /** Bresenham line; `dash` = {on, off, phase} carries the dash pattern across consecutive segments. */
  const line = (x0, y0, x1, y1, c, thick = 1, dash = null) => {
    x0 = Math.round(x0);
    y0 = Math.round(y0);
    x1 = Math.round(x1);
    y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0),
      dy = -Math.abs(y1 - y0),
      sx = x0 < x1 ? 1 : -1,
      sy = y0 < y1 ? 1 : -1;
    const steep = -dy > dx;
    let err = dx + dy;
    for (;;) {
      const on = !dash || dash.phase++ % (dash.on + dash.off) < dash.on;
      if (on) {
        set(x0, y0, c);
        if (thick > 1) steep ? set(x0 + 1, y0, c) : set(x0, y0 + 1, c);
      }
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
    if (dash) dash.phase--; // the end pixel is the next segment's start
  };
  const marker = (x, y, kind, c) => {
    for (let j = -3; j <= 3; j++) for (let i = -3; i <= 3; i++) if (kind === 0 || i * i + j * j <= 10) set(x + i, y + j, c);
  };
  const textWidth = (s, scale = 1) => (s.length ? s.length * (FONT_WIDTH + 1) * scale - scale : 0);
  const text = (s, x, y, c, scale = 1) => {
    [...s].forEach((ch, n) =>
      glyph(ch).forEach((row, r) =>
        row.forEach((ink, col) => {
          if (ink)
            rect(
              x + (n * (FONT_WIDTH + 1) + col) * scale,
              y + r * scale,
              x + (n * (FONT_WIDTH + 1) + col + 1) * scale - 1,
              y + (r + 1) * scale - 1,
              c,
            );
        }),
      ),
    );
  };
  const setClip = (box) => {
    clip = box ?? [0, 0, width - 1, height - 1];
  };
  return { image: { width, height, channels: 3, data }, set, rect, line, marker, text, textWidth, setClip };
}

/**
 * Render a plot. opts: { width = 640, height = 440, title, xLabel, yLabel, logX = true, logY = true,
 *   series: [{ name, color: [r, g, b], points: [{ x, y }], line = false, marker = true }],
 *   fits = [{ name, color, f: (x) => y }], legend = true | false | 'upper left' | …,
 *   headroom = 0.05 (empty space above the data, as a fraction of the y range: room for the legend) }.
 * Returns { width, height, channels: 3, data } (white background, row-major RGB). Throws an Error
 * for an empty series, non-finite values, or non-positive values on a log axis.
 */
export function renderPlot(opts) {
  const {
    width = 640,
    height = 440,
    title = '',
    xLabel = '',
    yLabel = '',
    logX = true,
    logY = true,
    series,
    fits = [],
    legend = true,
    headroom = 0.05,
  } = opts ?? {};
  if (!(headroom >= 0 && headroom <= 4)) throw new Error(`renderPlot: headroom must be in [0, 4]; got ${headroom}`);
  if (!Array.isArray(series) || series.length === 0) throw new Error('renderPlot: expected a non-empty `series` array');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 160 || height < 120) {
    throw new Error(`renderPlot: width and height must be integers of at least 160×120; got ${width}×${height}`);
  }
  series.forEach((s, i) => {
    const where = `series[${i}] (${s?.name})`;
    if (!Array.isArray(s?.points) || s.points.length === 0) throw new Error(`renderPlot: ${where} has no points`);
    checkColor(s.color, where);
    for (const { x, y } of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) throw new Error(`renderPlot: ${where} has a non-finite point (${x}, ${y})`);
      if ((logX && x <= 0) || (logY && y <= 0))
        throw new Error(`renderPlot: ${where} has a non-positive value on a log axis: (${x}, ${y})`);
    }
  });
  fits.forEach((f, i) => {
    checkColor(f?.color, `fits[${i}]`);
    if (typeof f.f !== 'function') throw new Error(`renderPlot: fits[${i}].f must be a function`);
  });

  const tx = (x) => (logX ? Math.log10(x) : x),
    ty = (y) => (logY ? Math.log10(y) : y);
  const valid = (_x, y) => Number.isFinite(y) && (!logY || y > 0);
  const pts = series.flatMap((s) => s.points);
  const range = (vs, top = 0.05) => {
    let lo = Math.min(...vs),
      hi = Math.max(...vs);
    if (hi - lo < 1e-12) {
      const d = Math.max(Math.abs(lo) * 0.1, 0.5);
      lo -= d;
      hi += d;
    }
    const span = hi - lo;
    return [lo - span * 0.05, hi + span * top];
  };
  const [dxLo, dxHi] = [Math.min(...pts.map((p) => tx(p.x))), Math.max(...pts.map((p) => tx(p.x)))];
  const fitXs = Array.from({ length: FIT_SAMPLES }, (_, i) => dxLo + ((dxHi - dxLo) * i) / (FIT_SAMPLES - 1));
  const fitCurves = fits.map((f) =>
    fitXs.map((t) => {
      const x = logX ? 10 ** t : t;
      return { x, y: f.f(x) };
    }),
  );
  const [xLo, xHi] = range(pts.map((p) => tx(p.x)));
  const [yLo, yHi] = range(
    [...pts, ...fitCurves.flat().filter((p) => valid(p.x, p.y))].map((p) => ty(p.y)),
    headroom,
  );
  const xTicks = axisTicks(xLo, xHi, logX),
    yTicks = axisTicks(yLo, yHi, logY);
  const xLabels = tickLabels(xTicks),
    yLabels = tickLabels(yTicks);

  const cv = canvas(width, height);
  // layout: title, y label above the axis, tick labels and the x label below
  const titleScale = cv.textWidth(title, 2) <= width - 16 ? 2 : 1;
  const top = 8 + (title ? FONT_HEIGHT * titleScale + 8 : 0) + (yLabel ? FONT_HEIGHT + 8 : 0);
  const left = 14 + Math.max(0, ...yLabels.map((s) => cv.textWidth(s)));
  const right = width - 16,
    bottom = height - 14 - FONT_HEIGHT - (xLabel ? FONT_HEIGHT + 8 : 0);
  const px = (x) => left + ((tx(x) - xLo) / (xHi - xLo)) * (right - left);
  const py = (y) => bottom - ((ty(y) - yLo) / (yHi - yLo)) * (bottom - top);

  if (title) cv.text(title, Math.round((width - cv.textWidth(title, titleScale)) / 2), 8, BLACK, titleScale);
  if (yLabel) cv.text(yLabel, Math.max(4, left - 10), top - FONT_HEIGHT - 8, BLACK);
  if (xLabel) cv.text(xLabel, Math.round((left + right - cv.textWidth(xLabel)) / 2), height - 8 - FONT_HEIGHT, BLACK);
  let lastRight = -Infinity;
  xTicks.forEach((v, n) => {
    const x = Math.round(px(v)),
      s = xLabels[n],
      w = cv.textWidth(s);
    cv.line(x, top, x, bottom, GRID);
    cv.line(x, bottom, x, bottom + 4, BLACK);
    if (x - w / 2 > lastRight + 4) {
      cv.text(s, Math.round(x - w / 2), bottom + 7, BLACK);
      lastRight = x + w / 2;
    }
  });
  let lastTop = Infinity;
  yTicks.forEach((v, n) => {
    const y = Math.round(py(v)),
      s = yLabels[n];
    cv.line(left, y, right, y, GRID);
    cv.line(left - 4, y, left, y, BLACK);
    if (y + FONT_HEIGHT / 2 < lastTop - 3) {
      cv.text(s, left - 7 - cv.textWidth(s), Math.round(y - FONT_HEIGHT / 2), BLACK);
      lastTop = y - FONT_HEIGHT / 2;
    }
  });
  cv.line(left, top, left, bottom, BLACK);
  cv.line(left, bottom, right, bottom, BLACK);

  // data, clipped to the plot area: fits below lines below markers
  cv.setClip([left + 1, top, right, bottom - 1]);
  fitCurves.forEach((curve, i) => {
    const dash = { on: 7, off: 5, phase: 0 };
    for (let k = 1; k < curve.length; k++) {
      const [a, b] = [curve[k - 1], curve[k]];
      if (valid(a.x, a.y) && valid(b.x, b.y)) cv.line(px(a.x), py(a.y), px(b.x), py(b.y), fits[i].color, 2, dash);
    }
  });
  series.forEach((s) => {
    if (s.line)
      for (let k = 1; k < s.points.length; k++) {
        const [a, b] = [s.points[k - 1], s.points[k]];
        cv.line(px(a.x), py(a.y), px(b.x), py(b.y), s.color, 2);
      }
  });
  series.forEach((s, i) => {
    if (s.marker !== false) for (const p of s.points) cv.marker(Math.round(px(p.x)), Math.round(py(p.y)), i % 2, s.color);
  });
  cv.setClip(null);

  if (legend) {
    const entries = [...series.map((s, i) => ({ ...s, kind: i % 2 })), ...fits.map((f) => ({ ...f, fit: true }))];
    const rowH = FONT_HEIGHT + 7,
      boxW = 34 + Math.max(...entries.map((e) => cv.textWidth(e.name ?? '')));
    const boxH = entries.length * rowH + 6;
    const corners = {
      'upper right': [right - boxW - 6, top + 6],
      'upper left': [left + 7, top + 6],
      'lower right': [right - boxW - 6, bottom - boxH - 7],
      'lower left': [left + 7, bottom - boxH - 7],
    };
    const covered = ([cx, cy]) => {
      // data pixels (not background, not grid) the box would hide
      let n = 0;
      for (let y = cy; y <= cy + boxH; y++)
        for (let x = cx; x <= cx + boxW; x++) {
          const o = (y * width + x) * 3,
            d = cv.image.data;
          if (!(d[o] === d[o + 1] && d[o] === d[o + 2] && (d[o] === 255 || d[o] === GRID[0]))) n++;
        }
      return n;
    };
    const corner =
      typeof legend === 'string'
        ? legend
        : covered(corners['upper right']) === 0
          ? 'upper right'
          : Object.keys(corners).reduce((a, b) => (covered(corners[b]) < covered(corners[a]) ? b : a));
    if (!corners[corner])
      throw new Error(`renderPlot: legend must be a boolean or one of ${Object.keys(corners).join(', ')}; got ${JSON.stringify(legend)}`);
    const [x0, y0] = corners[corner];
    cv.rect(x0, y0, x0 + boxW, y0 + boxH, [255, 255, 255]);
    for (const [ax, ay, bx, by] of [
      [x0, y0, x0 + boxW, y0],
      [x0, y0 + boxH, x0 + boxW, y0 + boxH],
      [x0, y0, x0, y0 + boxH],
      [x0 + boxW, y0, x0 + boxW, y0 + boxH],
    ])
      cv.line(ax, ay, bx, by, [150, 150, 150]);
    entries.forEach((e, n) => {
      const cy = y0 + 4 + n * rowH + rowH / 2 - 1;
      if (e.fit) cv.line(x0 + 5, cy, x0 + 25, cy, e.color, 2, { on: 7, off: 5, phase: 0 });
      else {
        if (e.line) cv.line(x0 + 5, cy, x0 + 25, cy, e.color, 2);
        if (e.marker !== false || !e.line) cv.marker(x0 + 15, Math.round(cy), e.kind, e.color);
      }
      cv.text(e.name ?? '', x0 + 30, Math.round(cy - FONT_HEIGHT / 2) + 1, BLACK);
    });
  }
  return cv.image;
}

/** PNG bytes of an image from renderPlot (or any RGB raster). */
export function encodePlotPng(img) {
  return encodePng(img);
}
