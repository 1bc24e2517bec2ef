/**
 * Magnitude percentile ranks of a layer's live connections — within the layer, within each unit and within
 * each input row — from one host-side sort. A stable LSD radix sort on the float32 bits of |w| (non-negative
 * floats order as their bits) is O(n) and gives the ascending order with ties by flat kernel index; walking
 * it once with a counter per unit and per input row gives all three ranks, because a unit's (or a row's)
 * connections appear in that order restricted to them, which is the order of their own positions. This
 * replaces three full tf.topk sorts of the kernel (over half of the feature time on large layers: issue 18)
 * with the same values, bit for bit (test/features/ranks.test.ts checks them against the topk formulation).
 */

import { stableOrder } from '../util/argsort.js';

/** The ranks' layout in liveRanks' output: three values per live connection, side by side. */
export const RANK_LAYER = 0;
export const RANK_UNIT = 1;
export const RANK_INPUT = 2;

/**
 * Writes the sort keys of |w| (float32 bits, sign cleared) of the live connections `indices` into `keys` from
 * `at`, where `w` holds the flat kernel from index `lo` on (a slice read to the host).
 */
export function magnitudeKeys(w: Float32Array, lo: number, indices: Int32Array, keys: Uint32Array, at: number): void {
  const bits = new Uint32Array(w.buffer, w.byteOffset, w.length);
  for (let j = 0; j < indices.length; j++) keys[at + j] = bits[indices[j] - lo] & 0x7fffffff;
}

/**
 * Percentile ranks of the live connections `indices` (ascending flat kernel indices) of a kernel whose last
 * two axes are [cin, cout], from `keys` (magnitudeKeys of their weights; consumed): for live connection j,
 * its rank within the layer, its unit and its input row at 3j + RANK_LAYER, RANK_UNIT and RANK_INPUT. Each
 * is computed as the tensor formulation did, in float32: (float32(rank) + 1) / live count. (Side by side,
 * the walk in sorted order writes one cache line per connection instead of three: it is memory-bound.)
 */
export function liveRanks(keys: Uint32Array, indices: Int32Array, cin: number, cout: number): Float32Array {
  return ranksInOrder(stableOrder(keys), indices, cin, cout);
}

/** liveRanks from the live connections' ascending order of |w| (stableOrder of their magnitudeKeys), where the caller keeps that order. */
export function ranksInOrder(order: Int32Array, indices: Int32Array, cin: number, cout: number): Float32Array {
  const n = indices.length;
  const unitLive = new Uint32Array(cout);
  const inputLive = new Uint32Array(cin);
  // Flat index i = (position · cin + r) · cout + u, all < 2^31: integer division by `| 0`.
  for (let j = 0; j < n; j++) {
    const i = indices[j];
    const q = (i / cout) | 0;
    unitLive[i - q * cout]++;
    inputLive[q % cin]++;
  }
  const fr = Math.fround;
  const out = new Float32Array(3 * n);
  const seenUnit = new Uint32Array(cout);
  const seenInput = new Uint32Array(cin);
  const nLive = fr(n);
  // Every weight live (a run's first step): ascending indices ending at n − 1 are 0…n−1, and the walk skips
  // the gather through `indices` in sorted order (a cache miss per connection on large kernels).
  const identity = n > 0 && indices[n - 1] === n - 1;
  for (let p = 0; p < n; p++) {
    const j = order[p];
    const i = identity ? j : indices[j];
    const q = (i / cout) | 0;
    const u = i - q * cout;
    const r = q % cin;
    const at = 3 * j;
    out[at + RANK_LAYER] = fr(fr(fr(p) + 1) / nLive);
    out[at + RANK_UNIT] = fr((seenUnit[u]++ + 1) / unitLive[u]);
    out[at + RANK_INPUT] = fr((seenInput[r]++ + 1) / inputLive[r]);
  }
  return out;
}
