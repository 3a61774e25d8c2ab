import { describe, expect, it } from 'vitest';
import { decodeImage } from '@var/data';
import { encodePlotPng, formatTick, renderPlot, type PlotImage, type PlotOptions, type Rgb } from '../plot.mjs';

const BLUE: Rgb = [31, 119, 180];
const ORANGE: Rgb = [255, 127, 14];
const RED: Rgb = [214, 39, 40];

/** Connected blobs (4-neighbour) of pixels with exactly colour `c`, as centroids sorted by x. */
function blobs(img: PlotImage, c: Rgb): { x: number; y: number; n: number }[] {
  const { width, height, data } = img;
  const hit = (i: number) => data[i * 3] === c[0] && data[i * 3 + 1] === c[1] && data[i * 3 + 2] === c[2];
  const seen = new Uint8Array(width * height);
  const out: { x: number; y: number; n: number }[] = [];
  for (let i = 0; i < width * height; i++) {
    if (seen[i] || !hit(i)) continue;
    const stack = [i];
    seen[i] = 1;
    let sx = 0,
      sy = 0,
      n = 0;
    while (stack.length) {
      const j = stack.pop()!;
      const x = j % width,
        y = Math.floor(j / width);
      sx += x;
      sy += y;
      n++;
      for (const [nx, ny] of [
        [x + 1, y],
        [x - 1, y],
        [x, y + 1],
        [x, y - 1],
      ]) {
        const k = ny * width + nx;
        if (nx >= 0 && nx < width && ny >= 0 && ny < height && !seen[k] && hit(k)) {
          seen[k] = 1;
          stack.push(k);
        }
      }
    }
    out.push({ x: sx / n, y: sy / n, n });
  }
  return out.sort((a, b) => a.x - b.x);
}

function countNear(img: PlotImage, c: Rgb, cx: number, cy: number, r: number): number {
  let n = 0;
  for (let y = Math.round(cy) - r; y <= Math.round(cy) + r; y++)
    for (let x = Math.round(cx) - r; x <= Math.round(cx) + r; x++) {
      const o = (y * img.width + x) * 3;
      if (img.data[o] === c[0] && img.data[o + 1] === c[1] && img.data[o + 2] === c[2]) n++;
    }
  return n;
}

const xs = [1e3, 1e4, 1e5];
const opts = (over: Partial<PlotOptions> = {}): PlotOptions => ({
  width: 500,
  height: 360,
  title: 'Loss vs size',
  xLabel: 'params',
  yLabel: 'loss',
  series: [
    { name: 'rising', color: BLUE, points: xs.map((x) => ({ x, y: x / 1000 })) }, // 1, 10, 100
    { name: 'falling', color: ORANGE, points: xs.map((x) => ({ x, y: 3000 / x })) }, // 3, 0.3, 0.03
  ],
  fits: [{ name: 'y = x/1000', color: RED, f: (x) => x / 1000 }],
  legend: false,
  ...over,
});

describe('renderPlot', () => {
  it('maps log-scaled data to the expected pixel positions', () => {
    const img = renderPlot(opts());
    expect(img.width).toBe(500);
    expect(img.height).toBe(360);
    expect(img.channels).toBe(3);
    expect(img.data.length).toBe(500 * 360 * 3);

    for (const [color, rising] of [
      [BLUE, true],
      [ORANGE, false],
    ] as const) {
      const ms = blobs(img, color).filter((b) => b.n >= 20); // markers, not stray line pixels
      expect(ms).toHaveLength(3);
      // x: smallest x leftmost, and decades equally spaced on the log axis
      expect(ms[0].x).toBeLessThan(ms[1].x);
      expect(ms[1].x).toBeLessThan(ms[2].x);
      expect(Math.abs(ms[1].x - ms[0].x - (ms[2].x - ms[1].x))).toBeLessThanOrEqual(1.5);
      // y: the larger value is higher in the image (smaller row), equally spaced per decade
      if (rising) expect(ms[0].y).toBeGreaterThan(ms[2].y);
      else expect(ms[0].y).toBeLessThan(ms[2].y);
      expect(Math.abs(ms[1].y - ms[0].y - (ms[2].y - ms[1].y))).toBeLessThanOrEqual(1.5);
      // markers lie inside the image with the 5 % padding: none on the border
      for (const m of ms) {
        expect(m.x).toBeGreaterThan(20);
        expect(m.x).toBeLessThan(490);
      }
    }
    // rising spans two decades in y, falling two as well → same vertical extent
    const b = blobs(img, BLUE).filter((m) => m.n >= 20),
      o = blobs(img, ORANGE).filter((m) => m.n >= 20);
    expect(Math.abs(Math.abs(b[2].y - b[0].y) - Math.abs(o[2].y - o[0].y))).toBeLessThanOrEqual(1.5);
    // the dashed fit passes through the rising series' markers
    for (const m of b) expect(countNear(img, RED, m.x, m.y, 9)).toBeGreaterThan(0);
    // and is absent far from them (e.g. at the falling series' first marker, y=3 vs 1)
    expect(countNear(img, RED, o[0].x, o[0].y, 4)).toBe(0);
  });

  it('draws lines between points and a legend with every colour', () => {
    const plain = renderPlot(opts({ fits: [] }));
    const lined = renderPlot(opts({ fits: [], series: opts().series.map((s) => ({ ...s, line: true })) }));
    const count = (img: PlotImage, c: Rgb) => blobs(img, c).reduce((n, m) => n + m.n, 0);
    expect(count(lined, BLUE)).toBeGreaterThan(count(plain, BLUE) + 100);
    // one connected polyline (alone: the orange line would cross it)
    const alone = renderPlot(opts({ fits: [], series: [{ ...opts().series[0], line: true }] }));
    expect(blobs(alone, BLUE).filter((m) => m.n >= 20)).toHaveLength(1);

    // data along the bottom only: the legend takes the upper right
    const low = [
      {
        name: 'a',
        color: BLUE,
        points: [
          { x: 1, y: 1 },
          { x: 100, y: 1 },
        ],
      },
      { name: 'b', color: ORANGE, points: [{ x: 10, y: 1 }] },
    ];
    const withLegend = renderPlot(opts({ legend: true, fits: [], series: low }));
    const without = renderPlot(opts({ legend: false, fits: [], series: low }));
    expect(count(withLegend, ORANGE)).toBeGreaterThan(count(without, ORANGE));
    const inLegend = (img: PlotImage) => blobs(img, ORANGE).filter((m) => m.n >= 20 && m.y < 120);
    expect(inLegend(withLegend).length).toBeGreaterThan(0);
    expect(inLegend(withLegend).every((m) => m.x > 250)).toBe(true);
    // data in the upper right: the legend moves to a free corner instead of hiding it
    const high = [
      {
        name: 'a',
        color: BLUE,
        points: [
          { x: 1, y: 1 },
          { x: 100, y: 100 },
        ],
      },
      { name: 'b', color: ORANGE, points: [{ x: 1, y: 2 }] },
    ];
    const moved = renderPlot(opts({ legend: true, fits: [], series: high }));
    expect(blobs(moved, BLUE).filter((m) => m.n >= 20 && m.x > 400 && m.y < 100)).toHaveLength(1); // the (100, 100) marker stays visible
    const forced = renderPlot(opts({ legend: 'lower left', fits: [], series: low }));
    expect(blobs(forced, ORANGE).filter((m) => m.n >= 20 && m.x < 250 && m.y > 200).length).toBeGreaterThan(0);
    expect(() => renderPlot(opts({ legend: 'middle' as never, series: low }))).toThrow(/legend must be/);
  });

  it('handles linear axes and single points', () => {
    const img = renderPlot(
      opts({
        logX: false,
        logY: false,
        fits: [],
        series: [
          {
            name: 's',
            color: BLUE,
            points: [
              { x: -2, y: -5 },
              { x: 3, y: 0 },
            ],
          },
        ],
      }),
    );
    const ms = blobs(img, BLUE);
    expect(ms).toHaveLength(2);
    expect(ms[0].y).toBeGreaterThan(ms[1].y);
    const single = renderPlot(opts({ fits: [], series: [{ name: 's', color: BLUE, points: [{ x: 5, y: 5 }] }] }));
    expect(blobs(single, BLUE)).toHaveLength(1);
  });

  it('rejects bad input with clear errors', () => {
    expect(() => renderPlot(opts({ series: [] }))).toThrow(/non-empty `series`/);
    expect(() => renderPlot(opts({ series: [{ name: 'e', color: BLUE, points: [] }] }))).toThrow(/no points/);
    expect(() => renderPlot(opts({ series: [{ name: 'z', color: BLUE, points: [{ x: 0, y: 1 }] }] }))).toThrow(/non-positive.*log axis/);
    expect(() => renderPlot(opts({ series: [{ name: 'n', color: BLUE, points: [{ x: 1, y: -1 }] }] }))).toThrow(/non-positive.*log axis/);
    expect(() => renderPlot(opts({ series: [{ name: 'f', color: BLUE, points: [{ x: 1, y: NaN }] }] }))).toThrow(/non-finite/);
    expect(() =>
      renderPlot(opts({ logX: false, logY: false, series: [{ name: 'i', color: BLUE, points: [{ x: Infinity, y: 1 }] }] })),
    ).toThrow(/non-finite/);
    // non-positive values are fine on linear axes
    expect(() =>
      renderPlot(opts({ logX: false, logY: false, fits: [], series: [{ name: 'ok', color: BLUE, points: [{ x: 0, y: -1 }] }] })),
    ).not.toThrow();
  });

  it('formats tick labels', () => {
    expect(formatTick(50000)).toBe('50K');
    expect(formatTick(1e6)).toBe('1M');
    expect(formatTick(2e9)).toBe('2B');
    expect(formatTick(0.9)).toBe('0.9');
    expect(formatTick(1.1)).toBe('1.1');
    expect(formatTick(2e-5)).toBe('2E-5');
  });
});

describe('encodePlotPng', () => {
  it('writes a PNG that decodes back to the same pixels', () => {
    const img = renderPlot(opts({ legend: true }));
    const png = encodePlotPng(img);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const back = decodeImage(png);
    expect(back.width).toBe(img.width);
    expect(back.height).toBe(img.height);
    expect(back.channels).toBe(3);
    expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
  });
});
