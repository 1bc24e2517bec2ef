import { describe, expect, it } from 'vitest';
import { buildModel } from '../../src/models/families.js';
import { train } from '../../src/models/train.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import {
  fixAllocation, globalAllocation, gradedLabels, maskFromAllocation, NEVER_REMOVED, oracleMask, runOracle,
} from '../../src/meta/oracle.js';
import { lampScores } from '../../src/meta/criteria.js';
import { lampScores as baselineLamp } from '../../src/policy/baselines.js';
import { numTensors, smallMnist } from '../helpers.js';

describe('oracle building blocks', () => {
  it('allocates globally, fixes allocations to a total within floors and live counts', () => {
    const imp = [Float32Array.from([5, 1, 4, -Infinity]), Float32Array.from([3, 2])];
    expect(globalAllocation(imp, 3)).toEqual([2, 1]);
    const k = fixAllocation([10, 0, 3], [4, 5, 6], [1, 1, 1], 9);
    expect(k.reduce((a, b) => a + b, 0)).toBe(9);
    k.forEach((v, l) => { expect(v).toBeGreaterThanOrEqual(1); expect(v).toBeLessThanOrEqual([4, 5, 6][l]); });
    const m = maskFromAllocation(imp, [Float32Array.from([1, 1, 1, 0]), Float32Array.from([1, 1])], [2, 1]);
    expect(Array.from(m[0])).toEqual([1, 0, 1, 0]);
    expect(Array.from(m[1])).toEqual([1, 0]);
  });

  it('computes LAMP scores (largest weight of a layer scores 1)', () => {
    const s = lampScores(Float32Array.from([1, -2, 3, 0.5]), Float32Array.from([1, 1, 1, 0]));
    expect(s[2]).toBeCloseTo(1);
    expect(s[1]).toBeCloseTo(4 / 13);
    expect(s[0]).toBeCloseTo(1 / 14);
    expect(s[3]).toBe(-Infinity);
  });

  it('its LAMP agrees with the baseline\'s without ties (to float32) and ranks tied weights by position, where the baseline\'s share one score', () => {
    const w = Float32Array.from([0.5, -0.1, 0.3, 0.2, -0.7, 0.05]);
    const live = Float32Array.from([1, 1, 0, 1, 1, 1]);
    const liveAt = [0, 1, 3, 4, 5];
    const own = lampScores(w, live);
    const baseline = baselineLamp(Float32Array.from(liveAt, (j) => Math.abs(w[j])));
    liveAt.forEach((j, k) => expect(own[j]).toBe(Math.fround(baseline[k])));
    expect(own[2]).toBe(-Infinity);
    // Tied weights: here the later one in position ranks higher (the largest pair: 1 and a half); there both get a half.
    const tied = Float32Array.from([0.3, -0.3, 0.1]);
    expect(Array.from(lampScores(tied, Float32Array.from([1, 1, 1])).subarray(0, 2))).toEqual([Math.fround(0.5), 1]);
    expect(Array.from(baselineLamp(Float32Array.from(tied, Math.abs)).subarray(0, 2))).toEqual([0.5, 0.5]);
  });

  it('grades labels by the fraction of later targets that removed a connection', () => {
    const r = Uint8Array.from([0, 1, 2, NEVER_REMOVED]);
    expect(Array.from(gradedLabels(r, 3, -1))).toEqual(Array.from(Float32Array.from([1, 2 / 3, 1 / 3, 0])));
    const after0 = gradedLabels(r, 3, 0);
    expect(Number.isNaN(after0[0])).toBe(true);
    expect(Array.from(after0.subarray(1))).toEqual([1, 0.5, 0]);
  });
});

describe('runOracle', () => {
  it('answers nested masks at the requested sparsities on a tiny MLP, with labels in [0, 1]', async () => {
    const data = smallMnist(20);
    const model = buildModel({ family: 'mlp', inputShape: [784], hidden: [24], numClasses: 10, seed: 100 });
    train(model, data.train, { epochs: 3, seed: 100 });
    const pm = new PrunableModel(model);
    const n0 = numTensors();
    const events: string[] = [];
    const stagesSeen: number[] = [];
    const res = await runOracle(pm, data, {
      targets: [0.5, 0.8, 0.9], criteria: ['global-magnitude', 'wanda', 'fisher'], factors: [0.5],
      onEvent: (e) => events.push(e.type),
      onStage: (s, p) => { stagesSeen.push(p.sparsity().global); expect(s.sparsity).toBeCloseTo(s.target, 2); },
    });
    expect(numTensors()).toBe(n0);
    expect(res.stages.map((s) => s.target)).toEqual([0.5, 0.8, 0.9]);
    res.stages.forEach((s) => {
      expect(s.candidates.length).toBeGreaterThanOrEqual(3);
      expect(s.candidates.map((c) => c.name)).toContain(s.winner);
      expect(Math.abs(s.sparsity - s.target)).toBeLessThan(0.01);
    });
    expect(events.filter((e) => e === 'stage').length).toBe(3);
    // Masks are nested and match the requested sparsities.
    const total = pm.totalPrunable;
    let prevKept = Infinity;
    for (let j = 0; j < 3; j++) {
      const kept = oracleMask(res, j).reduce((a, m) => a + m.reduce((x, y) => x + y, 0), 0);
      expect(1 - kept / total).toBeCloseTo([0.5, 0.8, 0.9][j], 2);
      expect(kept).toBeLessThanOrEqual(prevKept);
      prevKept = kept;
    }
    // The model ends at the last target's mask.
    expect(pm.sparsity().global).toBeCloseTo(0.9, 2);
    const labels = res.removedAt.map((r) => gradedLabels(r, 3, -1));
    for (const l of labels) for (const v of l) { expect(v).toBeGreaterThanOrEqual(0); expect(v).toBeLessThanOrEqual(1); }
    pm.dispose(); model.dispose(); data.dispose();
  });

  it("judge 'loss' keeps the candidate with the lowest validation loss; 'accuracy' the most accurate", async () => {
    const data = smallMnist(10);
    const model = buildModel({ family: 'mlp', inputShape: [784], hidden: [16], numClasses: 10, seed: 101 });
    train(model, data.train, { epochs: 3, seed: 101 });
    const pm = new PrunableModel(model);
    const dense = pm.snapshot();
    for (const judge of ['loss', 'accuracy'] as const) {
      pm.restore(dense);
      const res = await runOracle(pm, data, { targets: [0.6, 0.85], criteria: ['global-magnitude', 'wanda', 'taylor'], factors: [0.5], judge });
      for (const s of res.stages) {
        const win = s.candidates.find((c) => c.name === s.winner)!;
        if (judge === 'loss') expect(win.valLoss).toBe(Math.min(...s.candidates.map((c) => c.valLoss)));
        else expect(win.valAccuracy).toBe(Math.max(...s.candidates.map((c) => c.valAccuracy)));
      }
    }
    dense.weights.forEach((t) => t.dispose()); dense.masks.forEach((t) => t.dispose());
    pm.dispose(); model.dispose(); data.dispose();
  });

  it('rejects targets that are not increasing', async () => {
    const model = buildModel({ family: 'mlp', inputShape: [4], hidden: [3], numClasses: 2, seed: 100 });
    const pm = new PrunableModel(model);
    const data = smallMnist(2);
    await expect(runOracle(pm, data, { targets: [0.8, 0.5] })).rejects.toThrow(/increasing/);
    pm.dispose(); model.dispose(); data.dispose();
  });
});
