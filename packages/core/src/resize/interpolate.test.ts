import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareArrays, expectClose, formatReport, loadFixtureCase, tensorDelta, testBackends, type FixtureTensor } from '@var/test-helpers';
import { interpolate, interpolationMatrix, ShapeError, ValueError, type ResizeMode } from '../index.js';

// ---------------------------------------------------------------------------------------
// Direct scalar reference, written from PyTorch's formulas (ATen UpSample.h /
// AdaptiveAveragePooling.cpp), 2-D (not separable), float64. Independent of matrix.ts.
// ---------------------------------------------------------------------------------------
function cubicWeights(t: number, A = -0.75): number[] {
  const c1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
  const c2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)];
}
const clampIdx = (i: number, n: number) => Math.min(Math.max(i, 0), n - 1);

/** out[b,c,oy,ox] for an NCHW array, float64. */
function refResize(x: ArrayLike<number>, shape: number[], outH: number, outW: number, mode: ResizeMode): Float64Array {
  const [B, C, H, W] = shape;
  const out = new Float64Array(B * C * outH * outW);
  const at = (n: number, y: number, xx: number) => x[(n * H + y) * W + xx];
  for (let n = 0; n < B * C; n++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        let v = 0;
        if (H === outH && W === outW) {
          v = at(n, oy, ox);
        } else if (mode === 'area') {
          const y0 = Math.floor((oy * H) / outH), y1 = Math.ceil(((oy + 1) * H) / outH);
          const x0 = Math.floor((ox * W) / outW), x1 = Math.ceil(((ox + 1) * W) / outW);
          for (let y = y0; y < y1; y++) for (let xx = x0; xx < x1; xx++) v += at(n, y, xx);
          v /= (y1 - y0) * (x1 - x0);
        } else if (mode === 'bilinear') {
          const sy = Math.max((oy + 0.5) * (H / outH) - 0.5, 0);
          const sx = Math.max((ox + 0.5) * (W / outW) - 0.5, 0);
          const y0 = Math.floor(sy), x0 = Math.floor(sx);
          const y1 = y0 + (y0 < H - 1 ? 1 : 0), x1 = x0 + (x0 < W - 1 ? 1 : 0);
          const ly = sy - y0, lx = sx - x0;
          v = (1 - ly) * ((1 - lx) * at(n, y0, x0) + lx * at(n, y0, x1)) + ly * ((1 - lx) * at(n, y1, x0) + lx * at(n, y1, x1));
        } else {
          // A dimension of equal size is an exact copy in PyTorch's cubic weights too (t = 0).
          const sy = (oy + 0.5) * (H / outH) - 0.5, sx = (ox + 0.5) * (W / outW) - 0.5;
          const fy = Math.floor(sy), fx = Math.floor(sx);
          const wy = cubicWeights(sy - fy), wx = cubicWeights(sx - fx);
          for (let i = 0; i < 4; i++) {
            let row = 0;
            for (let j = 0; j < 4; j++) row += wx[j] * at(n, clampIdx(fy - 1 + i, H), clampIdx(fx - 1 + j, W));
            v += wy[i] * row;
          }
        }
        out[((n * outH + oy) * outW) + ox] = v;
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
      for (const [i, o] of [[1, 4], [4, 1], [3, 7], [7, 3], [5, 13], [13, 5], [16, 10], [6, 6]]) {
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
      for (const [i, o] of [[5, 13], [13, 5], [4, 3], [2, 9]]) {
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

  it('rejects bad sizes and modes with typed errors', () => {
    expect(() => interpolationMatrix(0, 4, 'area')).toThrow(ShapeError);
    expect(() => interpolationMatrix(4, -1, 'area')).toThrow(ShapeError);
    expect(() => interpolationMatrix(2.5, 4, 'area')).toThrow(ShapeError);
    expect(() => interpolationMatrix(2, 4, 'nearest' as ResizeMode)).toThrow(ValueError);
  });
});

/**
 * Make `backend` current. WebGPU in Node comes from the `webgpu` npm package (Dawn):
 * navigator.gpu is installed before @tensorflow/tfjs-backend-webgpu registers itself.
 * Returns why the backend cannot run here, or null when it is ready.
 */
async function probeWebGPU(): Promise<string | null> {
  try {
    const g = globalThis as any;
    if (!g.navigator?.gpu) {
      const { create, globals } = await import('webgpu');
      Object.assign(g, globals);
      const gpu = create([]);
      if (!g.navigator) g.navigator = {};
      Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    }
    const adapter = await g.navigator.gpu.requestAdapter();
    if (!adapter) return 'navigator.gpu.requestAdapter() returned null (no WebGPU adapter on this machine)';
    return null;
  } catch (e) {
    return `the webgpu package could not start: ${(e as Error).message}`;
  }
}

const webgpuSkip = backends.includes('webgpu') ? await probeWebGPU() : null;
if (webgpuSkip) console.log(`interpolate webgpu tests skipped: ${webgpuSkip}`);

for (const backend of backends) {
  // cpu and wasm run the same float32 arithmetic order as PyTorch's CPU kernels within
  // rounding; webgpu's matMul accumulates differently (and may use reduced precision).
  const tol = backend === 'webgpu' ? 1e-5 : 1e-6;
  describe.skipIf(backend === 'webgpu' && webgpuSkip !== null)(`interpolate on ${backend}`, () => {
    let previous: string;
    beforeAll(async () => {
      previous = tf.getBackend();
      if (backend === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
      if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
      if (backend === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
      expect(await tf.setBackend(backend)).toBe(true);
      await tf.ready();
    });
    afterAll(async () => {
      if (previous) await tf.setBackend(previous);
    });

    it(`fixture parity (interp_* tensors of the case), max abs <= ${tol} (x |ref|/4 above 4)`, async () => {
      expect(fixturePairs.length).toBeGreaterThan(0);
      for (const p of fixturePairs) {
        const [outH, outW] = p.output.shape.slice(2);
        const x = tf.tensor4d(p.input.data as Float32Array, p.input.shape as [number, number, number, number]);
        const y = interpolate(x, [outH, outW], p.mode);
        // PyTorch's float32 weights and accumulation leave 1-2 ulp of noise in the
        // reference itself; beyond magnitude 4 that exceeds 1e-6, so scale with |ref|.
        let refMax = 0;
        for (const v of p.output.data) refMax = Math.max(refMax, Math.abs(v));
        const r = expectClose(`${backend} ${p.name}`, { data: await y.data(), shape: y.shape }, p.output, tol * Math.max(1, refMax / 4));
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
          const data = randomArray(shape.reduce((a, b) => a * b), 7 + inHW[0] * 31 + out[1]);
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
      const shapes: [number, number, number, number][] = [[3, 4, 5, 2], [1, 1, 3, 2], [20, 18, 7, 25], [9, 30, 40, 8]];
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
          const mh = interpolationMatrix(H, oH, mode), mw = interpolationMatrix(W, oW, mode);
          let maxErr = 0;
          for (let c = 0; c < 2; c++) {
            for (let iy = 0; iy < H; iy++) {
              for (let ix = 0; ix < W; ix++) {
                let s = 0;
                for (let oy = 0; oy < oH; oy++) for (let ox = 0; ox < oW; ox++) s += mh[oy * H + iy] * wData[(c * oH + oy) * oW + ox] * mw[ox * W + ix];
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
            const plus = xData.slice(), minus = xData.slice();
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
      const chained = tf.tidy(() => tf.grad((t: tf.Tensor) => interpolate(interpolate(t as tf.Tensor4D, [11, 9], 'bicubic'), [4, 4], 'area'))(x, dy));
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
        for (const size of [[9, 4], [6, 5], [40, 40], [6, 2]] as [number, number][]) {
          expect(await tensorDelta(tf, () => interpolate(x, size, mode).dispose())).toBe(0);
          expect(await tensorDelta(tf, () => tf.tidy(() => tf.sum(interpolate(x, size, mode))).dispose())).toBe(0);
        }
        for (const size of [[3, 8], [40, 40], [6, 5]] as [number, number][]) {
          const dy = tf.ones([2, 3, size[0], size[1]]);
          expect(await tensorDelta(tf, () => tf.grad((t: tf.Tensor) => interpolate(t as tf.Tensor4D, size, mode))(x, dy).dispose())).toBe(0);
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
