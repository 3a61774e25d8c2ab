import { describe, expect, it } from 'vitest';
import { compareArrays, expectClose, expectEqualInts, fixtureDir, loadFixtureCase } from '../src/index.js';

describe('test-helpers', () => {
  it('loads the fixture case named by VAR_FIXTURE_DIR', () => {
    const fc = loadFixtureCase();
    expect(fc.dir).toBe(fixtureDir());
    expect(Array.isArray(fc.config.VQVAE.v_patch_nums)).toBe(true);
    const img = fc.ref('img');
    expect(img.shape.length).toBe(4);
    expect(img.data.length).toBe(img.shape.reduce((a: number, b: number) => a * b, 1));
  });

  it('reports max abs / rel error and where', () => {
    const r = compareArrays([1, 2, 3.5, 4], [1, 2, 3, 4], [2, 2]);
    expect(r.maxAbs).toBeCloseTo(0.5);
    expect(r.maxAbsAt.index).toEqual([1, 0]);
    expect(r.maxRel).toBeCloseTo(0.5 / 3);
    expect(() => expectClose('x', [1, 2.1], { data: [1, 2], shape: [2] }, 0.05)).toThrow(/maxAbs=1.000e-1 at \[1\]/);
    expect(() => expectEqualInts('idx', [1, 2, 3], [1, 5, 3])).toThrow(/1\/3 differ/);
  });
});
