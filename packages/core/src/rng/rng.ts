/**
 * A seeded pseudo-random generator that yields the same stream on every platform and
 * backend (pure JavaScript, no tfjs, exact 32-bit integer arithmetic).
 *
 * ## Algorithm (normative: another implementation following this reproduces the stream)
 *
 * **Generator: xoshiro128\*\*** (Blackman & Vigna, 2018), state four uint32 words
 * `s0..s3`. One step, all arithmetic modulo 2^32, `rotl(x, k) = (x << k) | (x >>> (32-k))`:
 *
 * ```
 * out = rotl(s1 * 5, 7) * 9
 * t = s1 << 9
 * s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11)
 * return out
 * ```
 *
 * **Seeding: SplitMix64** (Steele, Lea & Flood, 2014). The seed is read as a 64-bit
 * unsigned integer `x` (a negative seed is taken modulo 2^64, i.e. two's complement).
 * SplitMix64 is stepped twice from state `x`, each step:
 *
 * ```
 * x = x + 0x9E3779B97F4A7C15 (mod 2^64)
 * z = x
 * z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 (mod 2^64)
 * z = (z ^ (z >> 27)) * 0x94D049BB133111EB (mod 2^64)
 * output z ^ (z >> 31)
 * ```
 *
 * giving `z1`, `z2`; then `s0 = low32(z1), s1 = high32(z1), s2 = low32(z2),
 * s3 = high32(z2)`. (An all-zero state cannot come out of two consecutive SplitMix64
 * outputs in practice; if it ever did, `s0` is set to 1.)
 *
 * **Derived draws**
 * - `random()`: 53-bit uniform in [0, 1): `a = next() >>> 5` (27 bits),
 *   `b = next() >>> 6` (26 bits), `(a * 2^26 + b) / 2^53`.
 * - `int(n)`: uniform integer in [0, n) for 1 <= n <= 2^32 by rejection: draw
 *   `x = next()` until `x < 2^32 - (2^32 mod n)`, return `x mod n`.
 * - `normal()`: Box–Muller, cosine branch: `u1 = 1 - random()` (in (0, 1]),
 *   `u2 = random()`, `sqrt(-2 ln u1) * cos(2π u2)`. Consumes exactly 4 words. The integer
 *   stream is bit-exact everywhere; `Math.log/sqrt/cos` are exact-to-the-ulp identical on
 *   V8 (Node, Chrome, Deno) but other engines may differ in the last bit.
 * - `categorical(w)`: float64 cumulative sum `c_i = w_0 + … + w_i` left to right,
 *   `u = random() * c_{n-1}`, result = the first `i` with `u < c_i` (the last index of
 *   positive weight should rounding leave none). One `random()` per draw.
 * - `shuffle(a)`: Fisher–Yates from the end: for `i = n-1 … 1`, `j = int(i + 1)`, swap
 *   `a[i]`, `a[j]`.
 * - `fork()`: draws `hi = next()`, `lo = next()` from the parent and seeds a new
 *   generator with the 64-bit seed `hi * 2^32 + lo` as above.
 */
import { ValueError } from '../errors.js';

/** Serializable generator state (JSON-safe) for save/restore. */
export interface RngState {
  algorithm: 'xoshiro128**';
  /** The four uint32 state words s0..s3. */
  s: [number, number, number, number];
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** (ah:al) * (bh:bl) mod 2^64 with exact integer arithmetic; returns [hi, lo] uint32. */
function mul64(ah: number, al: number, bh: number, bl: number): [number, number] {
  const a0 = al & 0xffff,
    a1 = al >>> 16,
    b0 = bl & 0xffff,
    b1 = bl >>> 16;
  const p00 = a0 * b0,
    p01 = a0 * b1,
    p10 = a1 * b0,
    p11 = a1 * b1; // each < 2^32, exact
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const lo = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
  let hi = (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
  hi = (hi + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
  return [hi, lo];
}

/** x ^ (x >>> k) for a 64-bit (hi:lo) value, 0 < k < 32. */
function xorShr64(hi: number, lo: number, k: number): [number, number] {
  return [(hi ^ (hi >>> k)) >>> 0, (lo ^ ((lo >>> k) | (hi << (32 - k)))) >>> 0];
}

/** Two SplitMix64 outputs from the 64-bit seed (hi:lo) → xoshiro128** state. */
function seedState(hi: number, lo: number): [number, number, number, number] {
  const out: number[] = [];
  for (let step = 0; step < 2; step++) {
    // x += 0x9E3779B97F4A7C15
    const nlo = lo + 0x7f4a7c15;
    lo = nlo >>> 0;
    hi = (hi + 0x9e3779b9 + (nlo >= TWO_POW_32 ? 1 : 0)) >>> 0;
    let z = xorShr64(hi, lo, 30);
    z = mul64(z[0], z[1], 0xbf58476d, 0x1ce4e5b9);
    z = xorShr64(z[0], z[1], 27);
    z = mul64(z[0], z[1], 0x94d049bb, 0x133111eb);
    z = xorShr64(z[0], z[1], 31);
    out.push(z[1], z[0]); // low word first
  }
  if ((out[0] | out[1] | out[2] | out[3]) === 0) out[0] = 1;
  return out as [number, number, number, number];
}

/** Split a seed into 64-bit (hi, lo) words, validating it. */
function seedWords(seed: number | bigint): [number, number] {
  if (typeof seed === 'bigint') {
    if (seed < -(1n << 63n) || seed >= 1n << 64n) {
      throw new ValueError(`Rng: a bigint seed must lie in [-2^63, 2^64); got ${seed}`);
    }
    const u = BigInt.asUintN(64, seed);
    return [Number(u >> 32n), Number(u & 0xffffffffn)];
  }
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new ValueError(`Rng: seed must be a safe integer or a bigint; got ${typeof seed === 'number' ? seed : typeof seed}`);
  }
  const lo = seed >>> 0; // low 32 bits of the two's complement (exact for safe integers)
  const hi = Math.floor(seed / TWO_POW_32) >>> 0; // floor division keeps two's complement for negatives
  return [hi, lo];
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Seeded generator (xoshiro128** seeded by SplitMix64; see the module comment for the
 * exact algorithm). The stream is identical on every platform and tfjs backend.
 *
 * @example
 * const rng = new Rng(42);
 * rng.random();            // uniform in [0, 1), 53 bits
 * rng.categorical([1, 3]); // 1 with probability 3/4
 * const child = rng.fork(); // independent stream, e.g. per image
 */
/**
 * The randomness var.ts draws from, the one RNG type of the project: {@link Rng} implements
 * it. Functions take the part they use (`Pick<RandomSource, 'random'>` for a sampler), so any
 * object with those methods works too.
 */
export interface RandomSource {
  /** Uniform in [0, 1). */
  random(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal. */
  normal(): number;
}

export class Rng implements RandomSource {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** @param seed a safe integer (negative allowed, taken mod 2^64) or a bigint in [-2^63, 2^64). */
  constructor(seed: number | bigint) {
    const [hi, lo] = seedWords(seed);
    [this.s0, this.s1, this.s2, this.s3] = seedState(hi, lo);
  }

  /** Next raw output, a uint32 in [0, 2^32). */
  nextUint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float64 in [0, 1) with 53 random bits (consumes two uint32 words). */
  random(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / TWO_POW_53;
  }

  /** Uniform integer in [0, n), unbiased (rejection), for integer 1 <= n <= 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new ValueError(`Rng.int: n must be an integer in [1, 2^32]; got ${n}`);
    }
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal N(0, 1) by Box–Muller (cosine branch; consumes four uint32 words). */
  normal(): number {
    const u1 = 1 - this.random(); // (0, 1]
    const u2 = this.random();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /**
   * Sample an index with probability proportional to `weights` (non-negative, finite,
   * not all zero; need not be normalised). float64 cumulative sum, one `random()` draw.
   * @throws ValueError for an empty array, a negative / non-finite weight or a zero total.
   */
  categorical(weights: ArrayLike<number>): number {
    const n = weights.length;
    if (n === 0) throw new ValueError('Rng.categorical: weights must not be empty');
    let total = 0;
    let lastPositive = -1;
    for (let i = 0; i < n; i++) {
      const w = weights[i];
      if (!(w >= 0) || w === Infinity) {
        throw new ValueError(`Rng.categorical: weights must be finite and >= 0; weights[${i}] = ${w}`);
      }
      total += w;
      if (w > 0) lastPositive = i;
    }
    if (!(total > 0) || !Number.isFinite(total)) {
      throw new ValueError(`Rng.categorical: the weights must have a positive finite sum; got ${total}`);
    }
    const u = this.random() * total;
    let c = 0;
    for (let i = 0; i < n; i++) {
      c += weights[i];
      if (u < c) return i;
    }
    return lastPositive;
  }

  /** An independent child generator (seeded from two words of this stream). */
  fork(): Rng {
    const hi = this.nextUint32();
    const lo = this.nextUint32();
    const child = Object.create(Rng.prototype) as Rng;
    [child.s0, child.s1, child.s2, child.s3] = seedState(hi, lo);
    return child;
  }

  /** Shuffle `a` in place (Fisher–Yates) and return it. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** A JSON-serializable copy of the state. */
  getState(): RngState {
    return { algorithm: 'xoshiro128**', s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0] };
  }

  /**
   * Restore a state from {@link getState} (e.g. when resuming training).
   * @throws ValueError when the state is malformed or all zero.
   */
  setState(state: RngState): void {
    const s = state?.s;
    if (
      state?.algorithm !== 'xoshiro128**' ||
      !Array.isArray(s) ||
      s.length !== 4 ||
      !s.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32)
    ) {
      throw new ValueError(`Rng.setState: expected { algorithm: 'xoshiro128**', s: [four uint32] }; got ${JSON.stringify(state)}`);
    }
    if ((s[0] | s[1] | s[2] | s[3]) === 0) throw new ValueError('Rng.setState: the all-zero state is invalid for xoshiro128**');
    [this.s0, this.s1, this.s2, this.s3] = [s[0] | 0, s[1] | 0, s[2] | 0, s[3] | 0];
  }

  /** An independent copy with the same state (the two then produce the same stream). */
  clone(): Rng {
    const c = Object.create(Rng.prototype) as Rng;
    c.setState(this.getState());
    return c;
  }
}
