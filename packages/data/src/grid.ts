/**
 * Image grids (as torchvision's `make_grid`), optionally with a text label under every
 * image drawn in the package's 5×7 bitmap font.
 */
import { ShapeError, ValueError } from '@var/core';
import { assertRawImage, convertChannels, type Background, type RawImage } from './codec.js';
import { FONT_HEIGHT, FONT_WIDTH, glyph } from './font.js';

export interface GridOptions {
  /** Images per row (default min(n, 8), as torchvision's `nrow=8`). */
  cols?: number;
  /** Pixels between and around the images (default 2, as torchvision). */
  padding?: number;
  /** Gray level of the padding and label strips, 0…255 (default 0, black). */
  padValue?: number;
  /** One label per image, drawn under it (truncated to the cell width). */
  labels?: readonly string[];
  /** Pixel size of a font dot (default 1: 5×7 px characters). */
  fontScale?: number;
  /** Gray level of the text (default: 255 on a dark padValue, 0 on a light one). */
  textValue?: number;
  /** Background for images with alpha (default white). */
  background?: Background | null;
}

function intIn(v: unknown, lo: number, hi: number, what: string): number {
  if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi) {
    throw new ValueError(`makeGrid: ${what} must be an integer in ${lo}…${hi}; got ${JSON.stringify(v)}`);
  }
  return v as number;
}

/**
 * Lay `images` (all the same size) out in a grid of `cols` columns, left to right, top
 * to bottom, with `padding` pixels around each. With `labels`, a strip of
 * `7·fontScale + 2` pixels under every image holds its label. The result is gray when
 * every image is gray, else RGB (alpha composited over `background`). Encode it with
 * `encodePng` / write it with `writePng`.
 *
 * @throws ShapeError for no images, images of different sizes or malformed images;
 * ValueError for bad options or a labels array of the wrong length.
 */
export function makeGrid(images: readonly RawImage[], options: GridOptions = {}): RawImage {
  if (!Array.isArray(images) || images.length === 0) throw new ShapeError('makeGrid: expected a non-empty array of images');
  images.forEach((im, i) => assertRawImage(im, `makeGrid (image ${i})`));
  const { width: w, height: h } = images[0];
  const odd = images.findIndex((im) => im.width !== w || im.height !== h);
  if (odd >= 0) {
    throw new ShapeError(
      `makeGrid: all images must have the same size; image 0 is ${w}x${h}, image ${odd} is ${images[odd].width}x${images[odd].height}`,
    );
  }
  const n = images.length;
  const cols = intIn(options.cols ?? Math.min(n, 8), 1, 1 << 16, 'cols');
  const padding = intIn(options.padding ?? 2, 0, 1 << 12, 'padding');
  const padValue = intIn(options.padValue ?? 0, 0, 255, 'padValue');
  const scale = intIn(options.fontScale ?? 1, 1, 64, 'fontScale');
  const textValue = intIn(options.textValue ?? (padValue < 128 ? 255 : 0), 0, 255, 'textValue');
  const labels = options.labels;
  if (labels !== undefined && (!Array.isArray(labels) || labels.length !== n)) {
    throw new ValueError(
      `makeGrid: labels must be an array with one string per image (${n}); got ${Array.isArray(labels) ? `${labels.length} labels` : typeof labels}`,
    );
  }
  const C = images.every((im) => im.channels <= 2) ? 1 : 3;
  const strip = labels ? FONT_HEIGHT * scale + 2 : 0;
  const rows = Math.ceil(n / cols);
  const cellW = w + padding;
  const cellH = h + strip + padding;
  const W = cols * cellW + padding;
  const H = rows * cellH + padding;
  const data = new Uint8Array(W * H * C).fill(padValue);

  images.forEach((im, k) => {
    const img = convertChannels(im, C as 1 | 3, { background: options.background });
    const x0 = padding + (k % cols) * cellW;
    const y0 = padding + Math.floor(k / cols) * cellH;
    for (let y = 0; y < h; y++) data.set(img.data.subarray(y * w * C, (y + 1) * w * C), ((y0 + y) * W + x0) * C);
    if (!labels) return;
    const advance = (FONT_WIDTH + 1) * scale;
    const maxChars = Math.max(0, Math.floor((w + scale) / advance));
    const text = [...String(labels[k] ?? '')].slice(0, maxChars);
    const textW = text.length * advance - scale;
    const tx = x0 + Math.max(0, Math.floor((w - textW) / 2));
    const ty = y0 + h + 1;
    text.forEach((ch, ci) => {
      const g = glyph(ch);
      for (let gy = 0; gy < FONT_HEIGHT; gy++) {
        for (let gx = 0; gx < FONT_WIDTH; gx++) {
          if (!g[gy][gx]) continue;
          for (let sy = 0; sy < scale; sy++) {
            for (let sx = 0; sx < scale; sx++) {
              const px = tx + ci * advance + gx * scale + sx;
              const py = ty + gy * scale + sy;
              if (px >= x0 + w) continue;
              data.fill(textValue, (py * W + px) * C, (py * W + px + 1) * C);
            }
          }
        }
      }
    });
  });
  return { width: W, height: H, channels: C, data };
}
