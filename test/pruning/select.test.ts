import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import type { ConnectionFeatures } from '../../src/features/types.js';
import { buildModel, LENET_300_100, LENET_5 } from '../../src/models/families.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { pruneByScores, selectHighest } from '../../src/pruning/select.js';

/** Features of every live connection, with no feature columns (pruneByScores only needs indices). */
function liveFeatures(pm: PrunableModel): ConnectionFeatures {
  return {
    schema: { version: 0, names: [] },
    layers: pm.maskArrays().map((m, layer) => {
      const idx: number[] = [];
      m.forEach((v, j) => { if (v !== 0) idx.push(j); });
      return { layer, name: pm.layers[layer].name, count: idx.length, indices: Int32Array.from(idx), columns: [] };
    }),
  };
}

function tinyModel(): PrunableModel {
  return new PrunableModel(buildModel({ family: 'mlp', inputShape: [20], hidden: [10, 6], numClasses: 3, seed: 1 }));
}

describe('pruneByScores', () => {
  it('removes the highest scores globally up to the target, keeping floors and a path per class', () => {
    const pm = tinyModel();
    const f = liveFeatures(pm);
    // Scores that would wipe out the output layer first: output weights score highest.
    const scores = f.layers.map((lf) => Float32Array.from(lf.indices, (j) => (lf.layer === 2 ? 1000 : 0) + j / 1000));
    const r = pm.totalPrunable;
    const res = pruneByScores(pm, scores, f, 0.9, { minKeepPerLayer: 0, minKeepWeights: 1 });
    // At least the target, rounded up to whole weights (never just below it).
    expect(res.removed).toBe(Math.ceil(0.9 * r));
    expect(res.sparsity).toBeCloseTo(Math.ceil(0.9 * r) / r, 6);
    expect(res.sparsity).toBeGreaterThanOrEqual(0.9);
    const masks = pm.maskArrays();
    // Output layer [6, 3]: every class keeps ≥ 1 input, and that input unit keeps ≥ 1 input weight.
    for (let c = 0; c < 3; c++) {
      const ins = [0, 1, 2, 3, 4, 5].filter((i) => masks[2][i * 3 + c] === 1);
      expect(ins.length).toBeGreaterThanOrEqual(1);
      expect(ins.some((u) => Array.from({ length: 10 }, (_, i) => masks[1][i * 6 + u]).some((v) => v === 1))).toBe(true);
    }
    // Pruned weights are exactly 0.
    pm.layers.forEach((l, i) => {
      const w = l.kernel.dataSync();
      masks[i].forEach((m, j) => { if (m === 0) expect(w[j] === 0).toBe(true); });
    });
    pm.dispose();
  });

  it('respects the per-layer floor, is deterministic on ties, and never un-prunes', () => {
    const a = tinyModel(), b = tinyModel();
    for (const pm of [a, b]) {
      const f = liveFeatures(pm);
      const scores = f.layers.map((lf) => new Float32Array(lf.count).fill(1)); // all ties
      pruneByScores(pm, scores, f, 0.5, { minKeepPerLayer: 0.5 });
      const sp = pm.sparsity();
      sp.layers.forEach((l) => expect(l.sparsity).toBeLessThanOrEqual(0.5 + 1e-9));
    }
    expect(a.maskArrays().map((m) => Array.from(m))).toEqual(b.maskArrays().map((m) => Array.from(m)));
    const before = a.maskArrays();
    const f = liveFeatures(a);
    pruneByScores(a, f.layers.map((lf) => new Float32Array(lf.count)), f, 0.2); // below current sparsity
    expect(a.maskArrays()).toEqual(before);
    a.dispose(); b.dispose();
  });

  it('keeps 1 % of each layer, or half of what the target keeps where that is less: the floors never fix the allocation', () => {
    // Scores that prune the first layer first: it ends at its floor, the other layers keep the rest.
    for (const [target, fraction] of [[0.98, 0.01], [0.99, 0.005], [0.995, 0.0025]]) {
      const pm = new PrunableModel(buildModel(LENET_300_100));
      const f = liveFeatures(pm);
      const res = pruneByScores(pm, f.layers.map((lf) => Float32Array.from({ length: lf.count }, () => (lf.layer === 0 ? 1 : 0))), f, target);
      expect(res.sparsity).toBeGreaterThanOrEqual(target);
      const kept = pm.sparsity().layers.map((l) => l.size - l.pruned);
      expect(kept[0]).toBe(Math.ceil(fraction * pm.layers[0].size));
      pm.dispose();
    }
  });

  it('stops short of the target when floors bind, and does not leak tensors', () => {
    const pm = tinyModel();
    const n0 = tf.memory().numTensors;
    const f = liveFeatures(pm);
    const res = pruneByScores(pm, f.layers.map((lf) => new Float32Array(lf.count).fill(1)), f, 0.9, { minKeepWeights: 50 });
    expect(res.sparsity).toBeLessThan(0.9);
    expect(res.sparsity).toBeGreaterThan(0.5);
    expect(tf.memory().numTensors).toBe(n0);
    expect(() => pruneByScores(pm, [], f, 0.5)).toThrow(/score arrays/);
    pm.dispose();
  });
});

/**
 * The greedy selectHighest replaces: one sort of every candidate by (score desc, layer, index), layers skipped
 * once their budget is spent; NaN scores as −∞, positions in `skip` not candidates.
 */
function greedyReference(cand: { layer: number; idx: Int32Array; score: Float32Array; skip?: Int32Array }[], budget: number[], need: number): Int32Array[] {
  const all: { k: number; layer: number; idx: number; score: number }[] = [];
  cand.forEach((c, k) => c.score.forEach((s, i) => {
    if (!c.skip?.includes(i)) all.push({ k, layer: c.layer, idx: c.idx[i], score: Number.isNaN(s) ? -Infinity : s });
  }));
  all.sort((a, b) => (b.score - a.score) || (a.layer - b.layer) || (a.idx - b.idx));
  const left = budget.slice();
  const out: number[][] = cand.map(() => []);
  for (const e of all) {
    if (need <= 0) break;
    if (left[e.layer] <= 0) continue;
    out[e.k].push(e.idx);
    left[e.layer]--;
    need--;
  }
  return out.map((o) => Int32Array.from(o.sort((a, b) => a - b)));
}

describe('selectHighest', () => {
  it('takes exactly what the global greedy sort took: ties, ±0, NaN, -Infinity, skipped positions, binding budgets and floors', () => {
    let seed = 12345;
    const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    for (let trial = 0; trial < 300; trial++) {
      const layers = 1 + Math.floor(rnd() * 4);
      const levels = 1 + Math.floor(rnd() * 6); // few distinct values: many ties
      const cand = Array.from({ length: layers }, (_, layer) => {
        const n = Math.floor(rnd() * 40);
        const idx = Int32Array.from({ length: n }, (_, i) => i * 3 + (layer % 2));
        const special = [-Infinity, NaN, -0, 0, Infinity, -1e-30];
        const score = Float32Array.from({ length: n }, () => (rnd() < 0.1 ? special[Math.floor(rnd() * special.length)] : (Math.floor(rnd() * levels) - 2) / 2));
        const skip = Int32Array.from(Array.from(score.keys()).filter(() => rnd() < 0.1));
        return { layer, idx, score, skip };
      });
      const budget = cand.map((c) => Math.floor(rnd() * (c.score.length + 3)));
      const need = Math.floor(rnd() * (cand.reduce((a, c) => a + c.score.length, 0) + 5));
      const got = selectHighest(cand, budget, need).map((a) => Int32Array.from(a).sort());
      expect(got, `trial ${trial}`).toEqual(greedyReference(cand, budget, need));
    }
  });

  it('on LeNet-300-100 and LeNet-5 magnitude scores (ties, floors at 95 %) picks the connections of the global greedy', () => {
    for (const family of ['mlp', 'cnn'] as const) {
      const model = buildModel({ ...(family === 'mlp' ? LENET_300_100 : LENET_5), seed: 3 });
      const pm = new PrunableModel(model);
      const f = liveFeatures(pm);
      // Magnitude scores (many exact ties after rounding to 1e-3) with per-layer floors in play.
      const weights = pm.layers.map((l) => l.kernel.dataSync());
      const scores = f.layers.map((lf) => Float32Array.from(lf.indices, (j) => -Math.round(1000 * Math.abs(weights[lf.layer][j])) / 1000));
      const cand = f.layers.map((lf, k) => ({ layer: lf.layer, idx: lf.indices, score: scores[k] }));
      const budget = pm.layers.map((l) => l.size - Math.max(Math.ceil(0.01 * l.size), 4));
      const need = Math.round(0.95 * pm.totalPrunable);
      const want = greedyReference(cand, budget, need);
      const got = selectHighest(cand, budget, need).map((a) => Int32Array.from(a).sort());
      expect(got).toEqual(want);
      pm.dispose();
      model.dispose();
    }
  });
});
