#!/usr/bin/env node
/**
 * FID speed benchmark (pure JS float64): tr sqrt(Σ1Σ2) for D = 2048 by the eigen route
 * of @var/metrics (pivoted-Cholesky factor, and full eigen-decomposition of Σ1, each
 * followed by a symmetric tridiagonal QL eigensolve) against a plain reference: the
 * coupled Newton–Schulz iteration for sqrtm of the non-symmetric product with unblocked
 * i-k-j matrix products.
 *
 *   node bench/fid.mjs [--dim 2048] [--ref-dim 512] [--no-eigen]
 *
 * The reference runs at --ref-dim (default 512: at 2048 it takes many minutes); its
 * D = 2048 time is extrapolated as t·(2048/refDim)³ and printed as such. Pass
 * --ref-dim 2048 to measure it. Run `pnpm --filter @var/metrics build` first.
 */
import { parseCommand, positiveArg } from '../../../tooling/script-args.mjs';

const USAGE = `usage: node bench/fid.mjs [--dim 2048] [--ref-dim 512] [--no-eigen]

Times tr sqrt(Σ1Σ2) at D = --dim by @var/metrics' eigen route against a Newton–Schulz
reference run at --ref-dim (extrapolated to D as t·(D/refDim)³). Needs dist/ (pnpm build).`;
const parsed = parseCommand(USAGE, {
  dim: { type: 'string', default: '2048' },
  'ref-dim': { type: 'string', default: '512' },
  'no-eigen': { type: 'boolean', default: false },
});
const opt = (name) => positiveArg(USAGE, name, parsed.values[name]);
const D = opt('dim');
const REF_D = opt('ref-dim');
const withEigen = !parsed.values['no-eigen'];
const { frechetDistance, gemmNT, traceSqrtProduct } = await import('../dist/index.js');

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
}

/** Σ = X Xᵀ / n + 0.01 I with X (d × n) random: a well-conditioned SPD covariance. */
function covariance(d, seed) {
  const r = rng(seed);
  const n = d;
  const x = Float64Array.from({ length: d * n }, r);
  const s = gemmNT(x, x, d, d, n, undefined, { symmetric: true });
  for (let i = 0; i < s.length; i++) s[i] /= n;
  for (let i = 0; i < d; i++) s[i * d + i] += 0.01;
  return s;
}

/** Plain i-k-j product of n×n row-major matrices. */
function plainMatmul(a, b, n) {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ci = i * n;
    for (let k = 0; k < n; k++) {
      const aik = a[ci + k];
      const bk = k * n;
      for (let j = 0; j < n; j++) c[ci + j] += aik * b[bk + j];
    }
  }
  return c;
}

/** tr sqrtm(A) by the coupled Newton–Schulz iteration (A with positive real spectrum). */
function newtonSchulzTraceSqrt(a, n, tol = 1e-13, maxIter = 100) {
  let norm = 0;
  for (let i = 0; i < a.length; i++) norm += a[i] * a[i];
  norm = Math.sqrt(norm);
  let y = a.map((v) => v / norm);
  let z = new Float64Array(n * n);
  for (let i = 0; i < n; i++) z[i * n + i] = 1;
  let iters = 0;
  for (; iters < maxIter; iters++) {
    const zy = plainMatmul(z, y, n);
    const t = new Float64Array(n * n);
    let dev = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const v = (i === j ? 3 : 0) - zy[i * n + j];
        t[i * n + j] = 0.5 * v;
        const e = (i === j ? 1 : 0) - zy[i * n + j];
        dev += e * e;
      }
    }
    y = plainMatmul(y, t, n);
    z = plainMatmul(t, z, n);
    if (Math.sqrt(dev) < tol * n) break;
  }
  let tr = 0;
  for (let i = 0; i < n; i++) tr += y[i * n + i];
  return { trace: tr * Math.sqrt(norm), iters: iters + 1 };
}

const time = (fn) => {
  const t0 = performance.now();
  const out = fn();
  return { out, s: (performance.now() - t0) / 1000 };
};

console.log(`@var/metrics FID benchmark — node ${process.version}, ${process.arch}`);

// --- fast routes at D ---
const setup = time(() => [covariance(D, 1), covariance(D, 2)]);
const [s1, s2] = setup.out;
console.log(
  `setup: two ${D}x${D} covariances (gemm ${(D ** 3 / 1e9).toFixed(1)} G multiply-adds) in ${setup.s.toFixed(2)} s = ${((2 * D ** 3) / 1e9 / setup.s).toFixed(2)} GFLOP/s (blocked gemm, symmetric half)`,
);
const mu = new Float64Array(D);
const chol = time(() => frechetDistance(mu, s1, mu, s2, { method: 'cholesky' }));
console.log(
  `D=${D} eigen route (pivoted Cholesky factor + tridiagonal QL): FID ${chol.out.fid.toFixed(9)}, tr sqrt ${chol.out.traceSqrtProduct.toFixed(9)} in ${chol.s.toFixed(2)} s`,
);
if (withEigen) {
  const eig = time(() => frechetDistance(mu, s1, mu, s2, { method: 'eigen' }));
  console.log(
    `D=${D} eigen route (eigen-decomposition sqrt(Σ1) + tridiagonal QL):  FID ${eig.out.fid.toFixed(9)} in ${eig.s.toFixed(2)} s; |Δ| vs Cholesky ${Math.abs(eig.out.fid - chol.out.fid).toExponential(2)}`,
  );
}

// --- reference at REF_D, compared with the eigen route at the same D ---
const r1 = covariance(REF_D, 3),
  r2 = covariance(REF_D, 4);
const fastRef = time(() => traceSqrtProduct(r1, r2, REF_D, 'cholesky'));
const ns = time(() => newtonSchulzTraceSqrt(plainMatmul(r1, r2, REF_D), REF_D));
console.log(`D=${REF_D} eigen route: tr sqrt ${fastRef.out.trace.toFixed(9)} in ${fastRef.s.toFixed(3)} s`);
console.log(
  `D=${REF_D} reference (Newton–Schulz, ${ns.out.iters} iterations, plain matmul): tr sqrt ${ns.out.trace.toFixed(9)} in ${ns.s.toFixed(2)} s; rel. difference ${(Math.abs(ns.out.trace - fastRef.out.trace) / fastRef.out.trace).toExponential(2)}`,
);
const scale = (D / REF_D) ** 3;
const refAtD = REF_D === D ? ns.s : ns.s * scale;
console.log(
  `D=${D}: eigen route ${chol.s.toFixed(2)} s vs reference ${refAtD.toFixed(1)} s${REF_D === D ? '' : ` (extrapolated ×${scale.toFixed(0)} from D=${REF_D}; --ref-dim ${D} to measure)`}: ${(refAtD / chol.s).toFixed(1)}× faster`,
);
