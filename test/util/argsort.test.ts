import { describe, expect, it } from 'vitest';
import { argsort } from '../../src/util/argsort.js';

/** The comparator sorts argsort replaces (src/policy/allocated.ts until 2026-12-07). */
function bySort(v: Float32Array, descending: boolean): Uint32Array {
  const idx = Uint32Array.from(v, (_, i) => i);
  return idx.sort(descending ? (a, b) => v[b] - v[a] || a - b : (a, b) => v[a] - v[b] || a - b);
}

describe('argsort', () => {
  it('orders as the comparator sort does, ascending or descending, ties by index, −0 equal to +0', () => {
    let s = 7;
    const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (const n of [0, 1, 2, 3, 17, 1000, 50_000]) {
      // Ties (values drawn from a few levels), both zeros, both infinities, tiny and huge magnitudes, negatives.
      const levels = [-Infinity, -1e30, -2.5, -1e-30, -0, 0, 1e-40, 0.5, 0.5000001, 3, 1e30, Infinity];
      const v = Float32Array.from({ length: n }, () => (rand() < 0.5 ? levels[Math.floor(rand() * levels.length)] : (rand() - 0.5) * 10 ** Math.floor(rand() * 8 - 4)));
      for (const descending of [false, true]) expect(Array.from(argsort(v, descending))).toEqual(Array.from(bySort(v, descending)));
    }
  });

  it('orders few distinct values (a tree\'s leaf scores) by counting, and as many as the table holds or one more by radix, all as the comparator sort', () => {
    let s = 11;
    const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
    // Above the counting sort's minimum size (2^16): 3 levels with −0 / +0 (one key) and −∞; 4,096 distinct keys (the
    // most it counts: −0 and +0 share one, so 4,097 levels) and one more (4,098 levels: the radix sort).
    for (const [levels, keys] of [[3, 2], [4097, 4096], [4098, 4097]]) {
      const values = Float32Array.from({ length: levels }, (_, k) => (k === 0 ? -0 : k === 1 ? 0 : k === 2 ? -Infinity : (k - 2) * 0.5));
      const v = Float32Array.from({ length: 70_000 }, (_, i) => values[i < levels ? i : Math.floor(rand() * levels)]);
      expect(new Set(Array.from(v, (x) => (Object.is(x, -0) ? 0 : x))).size).toBe(keys);
      for (const descending of [false, true]) expect(Array.from(argsort(v, descending))).toEqual(Array.from(bySort(v, descending)));
      // NaN orders as −∞ (first ascending, last descending), ties by index, on either path.
      const withNaN = v.map((x) => (x === -Infinity ? Number.NaN : x));
      expect(Array.from(argsort(withNaN))).toEqual(Array.from(bySort(v, false)));
      expect(Array.from(argsort(withNaN, true))).toEqual(Array.from(bySort(v, true)));
    }
  });

  it('reads a view into a larger buffer at its own offset', () => {
    const whole = Float32Array.from([9, 3, 1, 2, 3, 0]);
    const view = whole.subarray(1, 5); // 3, 1, 2, 3
    expect(Array.from(argsort(view))).toEqual([1, 2, 0, 3]);
    expect(Array.from(argsort(view, true))).toEqual([0, 3, 2, 1]);
  });
});
