import { describe, expect, it } from 'vitest';
import { Rng, ValueError, type RngState } from '../../src/index.js';

// ---------------------------------------------------------------------------------------
// Independent BigInt reference of the documented algorithm (SplitMix64 seeding,
// xoshiro128** stream), written from the published definitions.
// ---------------------------------------------------------------------------------------
const M64 = (1n << 64n) - 1n;
const M32 = 0xffffffffn;

function splitmix64(seed: bigint): () => bigint {
  let x = BigInt.asUintN(64, seed);
  return () => {
    x = (x + 0x9e3779b97f4a7c15n) & M64;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
    return z ^ (z >> 31n);
  };
}

function refStream(seed: bigint): () => number {
  const sm = splitmix64(seed);
  const z1 = sm(),
    z2 = sm();
  const s = [z1 & M32, z1 >> 32n, z2 & M32, z2 >> 32n];
  const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M32;
  return () => {
    const result = (rotl((s[1] * 5n) & M32, 7n) * 9n) & M32;
    const t = (s[1] << 9n) & M32;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
    return Number(result);
  };
}

/** Upper-tail chi-square critical value via the Wilson–Hilferty approximation (z = 4.75, p ≈ 1e-6). */
function chiSquareCritical(df: number, z = 4.75): number {
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

describe('Rng known answers', () => {
  it('the BigInt SplitMix64 reference reproduces the published outputs for seed 0', () => {
    const sm = splitmix64(0n);
    expect([sm(), sm(), sm()]).toEqual([0xe220a8397b1dcdafn, 0x6e789e6aa1b965f4n, 0x06c45d188009454fn]);
  });

  it('first outputs for seeds 0, 42, -1, 2^53-1 and large bigints equal the reference', () => {
    const seeds: (number | bigint)[] = [
      0,
      42,
      1,
      -1,
      123456789,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
      2n ** 64n - 1n,
      -(2n ** 63n),
      0xdeadbeefcafebaben,
    ];
    for (const seed of seeds) {
      const ref = refStream(BigInt(seed));
      const rng = new Rng(seed);
      const got = Array.from({ length: 1000 }, () => rng.nextUint32());
      const want = Array.from({ length: 1000 }, () => ref());
      expect(got, `seed ${seed}`).toEqual(want);
    }
  });

  it('literal first words for seeds 0 and 42 (as listed in the README)', () => {
    const first = (seed: number) => {
      const r = new Rng(seed);
      return Array.from({ length: 4 }, () => r.nextUint32());
    };
    expect(first(0)).toEqual([0xdec9045d, 0x9a089d75, 0xab77d362, 0xc3e16405]);
    expect(first(42)).toEqual([0x69e85a2a, 0xf843fad0, 0x0105185f, 0x8a1f1ea6]);
    const ref0 = refStream(0n),
      ref42 = refStream(42n);
    expect(first(0)).toEqual([ref0(), ref0(), ref0(), ref0()]);
    expect(first(42)).toEqual([ref42(), ref42(), ref42(), ref42()]);
  });

  it('a number seed and the equal bigint seed give the same stream', () => {
    for (const s of [0, 42, -7, 2 ** 40 + 3]) {
      const a = new Rng(s),
        b = new Rng(BigInt(s));
      for (let i = 0; i < 20; i++) expect(a.nextUint32()).toBe(b.nextUint32());
    }
  });

  it('random() is the documented 53-bit combination of two words', () => {
    const ref = refStream(42n);
    const rng = new Rng(42);
    for (let i = 0; i < 1000; i++) {
      const a = ref() >>> 5,
        b = ref() >>> 6;
      const u = rng.random();
      expect(u).toBe((a * 2 ** 26 + b) / 2 ** 53);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
    }
  });

  it('normal() is Box–Muller on two random() draws', () => {
    const a = new Rng(5),
      b = new Rng(5);
    for (let i = 0; i < 100; i++) {
      const u1 = 1 - b.random(),
        u2 = b.random();
      expect(a.normal()).toBe(Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
    }
  });

  it('fork() seeds the child from two parent words (hi, lo)', () => {
    const parent = new Rng(9),
      shadow = refStream(9n);
    parent.nextUint32();
    shadow();
    const child = parent.fork();
    const hi = BigInt(shadow()),
      lo = BigInt(shadow());
    const ref = refStream((hi << 32n) | lo);
    for (let i = 0; i < 50; i++) expect(child.nextUint32()).toBe(ref());
    expect(parent.nextUint32()).toBe(shadow()); // the parent moved on by exactly two words
  });

  it('rejects bad seeds', () => {
    expect(() => new Rng(1.5)).toThrow(ValueError);
    expect(() => new Rng(NaN)).toThrow(ValueError);
    expect(() => new Rng(2 ** 60)).toThrow(ValueError); // not a safe integer
    expect(() => new Rng(2n ** 64n)).toThrow(ValueError);
    expect(() => new Rng('1' as unknown as number)).toThrow(ValueError);
  });
});

describe('Rng statistics', () => {
  it('uint32 and random() are uniform (chi-square over 64 bins, byte histogram)', () => {
    const rng = new Rng(2024);
    const n = 200_000,
      bins = 64;
    const h = new Array(bins).fill(0),
      bytes = new Array(256).fill(0);
    for (let i = 0; i < n; i++) {
      h[Math.floor(rng.random() * bins)]++;
      const x = rng.nextUint32();
      bytes[x & 0xff]++;
      bytes[(x >>> 24) & 0xff]++;
    }
    const chi = (obs: number[], total: number) => obs.reduce((s, o) => s + (o - total / obs.length) ** 2 / (total / obs.length), 0);
    expect(chi(h, n)).toBeLessThan(chiSquareCritical(bins - 1));
    expect(chi(bytes, 2 * n)).toBeLessThan(chiSquareCritical(255));
    // and not suspiciously perfect
    expect(chi(h, n)).toBeGreaterThan(bins / 4);
  });

  it('int(n) is unbiased for awkward n and stays in range', () => {
    const rng = new Rng(77);
    for (const n of [1, 3, 7, 10, 1000]) {
      const counts = new Map<number, number>();
      const draws = 20_000;
      for (let i = 0; i < draws; i++) {
        const k = rng.int(n);
        if (!(Number.isInteger(k) && k >= 0 && k < n)) throw new Error(`int(${n}) gave ${k}`);
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      if (n > 1 && n <= 10) {
        let chi = 0;
        for (let k = 0; k < n; k++) chi += ((counts.get(k) ?? 0) - draws / n) ** 2 / (draws / n);
        expect(chi).toBeLessThan(chiSquareCritical(n - 1));
      }
    }
    expect(rng.int(2 ** 32)).toBeLessThan(2 ** 32);
    expect(() => rng.int(0)).toThrow(ValueError);
    expect(() => rng.int(2.5)).toThrow(ValueError);
    expect(() => rng.int(2 ** 32 + 1)).toThrow(ValueError);
  });

  it('normal() has mean 0, variance 1, and normal tail mass', () => {
    const rng = new Rng(31337);
    const n = 100_000;
    let s = 0,
      s2 = 0,
      tail = 0;
    for (let i = 0; i < n; i++) {
      const z = rng.normal();
      if (!Number.isFinite(z)) throw new Error(`normal() gave ${z}`);
      s += z;
      s2 += z * z;
      if (Math.abs(z) > 1.959964) tail++;
    }
    const mean = s / n,
      variance = s2 / n - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n)); // 5 sigma
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    expect(Math.abs(tail / n - 0.05)).toBeLessThan(5 * Math.sqrt((0.05 * 0.95) / n));
  });

  it('categorical frequencies match the weights (chi-square); zero weights are never drawn', () => {
    const rng = new Rng(4);
    const weights = [0.5, 0, 3, 1.25, 0, 7, 0.01, 2];
    const total = weights.reduce((a, b) => a + b, 0);
    const n = 100_000;
    const counts = new Array(weights.length).fill(0);
    for (let i = 0; i < n; i++) counts[rng.categorical(weights)]++;
    let chi = 0,
      df = -1;
    weights.forEach((w, i) => {
      if (w === 0) {
        expect(counts[i]).toBe(0);
        return;
      }
      chi += (counts[i] - (n * w) / total) ** 2 / ((n * w) / total);
      df++;
    });
    expect(chi).toBeLessThan(chiSquareCritical(df));
    // typed arrays work; a single positive weight always wins
    expect(rng.categorical(new Float32Array([0, 0, 2, 0]))).toBe(2);
  });

  it('categorical is deterministic and matches the documented rule', () => {
    const w = [1, 2, 3, 4];
    const a = new Rng(8),
      b = new Rng(8);
    for (let i = 0; i < 200; i++) {
      const u = b.random() * 10;
      const want = u < 1 ? 0 : u < 3 ? 1 : u < 6 ? 2 : 3;
      expect(a.categorical(w)).toBe(want);
    }
  });

  it('categorical rejects bad weights', () => {
    const rng = new Rng(0);
    expect(() => rng.categorical([])).toThrow(ValueError);
    expect(() => rng.categorical([0, 0])).toThrow(ValueError);
    expect(() => rng.categorical([1, -1])).toThrow(ValueError);
    expect(() => rng.categorical([1, NaN])).toThrow(ValueError);
    expect(() => rng.categorical([1, Infinity])).toThrow(ValueError);
    expect(() => rng.categorical([Number.MAX_VALUE, Number.MAX_VALUE])).toThrow(ValueError);
  });
});

describe('Rng state, fork, shuffle', () => {
  it('getState/setState round-trips through JSON and resumes the same stream', () => {
    const rng = new Rng(123);
    for (let i = 0; i < 17; i++) rng.random();
    const saved = JSON.parse(JSON.stringify(rng.getState())) as RngState;
    const expected = Array.from({ length: 100 }, () => rng.nextUint32());
    const other = new Rng(999);
    other.setState(saved);
    expect(Array.from({ length: 100 }, () => other.nextUint32())).toEqual(expected);
    rng.setState(saved);
    expect(rng.nextUint32()).toBe(expected[0]);
    const c = rng.clone();
    expect(c.nextUint32()).toBe(rng.nextUint32());
  });

  it('setState rejects malformed states', () => {
    const rng = new Rng(1);
    expect(() => rng.setState({ algorithm: 'xoshiro128**', s: [0, 0, 0, 0] })).toThrow(ValueError);
    expect(() => rng.setState({ algorithm: 'pcg32', s: [1, 2, 3, 4] } as unknown as RngState)).toThrow(ValueError);
    expect(() => rng.setState({ algorithm: 'xoshiro128**', s: [1, 2, 3] } as unknown as RngState)).toThrow(ValueError);
    expect(() => rng.setState({ algorithm: 'xoshiro128**', s: [1, 2, 3, 2 ** 32] })).toThrow(ValueError);
    expect(() => rng.setState(null as unknown as RngState)).toThrow(ValueError);
  });

  it('forks are independent of each other and of the parent', () => {
    const parent = new Rng(2025);
    const a = parent.fork(),
      b = parent.fork();
    const n = 50_000;
    const xs = [a, b, parent].map((r) => Float64Array.from({ length: n }, () => r.random()));
    const corr = (x: Float64Array, y: Float64Array) => {
      let sx = 0,
        sy = 0,
        sxy = 0,
        sxx = 0,
        syy = 0;
      for (let i = 0; i < n; i++) {
        sx += x[i];
        sy += y[i];
        sxy += x[i] * y[i];
        sxx += x[i] * x[i];
        syy += y[i] * y[i];
      }
      const cov = sxy / n - (sx / n) * (sy / n);
      return cov / Math.sqrt((sxx / n - (sx / n) ** 2) * (syy / n - (sy / n) ** 2));
    };
    for (const [i, j] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ]) {
      expect(Math.abs(corr(xs[i], xs[j]))).toBeLessThan(5 / Math.sqrt(n));
    }
    // no shared words between the streams' first outputs
    const words = (r: Rng) => new Set(Array.from({ length: 1000 }, () => r.nextUint32()));
    const p2 = new Rng(2025);
    const f1 = words(p2.fork()),
      f2 = words(p2.fork()),
      f3 = words(p2.fork());
    let shared = 0;
    for (const w of f1) if (f2.has(w) || f3.has(w)) shared++;
    expect(shared).toBeLessThan(3);
    // forking is deterministic
    const q = new Rng(2025);
    expect(q.fork().nextUint32()).toBe(new Rng(2025).fork().nextUint32());
  });

  it('shuffle is a deterministic, uniform permutation', () => {
    const a = new Rng(3).shuffle(Array.from({ length: 20 }, (_, i) => i));
    const b = new Rng(3).shuffle(Array.from({ length: 20 }, (_, i) => i));
    expect(a).toEqual(b);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(new Rng(0).shuffle([])).toEqual([]);
    expect(new Rng(0).shuffle(['x'])).toEqual(['x']);
    // all 6 permutations of 3 elements, equally often
    const rng = new Rng(6);
    const counts = new Map<string, number>();
    const n = 60_000;
    for (let i = 0; i < n; i++) {
      const k = rng.shuffle([0, 1, 2]).join('');
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    let chi = 0;
    for (const c of counts.values()) chi += (c - n / 6) ** 2 / (n / 6);
    expect(chi).toBeLessThan(chiSquareCritical(5));
  });
});
