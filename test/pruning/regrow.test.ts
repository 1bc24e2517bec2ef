import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { buildModel } from '../../src/models/families.js';
import { train } from '../../src/models/train.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { cosineFraction, regrowMasks } from '../../src/pruning/regrow.js';
import { numTensors, smallMnist } from '../helpers.js';

const liveCounts = (pm: PrunableModel) => pm.maskArrays().map((m) => m.reduce((a, b) => a + b, 0));

describe('regrowth at fixed sparsity', () => {
  it('swaps the weakest live weights for the pruned connections with the largest gradient, layer by layer', () => {
    const model = buildModel({ family: 'mlp', inputShape: [6], hidden: [4], numClasses: 3, seed: 1 });
    const pm = new PrunableModel(model);
    try {
      // Layer 0: 24 weights, the first 12 live with |w| = 1…12; gradients largest on pruned positions 20 and 23.
      const l0 = pm.layers[0];
      const w = Float32Array.from({ length: 24 }, (_, i) => (i < 12 ? (i % 2 ? -1 : 1) * (i + 1) : 0));
      l0.kernel.assign(tf.tensor(w, l0.shape));
      pm.setMaskArrays([Float32Array.from(w, (v) => (v !== 0 ? 1 : 0)), ...pm.maskArrays().slice(1)]);
      const g = Float32Array.from({ length: 24 }, (_, i) => (i === 20 ? 5 : i === 23 ? -7 : i === 1 ? 100 : 0.01 * i));
      const grads = { [l0.kernel.name]: tf.tensor(g, l0.shape) };
      const before = liveCounts(pm);
      const moved = regrowMasks(pm, grads, 2 / 12);
      expect(moved).toBe(2);
      const m = pm.maskArrays()[0];
      // |w| = 1 and 2 (positions 0, 1) went; 20 and 23 came back (position 1's large gradient does not matter: it was live).
      expect([0, 1].map((i) => m[i])).toEqual([0, 0]);
      expect([20, 23].map((i) => m[i])).toEqual([1, 1]);
      expect(liveCounts(pm)).toEqual(before);
      // Dropped weights are zero; regrown ones start at zero.
      const k = l0.kernel.dataSync();
      expect([0, 1, 20, 23].every((i) => k[i] === 0)).toBe(true);
      // A layer without a gradient, or a fraction of 0, is left alone.
      expect(regrowMasks(pm, {}, 0.5)).toBe(0);
      expect(regrowMasks(pm, grads, 0)).toBe(0);
      tf.dispose(Object.values(grads));
    } finally {
      pm.dispose();
      model.dispose();
    }
  });

  it('decays the swapped share on a cosine from alpha to 0 between from and until', () => {
    const f = cosineFraction(0.3, 150, 50);
    expect(f(49)).toBe(0);
    expect(f(50)).toBeCloseTo(0.3);
    expect(f(100)).toBeCloseTo(0.15);
    expect(f(150)).toBe(0);
  });

  it('in training: each layer keeps its live count, pruned weights stay exactly 0, some connections moved, nothing leaks', () => {
    const data = smallMnist(30);
    const model = buildModel({ family: 'mlp', inputShape: [784], hidden: [24], numClasses: 10, seed: 2 });
    const pm = new PrunableModel(model);
    try {
      pm.setMaskArrays(pm.layers.map((l) => Float32Array.from({ length: l.size }, (_, i) => ((i * 7919) % 10 < 8 ? 0 : 1))));
      const start = pm.maskArrays().map((m) => Float32Array.from(m));
      const counts = liveCounts(pm);
      const tensors = numTensors();
      train(model, data.train, { steps: 40, batchSize: 16, seed: 0, prunable: pm, regrow: { every: 10, until: 30, fraction: () => 0.2 } });
      expect(numTensors()).toBe(tensors);
      expect(liveCounts(pm)).toEqual(counts);
      const masks = pm.maskArrays();
      expect(masks.some((m, i) => m.some((v, j) => v !== start[i][j]))).toBe(true);
      pm.layers.forEach((l, i) => {
        const k = l.kernel.dataSync();
        expect(masks[i].every((v, j) => v === 1 || k[j] === 0)).toBe(true);
      });
    } finally {
      pm.dispose();
      model.dispose();
    }
  });
});
