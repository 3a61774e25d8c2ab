import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareArrays,
  expectClose,
  formatReport,
  loadFixtureCase,
  tensorDelta,
  testBackends,
  type FixtureTensor,
} from '@var/test-helpers';
import { initBackend, interpolate, interpolationMatrix, probeWebGPU, ShapeError, ValueError, type ResizeMode } from '../../src/index.js';

// ---------------------------------------------------------------------------------------
// Direct scalar reference, written from PyTorch's CPU kernels for float32 tensors (ATen
// UpSample.h / UpSampleKernel.cpp / AdaptiveAveragePooling.cpp): the scale, source index
// and tap weights are float32 (Math.fround after each operation); the taps are then
// accumulated in float64, 2-D directly (not separable). Independent of matrix.ts.
// ---------------------------------------------------------------------------------------
const fr = Math.fround;
function cubicWeights(t: number): number[] {
  const A = -0.75;
  const c1 = (x: number) => fr(fr(fr(fr(fr(fr(A + 2) * x) - fr(A + 3)) * x) * x) + 1);
  const c2 = (x: number) => fr(fr(fr(fr(fr(fr(A * x) - fr(5 * A)) * x) + fr(8 * A)) * x) - fr(4 * A));
  const x2 = fr(1 - t);
  return [c2(fr(t + 1)), c1(t), c1(x2), c2(fr(x2 + 1))];
}
const clampIdx = (i: number, n: number) => Math.min(Math.max(i, 0), n - 1);
/** float32 `scale * (dst + 0.5) - 0.5` with scale = (float)in / out. */
const srcIndex = (inSize: number, outSize: number, dst: number) => fr(fr(inSize / outSize) * (dst + 0.5) - 0.5);

/** out[b,c,oy,ox] for an NCHW array. */
function refResize(x: ArrayLike<number>, shape: number[], outH: number, outW: number, mode: ResizeMode): Float64Array {
  const [B, C, H, W] = shape;
  const out = new Float64Array(B * C * outH * outW);
  const at = (n: number, y: number, xx: number) => x[(n * H + y) * W + xx];
  // per axis: list of (index, weight) taps
  const taps = (inSize: number, outSize: number, o: number): [number, number][] => {
    if (inSize === outSize) return [[o, 1]];
    if (mode === 'area') {
      const a = Math.floor(fr(fr(o * inSize) / outSize)),
        b = Math.ceil(fr(fr((o + 1) * inSize) / outSize));
      return Array.from({ length: b - a }, (_, k) => [a + k, 1 / (b - a)] as [number, number]);
    }
    if (mode === 'bilinear') {
      // the linear kernel keeps the source index in double (float32 scale), lambdas rounded to float32
      const src = Math.max(fr(inSize / outSize) * (o + 0.5) - 0.5, 0);
      const i0 = Math.floor(src),
        i1 = i0 + (i0 < inSize - 1 ? 1 : 0);
      const l1 = Math.min(src - i0, 1);
      return [
        [i0, fr(1 - l1)],
        [i1, fr(l1)],
      ];
    }
    const src = srcIndex(inSize, outSize, o);
    const f = Math.floor(src);
    const w = cubicWeights(fr(src - f));
    return w.map((wk, k) => [clampIdx(f - 1 + k, inSize), wk] as [number, number]);
  };
  for (let n = 0; n < B * C; n++) {
    for (let oy = 0; oy < outH; oy++) {
      const ty = taps(H, outH, oy);
      for (let ox = 0; ox < outW; ox++) {
        const tx = taps(W, outW, ox);
        let v = 0;
        for (const [iy, wy] of ty) {
          let row = 0;
          for (const [ix, wx] of tx) row += wx * at(n, iy, ix);
          v += wy * row;
        }
        out[(n * outH + oy) * outW + ox] = v;
      }
    }
  }
  return out;
}

/** Deterministic test data (mulberry32), independent of the package's Rng. */
function randomArray(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    a[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 4 - 2;
  }
  return a;
}

const fc = loadFixtureCase();
const refNames = Object.keys(fc.refs.tensors as Record<string, unknown>);
/** Fixture pairs (input, output) of the interpolation primitives, sizes read from the shapes. */
const fixturePairs: { name: string; mode: ResizeMode; input: FixtureTensor; output: FixtureTensor }[] = [];
for (const name of refNames) {
  const m = /^interp_bicubic_out_(s\d+)$/.exec(name);
  if (m) fixturePairs.push({ name, mode: 'bicubic', input: fc.ref(`interp_bicubic_in_${m[1]}`), output: fc.ref(name) });
  if (/^interp_area_out_s\d+$/.test(name)) fixturePairs.push({ name, mode: 'area', input: fc.ref('interp_area_in'), output: fc.ref(name) });
}

/** Scales of the case, for the bilinear edit-mask check. */
const patchNums: number[] = fc.config.VAR.patch_nums;

const backends = testBackends(['cpu', 'wasm', 'webgpu']);

describe('interpolationMatrix', () => {
  it('rows of bicubic/bilinear/area sum to 1 and equal sizes give the identity', () => {
    for (const mode of ['bicubic', 'bilinear', 'area'] as ResizeMode[]) {
      for (const [i, o] of [
        [1, 4],
        [4, 1],
        [3, 7],
        [7, 3],
        [5, 13],
        [13, 5],
        [16, 10],
        [6, 6],
      ]) {
        const m = interpolationMatrix(i, o, mode);
        expect(m.length).toBe(i * o);
        for (let r = 0; r < o; r++) {
          let s = 0;
          for (let c = 0; c < i; c++) s += m[r * i + c];
          expect(Math.abs(s - 1)).toBeLessThan(1e-6);
        }
        if (i === o) for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) expect(m[r * i + c]).toBe(r === c ? 1 : 0);
      }
    }
  });

  it('matches the scalar reference on unit vectors (5->13, 13->5, 4->3, 2->9)', () => {
    for (const mode of ['bicubic', 'bilinear', 'area'] as ResizeMode[]) {
      for (const [i, o] of [
        [5, 13],
        [13, 5],
        [4, 3],
        [2, 9],
      ]) {
        const m = interpolationMatrix(i, o, mode);
        for (let c = 0; c < i; c++) {
          const e = new Float64Array(i);
          e[c] = 1;
          const col = refResize(e, [1, 1, 1, i], 1, o, mode); // a 1 x i image resized to 1 x o
          for (let r = 0; r < o; r++) expect(Math.abs(m[r * i + c] - col[r])).toBeLessThan(1e-7);
        }
      }
    }
  });

  it('bilinear 8 -> 6 has the weights of torch 1.13 (source index in double: 0.49999994 / 0.50000006, not 0.5 / 0.5)', () => {
    // /usr/bin/python3: F.interpolate(e_j (1,1,1,8), size=(1,6), mode='bilinear', align_corners=False) for each unit vector e_j
    const torch = [
      [0.8333333134651184, 0.1666666865348816],
      [0.4999999403953552, 0.5000000596046448],
      [0.16666656732559204, 0.833333432674408],
      [0.8333331942558289, 0.16666680574417114],
      [0.4999998211860657, 0.5000001788139343],
      [0.1666664481163025, 0.8333335518836975],
    ];
    const cols = [
      [0, 1],
      [1, 2],
      [2, 3],
      [4, 5],
      [5, 6],
      [6, 7],
    ];
    const m = interpolationMatrix(8, 6, 'bilinear');
    for (let r = 0; r < 6; r++) {
      for (let k = 0; k < 2; k++) expect(m[r * 8 + cols[r][k]], `row ${r}`).toBe(Math.fround(torch[r][k]));
    }
  });

  it('returns a fresh copy each call (the cache cannot be corrupted)', () => {
    const a = interpolationMatrix(3, 5, 'bilinear');
    const keep = a.slice();
    a.fill(7);
    expect(Array.from(interpolationMatrix(3, 5, 'bilinear'))).toEqual(Array.from(keep));
  });

  it('rejects bad sizes and modes with typed errors', () => {
    expect(() => interpolationMatrix(0, 4, 'area')).toThrow(ShapeError);
    expect(() => interpolationMatrix(4, -1, 'area')).toThrow(ShapeError);
    expect(() => interpolationMatrix(2.5, 4, 'area')).toThrow(ShapeError);
    expect(() => interpolationMatrix(2, 4, 'nearest' as ResizeMode)).toThrow(ValueError);
  });
});

// Backends are started with @var/core's initBackend (wasm single-threaded: the test
// machines are shared). WebGPU runs wherever an adapter exists (in Node through the
// `webgpu` package, a software adapter included) and is skipped, saying why, elsewhere.
const webgpuProbe = backends.includes('webgpu') ? await probeWebGPU() : null;
if (webgpuProbe) console.log(`interpolate webgpu: ${webgpuProbe.adapter ? 'running on' : 'skipped:'} ${webgpuProbe.reason}`);

for (const backend of backends) {
  // cpu and wasm: PyTorch's own float32 rounding is the limit; webgpu accumulates in
  // another order (and may use reduced-precision math), so 1e-5 there.
  const tol = backend === 'webgpu' ? 1e-5 : 1e-6;
  describe.skipIf(backend === 'webgpu' && !webgpuProbe?.adapter)(`interpolate on ${backend}`, () => {
    let previous: string;
    beforeAll(async () => {
      previous = tf.getBackend();
      const info = await initBackend(backend, backend === 'wasm' ? { threads: 1 } : {});
      expect(info.name).toBe(backend);
    });
    afterAll(async () => {
      if (previous && previous !== tf.getBackend()) await tf.setBackend(previous);
    });

    it(`fixture parity (interp_* tensors of the case), max abs <= ${tol} (x |ref| above 1)`, async () => {
      expect(fixturePairs.length).toBeGreaterThan(0);
      for (const p of fixturePairs) {
        const [outH, outW] = p.output.shape.slice(2);
        const x = tf.tensor4d(p.input.data as Float32Array, p.input.shape as [number, number, number, number]);
        const y = interpolate(x, [outH, outW], p.mode);
        // PyTorch's float32 weights and 4-tap accumulation leave a few ulp of noise in the
        // reference itself (up to ~9 ulp for 1 -> 5, where every tap reads the one pixel):
        // relative 1e-6 above magnitude 1, so scale with |ref|.
        let refMax = 0;
        for (const v of p.output.data) refMax = Math.max(refMax, Math.abs(v));
        const r = expectClose(`${backend} ${p.name}`, { data: await y.data(), shape: y.shape }, p.output, tol * Math.max(1, refMax));
        console.log(formatReport(`${backend} ${p.mode} ${p.input.shape.slice(2).join('x')}->${outH}x${outW}`, r));
        tf.dispose([x, y]);
      }
    });

    it('bilinear reproduces the per-scale keep masks of the zero-shot edit runs', async () => {
      let checked = 0;
      for (const kind of ['inpaint', 'outpaint']) {
        const maskName = `edit_${kind}_mask`;
        if (!fc.hasRef(maskName)) continue;
        const mask = fc.ref(maskName); // (P, P)
        const [P, Q] = mask.shape;
        for (const [si, pn] of patchNums.entries()) {
          const forceName = `edit_${kind}_force_s${si}`;
          if (!fc.hasRef(forceName)) continue;
          const force = fc.ref(forceName); // (B, 1, pn, pn)
          const [Bf, , ph, pw] = force.shape;
          expect([ph, pw]).toEqual([pn, pn]);
          const got = tf.tidy(() => {
            const m = tf.tensor4d(mask.data as Float32Array, [1, 1, P, Q]);
            const keep = tf.cast(tf.greater(interpolate(m, [ph, pw], 'bilinear'), 0.5), 'float32');
            return ph * pw <= 3 ? tf.onesLike(keep) : keep;
          });
          const g = await got.data();
          got.dispose();
          for (let b = 0; b < Bf; b++) {
            expect(Array.from(g)).toEqual(Array.from(force.data.subarray(b * ph * pw, (b + 1) * ph * pw)));
          }
          // and the raw bilinear values match the scalar reference
          const ref = refResize(mask.data, [1, 1, P, Q], ph, pw, 'bilinear');
          const raw = tf.tidy(() => interpolate(tf.tensor4d(mask.data as Float32Array, [1, 1, P, Q]), [ph, pw], 'bilinear'));
          expect(compareArrays(await raw.data(), ref).maxAbs).toBeLessThanOrEqual(tol);
          raw.dispose();
          checked++;
        }
      }
      // the edit-mask probes of the case, bilinear to every scale, against the scalar reference
      for (const name of refNames.filter((n) => n.startsWith('mask_probe_'))) {
        const mask = fc.ref(name);
        const [P, Q] = mask.shape;
        for (const pn of patchNums) {
          const y = tf.tidy(() => interpolate(tf.tensor4d(mask.data as Float32Array, [1, 1, P, Q]), [pn, pn], 'bilinear'));
          expect(compareArrays(await y.data(), refResize(mask.data, [1, 1, P, Q], pn, pn, 'bilinear')).maxAbs).toBeLessThanOrEqual(tol);
          y.dispose();
        }
      }
      // the case may lack edit tensors; only then is there nothing to check
      if (fc.hasRef('edit_inpaint_mask')) expect(checked).toBeGreaterThan(0);
    });

    it('bilinear keep decisions (> 0.5) on rectangle masks equal PyTorch float32 arithmetic', async () => {
      // get_edit_mask makes rectangles at the last scale; replace_embedding resizes them
      // bilinearly to every scale and keeps tokens where the value is > 0.5. Exact float64
      // weights flip ~1% of these decisions; PyTorch's float32 weights must not.
      // The case's last scale and the official 256px setting's 16 (patch_nums 1..16).
      const official = [1, 2, 3, 4, 5, 6, 8, 10, 13, 16];
      let flips = 0;
      let checked = 0;
      for (const P of [...new Set([patchNums[patchNums.length - 1], 16])]) {
        const scales = [...new Set([...patchNums, ...official])].filter((pn) => pn <= P && pn * pn > 3);
        const rects: [number, number, number, number][] = [];
        for (let y0 = 0; y0 < P; y0++)
          for (let y1 = y0 + 1; y1 <= P; y1++)
            for (let x0 = 0; x0 < P; x0++)
              for (let x1 = x0 + 1; x1 <= P; x1++) {
                if ((y0 * 7 + y1 * 3 + x0 * 5 + x1) % 11 === 0) rects.push([y0, y1, x0, x1]);
              }
        const masks = new Float32Array(rects.length * P * P);
        rects.forEach(([y0, y1, x0, x1], r) => {
          for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) masks[r * P * P + y * P + x] = 1;
        });
        // PyTorch's kernel for a {0,1} mask: per row t = m0*l0 + m1*l1, then out = t0*ly0 + t1*ly1, float32
        // (the source index in double from the float32 scale, the lambdas rounded to float32:
        // torch 1.13's linear weights, see the 8 -> 6 test above)
        const lin = (inSize: number, outSize: number, o: number) => {
          const src = Math.max(fr(inSize / outSize) * (o + 0.5) - 0.5, 0);
          const i0 = Math.floor(src),
            i1 = i0 + (i0 < inSize - 1 ? 1 : 0);
          const l1 = Math.min(src - i0, 1);
          return { i0, i1, l0: fr(1 - l1), l1: fr(l1) };
        };
        const x = tf.tensor4d(masks, [rects.length, 1, P, P]);
        for (const pn of scales) {
          const y = tf.tidy(() => tf.greater(interpolate(x, [pn, pn], 'bilinear'), 0.5));
          const got = await y.data();
          y.dispose();
          checked += rects.length * pn * pn;
          for (let r = 0; r < rects.length; r++) {
            const m = (yy: number, xx: number) => masks[r * P * P + yy * P + xx];
            for (let oy = 0; oy < pn; oy++) {
              const wy = pn === P ? { i0: oy, i1: oy, l0: 1, l1: 0 } : lin(P, pn, oy);
              for (let ox = 0; ox < pn; ox++) {
                const wx = pn === P ? { i0: ox, i1: ox, l0: 1, l1: 0 } : lin(P, pn, ox);
                const t0 = fr(fr(m(wy.i0, wx.i0) * wx.l0) + fr(m(wy.i0, wx.i1) * wx.l1));
                const t1 = fr(fr(m(wy.i1, wx.i0) * wx.l0) + fr(m(wy.i1, wx.i1) * wx.l1));
                const want = fr(fr(t0 * wy.l0) + fr(t1 * wy.l1)) > 0.5 ? 1 : 0;
                if (got[(r * pn + oy) * pn + ox] !== want) flips++;
              }
            }
          }
        }
        x.dispose();
      }
      expect(flips, `${checked} decisions`).toBe(0);
    });

    it('matches the scalar reference for other sizes (up, down, equal, non-square)', async () => {
      const cases: { inHW: [number, number]; out: [number, number] }[] = [
        { inHW: [5, 5], out: [13, 13] },
        { inHW: [13, 13], out: [5, 5] },
        { inHW: [7, 7], out: [7, 7] },
        { inHW: [3, 6], out: [8, 2] },
        { inHW: [1, 1], out: [3, 4] },
        { inHW: [6, 9], out: [6, 4] }, // H equal, W down
        { inHW: [16, 16], out: [37, 29] }, // separable path (Kronecker matrix too large)
        { inHW: [40, 24], out: [11, 48] }, // separable path, H-first ordering
      ];
      for (const mode of ['bicubic', 'bilinear', 'area'] as ResizeMode[]) {
        for (const { inHW, out } of cases) {
          const shape = [2, 3, inHW[0], inHW[1]];
          const data = randomArray(
            shape.reduce((a, b) => a * b),
            7 + inHW[0] * 31 + out[1],
          );
          const expected = refResize(data, shape, out[0], out[1], mode);
          const x = tf.tensor4d(data, shape as [number, number, number, number]);
          const y = interpolate(x, out, mode);
          expect(y.shape).toEqual([2, 3, out[0], out[1]]);
          const r = compareArrays(await y.data(), expected, y.shape);
          expect(r.maxAbs, formatReport(`${backend} ${mode} ${inHW}->${out}`, r)).toBeLessThanOrEqual(tol);
          tf.dispose([x, y]);
        }
      }
    });

    it('a single number size means a square output', async () => {
      const x = tf.tensor4d(randomArray(2 * 4 * 3, 3), [1, 2, 4, 3]);
      const a = interpolate(x, 5, 'bicubic');
      const b = interpolate(x, [5, 5], 'bicubic');
      expect(a.shape).toEqual([1, 2, 5, 5]);
      expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
      tf.dispose([x, a, b]);
    });

    it('gradients equal finite differences and the transpose identity Mhᵀ·G·Mw', async () => {
      // Gradients are taken as vector-Jacobian products tf.grad(f)(x, dy), which needs no
      // gradient of any op but interpolate itself (tfjs-core alone registers none).
      // Small sizes take the Kronecker path, large ones the separable path (both orders).
      const shapes: [number, number, number, number][] = [
        [3, 4, 5, 2],
        [1, 1, 3, 2],
        [20, 18, 7, 25],
        [9, 30, 40, 8],
      ];
      for (const mode of ['bicubic', 'bilinear', 'area'] as ResizeMode[]) {
        for (const [H, W, oH, oW] of shapes) {
          const xData = randomArray(2 * H * W, 11 + H);
          const wData = randomArray(2 * oH * oW, 12 + W);
          const x = tf.tensor4d(xData, [1, 2, H, W]);
          const w = tf.tensor4d(wData, [1, 2, oH, oW]);
          const g = tf.grad((t: tf.Tensor) => interpolate(t as tf.Tensor4D, [oH, oW], mode))(x, w);
          expect(g.shape).toEqual([1, 2, H, W]);
          const gd = await g.data();
          // transpose identity from the reference matrices, in float64
          const mh = interpolationMatrix(H, oH, mode),
            mw = interpolationMatrix(W, oW, mode);
          let maxErr = 0;
          for (let c = 0; c < 2; c++) {
            for (let iy = 0; iy < H; iy++) {
              for (let ix = 0; ix < W; ix++) {
                let s = 0;
                for (let oy = 0; oy < oH; oy++)
                  for (let ox = 0; ox < oW; ox++) s += mh[oy * H + iy] * wData[(c * oH + oy) * oW + ox] * mw[ox * W + ix];
                maxErr = Math.max(maxErr, Math.abs(gd[(c * H + iy) * W + ix] - s));
              }
            }
          }
          expect(maxErr, `${mode} ${H}x${W}->${oH}x${oW}`).toBeLessThan(1e-5);
          // central finite differences of L(x) = <interpolate(x), w> (float64 dot on the host)
          const L = async (data: Float32Array) => {
            const y = tf.tidy(() => interpolate(tf.tensor4d(data, [1, 2, H, W]), [oH, oW], mode));
            const yd = await y.data();
            y.dispose();
            let s = 0;
            for (let i = 0; i < yd.length; i++) s += yd[i] * wData[i];
            return s;
          };
          const eps = 1e-2;
          for (const k of [0, Math.floor(xData.length / 3), xData.length - 1]) {
            const plus = xData.slice(),
              minus = xData.slice();
            plus[k] += eps;
            minus[k] -= eps;
            expect(Math.abs(((await L(plus)) - (await L(minus))) / (2 * eps) - gd[k]), `${mode} fd at ${k}`).toBeLessThan(1e-3);
          }
          tf.dispose([x, w, g]);
        }
      }
    });

    it('gradients compose (resize of a resize) and work under tf.tidy', async () => {
      const x = tf.tensor4d(randomArray(2 * 5 * 6, 21), [1, 2, 5, 6]);
      const dy = tf.tensor4d(randomArray(2 * 4 * 4, 22), [1, 2, 4, 4]);
      const chained = tf.tidy(() =>
        tf.grad((t: tf.Tensor) => interpolate(interpolate(t as tf.Tensor4D, [11, 9], 'bicubic'), [4, 4], 'area'))(x, dy),
      );
      // by hand: the adjoint of the outer op, then of the inner one
      const mid = tf.tidy(() => interpolate(x, [11, 9], 'bicubic'));
      const dMid = tf.grad((t: tf.Tensor) => interpolate(t as tf.Tensor4D, [4, 4], 'area'))(mid, dy);
      const byHand = tf.grad((t: tf.Tensor) => interpolate(t as tf.Tensor4D, [11, 9], 'bicubic'))(x, dMid);
      expect(compareArrays(await chained.data(), await byHand.data()).maxAbs).toBeLessThan(1e-6);
      tf.dispose([x, dy, chained, mid, dMid, byHand]);
    });

    it('leaks no tensors (including inside tf.tidy and for equal sizes)', async () => {
      const x = tf.tensor4d(randomArray(2 * 3 * 6 * 5, 5), [2, 3, 6, 5]);
      for (const mode of ['bicubic', 'bilinear', 'area'] as ResizeMode[]) {
        for (const size of [
          [9, 4],
          [6, 5],
          [40, 40],
          [6, 2],
        ] as [number, number][]) {
          expect(await tensorDelta(tf, () => interpolate(x, size, mode).dispose())).toBe(0);
          expect(await tensorDelta(tf, () => tf.tidy(() => tf.sum(interpolate(x, size, mode))).dispose())).toBe(0);
        }
        for (const size of [
          [3, 8],
          [40, 40],
          [6, 5],
        ] as [number, number][]) {
          const dy = tf.ones([2, 3, size[0], size[1]]);
          expect(
            await tensorDelta(tf, () =>
              tf
                .grad((t: tf.Tensor) => interpolate(t as tf.Tensor4D, size, mode))(x, dy)
                .dispose(),
            ),
          ).toBe(0);
          dy.dispose();
        }
      }
      x.dispose();
    });

    it('rejects bad input with typed errors', () => {
      const x3 = tf.zeros([2, 4, 4]);
      const x4 = tf.zeros([1, 1, 4, 4]) as tf.Tensor4D;
      const xi = tf.zeros([1, 1, 4, 4], 'int32');
      const before = tf.memory().numTensors;
      expect(() => interpolate(x3 as unknown as tf.Tensor4D, 2, 'area')).toThrow(ShapeError);
      expect(() => interpolate(x3 as unknown as tf.Tensor4D, 2, 'area')).toThrow(/rank 4/);
      expect(() => interpolate(x4, 0, 'bicubic')).toThrow(ShapeError);
      expect(() => interpolate(x4, [-1, 3], 'bicubic')).toThrow(ShapeError);
      expect(() => interpolate(x4, [2, 1.5], 'bicubic')).toThrow(ShapeError);
      expect(() => interpolate(x4, [2] as unknown as [number, number], 'bicubic')).toThrow(ShapeError);
      expect(() => interpolate(x4, 2, 'nearest' as ResizeMode)).toThrow(ValueError);
      expect(() => interpolate(xi as tf.Tensor4D, 2, 'area')).toThrow(ValueError);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x3, x4, xi]);
    });
  });
}
