import { describe, expect, it } from 'vitest';
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../src/backend/tf.js';
import { liveRanks, magnitudeKeys, RANK_INPUT, RANK_LAYER, RANK_UNIT } from '../../src/features/ranks.js';
import { stableOrder } from '../../src/util/argsort.js';

/**
 * The tensor formulation the host ranks replace (extract.ts before issue 18's rewrite): pruned entries
 * hold +∞, a stable descending tf.topk of −values along the last axis, the inverse permutation, then
 * (float32(rank) + 1) / live count per row.
 */
function topkPercentiles(vals: TF.Tensor2D, nLive: TF.Tensor): Float32Array {
  return tf.tidy(() => {
    const k = vals.shape[1];
    const asc = tf.topk(tf.neg(vals), k).indices.dataSync() as Int32Array;
    const inv = new Int32Array(asc.length);
    for (let base = 0; base < asc.length; base += k) for (let i = 0; i < k; i++) inv[base + asc[base + i]] = i;
    const pos = tf.tensor(inv, vals.shape, 'int32');
    return tf.div(tf.add(tf.cast(pos, 'float32'), 1), tf.maximum(nLive, 1)).dataSync() as Float32Array;
  });
}

/** A [kh·kw, cin, cout] kernel with many ties (values from a small set, both signs) and a mask. */
function kernel(kk: number, cin: number, cout: number, seed: number, pruneFrac: number) {
  let s = seed;
  const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
  const size = kk * cin * cout;
  const w = Float32Array.from({ length: size }, () => (rnd() < 0.5 ? -1 : 1) * Math.fround(Math.floor(rnd() * 7) / 8 + (rnd() < 0.3 ? 0 : 1e-3 * rnd())));
  const mask = Float32Array.from({ length: size }, () => (rnd() < pruneFrac ? 0 : 1));
  return { w, mask, size };
}

describe('liveRanks', () => {
  it('stableOrder sorts ascending with ties by position, as a comparison sort does', () => {
    const keys = Uint32Array.from({ length: 5000 }, (_, i) => ((i * 2654435761) >>> 0) % (i % 3 === 0 ? 17 : 0x7fffffff));
    const want = Array.from(keys.keys()).sort((a, b) => keys[a] - keys[b] || a - b);
    expect(Array.from(stableOrder(Uint32Array.from(keys)))).toEqual(want);
    expect(Array.from(stableOrder(new Uint32Array(0)))).toEqual([]);
  });

  // With pruned weights, and with every weight live (liveRanks' path without the gather through `indices`).
  for (const [kk, cin, cout, pruneFrac] of [[1, 37, 23, 0.35], [9, 6, 11, 0.35], [1, 37, 23, 0], [9, 6, 11, 0]]) {
    it(`equals the tf.topk percentiles bit for bit on a ${kk === 1 ? 'Dense' : 'Conv2D'} kernel with ties and ${pruneFrac ? 'pruned weights' : 'every weight live'}`, () => {
      const { w, mask, size } = kernel(kk, cin, cout, 7 + kk, pruneFrac);
      const indices = Int32Array.from(Array.from(mask.keys()).filter((i) => mask[i] !== 0));
      const n = indices.length;
      const keys = new Uint32Array(n);
      magnitudeKeys(w.subarray(indices[3]), indices[3], indices.subarray(3), keys, 3); // a slice from the fourth live index …
      magnitudeKeys(w, 0, indices.subarray(0, 3), keys, 0); // … and the first three from the whole kernel
      const got = liveRanks(keys, indices, cin, cout);

      const absW = tf.abs(tf.tensor(w, [1, kk, cin, cout]));
      const m = tf.tensor(mask, [1, kk, cin, cout]);
      const masked = tf.where(tf.greater(m, 0), absW, tf.fill([1, kk, cin, cout], Infinity));
      const live = tf.gather(tf.reshape(absW, [-1]), tf.tensor1d(indices, 'int32'));
      const layer = topkPercentiles(tf.reshape(live, [1, n]), tf.scalar(n));
      const byUnit = tf.transpose(tf.reshape(masked, [kk * cin, cout]));
      const unitFull = tf.reshape(tf.transpose(tf.tensor(topkPercentiles(byUnit as TF.Tensor2D, tf.sum(tf.transpose(tf.reshape(m, [kk * cin, cout])), 1, true)), [cout, kk * cin])), [-1]);
      const toIn = (t: TF.Tensor) => tf.reshape(tf.transpose(t, [2, 0, 1, 3]), [cin, kk * cout]);
      const inPct = tf.tensor(topkPercentiles(toIn(masked) as TF.Tensor2D, tf.sum(toIn(m), 1, true)), [cin, 1, kk, cout]);
      const inFull = tf.reshape(tf.transpose(inPct, [1, 2, 0, 3]), [-1]);
      const gather = (t: TF.Tensor) => Array.from(tf.gather(t, tf.tensor1d(indices, 'int32')).dataSync());
      const part = (o: number) => Array.from({ length: n }, (_, j) => got[3 * j + o]);
      expect(part(RANK_LAYER)).toEqual(Array.from(layer));
      expect(part(RANK_UNIT)).toEqual(gather(unitFull));
      expect(part(RANK_INPUT)).toEqual(gather(inFull));
      expect(size).toBe(kk * cin * cout);
      expect(n === size).toBe(pruneFrac === 0);
      [absW, m, masked, live, byUnit, unitFull, inPct, inFull].forEach((t) => t.dispose());
    });
  }
});
