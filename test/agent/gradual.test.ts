import { describe, expect, it } from 'vitest';
import { clearlyLower, gradualLevels, RESCORE_MAX_WEIGHTS, runAgent } from '../../src/agent/loop.js';
import { loadSynthetic } from '../../src/data/synthetic.js';
import { buildModel } from '../../src/models/families.js';
import { train, trainAsync } from '../../src/models/train.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { createScorer } from '../../src/policy/baselines.js';
import { FEATURE_SCHEMA } from '../../src/features/schema.js';
import type { Scorer } from '../../src/policy/types.js';
import { numTensors } from '../helpers.js';

describe('gradual pruning inside a step', () => {
  it('levels follow the cubic schedule: large increments first, ending exactly at the step target', () => {
    const l = gradualLevels(0.2, 0.8, 4);
    expect(l).toHaveLength(4);
    expect(l[0]).toBeCloseTo(0.2 + 0.6 * (1 - 0.75 ** 3), 12);
    expect(l[3]).toBe(0.8);
    for (let j = 1; j < l.length; j++) {
      expect(l[j]).toBeGreaterThan(l[j - 1]);
      if (j > 1) expect(l[j] - l[j - 1]).toBeLessThan(l[j - 1] - (j > 1 ? l[j - 2] : 0.2));
    }
    expect(gradualLevels(0.1, 0.5, 1)).toEqual([0.5]);
  });

  it('trainAsync runs scheduled prunes before the given steps, enforces the new masks, and judges only rounds after the last', async () => {
    const data = loadSynthetic({ samples: 300, features: 10, classes: 3, seed: 3 });
    const model = buildModel({ family: 'mlp', inputShape: [10], hidden: [16], numClasses: 3, seed: 3 });
    const pm = new PrunableModel(model);
    const before = numTensors();
    const seen: number[] = [];
    let step = 0;
    const cut = (k: number) => () => {
      seen.push(step);
      const m = new Float32Array(pm.layers[0].size).fill(1);
      m.fill(0, 0, k);
      pm.setMaskArrays([m, new Float32Array(pm.layers[1].size).fill(1)]);
    };
    const judged: (boolean | undefined)[] = [];
    const r = await trainAsync(model, data.train, {
      steps: 24, batchSize: 16, roundSteps: 4, prunable: pm, val: data.val, patience: 1,
      schedule: [{ at: 0, run: cut(40) }, { at: 10, run: cut(100) }],
      onEpoch: (e) => { judged.push(e.improved); step = 4 * (e.epoch + 1); },
    });
    // The events ran before the first step and after round 2 (steps 8–11 are round 3; at = 10 runs in it).
    expect(seen).toEqual([0, 8]);
    // Rounds ending before the last event are not judged; the first judged round is a gain.
    expect(judged.slice(0, 2)).toEqual([undefined, undefined]);
    expect(judged[2]).toBe(true);
    expect(r.stepsRun).toBeGreaterThanOrEqual(12);
    const w = pm.layers[0].kernel.dataSync();
    for (let j = 0; j < 100; j++) expect(w[j] === 0).toBe(true);
    expect(pm.sparsity().pruned).toBe(100);
    expect(numTensors()).toBe(before);
    pm.dispose();
    model.dispose();
    data.dispose();
  });
});

describe('guard reference', () => {
  it('is never above the dense model: an undertrained model, which fine-tuning alone improves, is judged against itself', async () => {
    const data = loadSynthetic({ samples: 900, features: 20, classes: 3, seed: 0 });
    const model = buildModel({ family: 'mlp', inputShape: [20], hidden: [64, 32], numClasses: 3, seed: 0 });
    train(model, data.train, { epochs: 1, batchSize: 32 });
    const r = await runAgent(model, data, createScorer('global-magnitude'), { target: 0.5, budgetEpochs: 6 });
    expect(r.guard.controlValAccuracy).toBeLessThanOrEqual(r.denseValAccuracy);
    expect(r.guard.reference).toBe('dense');
    expect(r.guard.controlValAccuracy).toBe(r.denseValAccuracy);
    // Every attempt prunes its connections in 4 re-scored increments (a small model: rescore resolves to true).
    expect(r.totals.scoringPasses).toBe(4 * r.steps.length);
    expect(r.totals.rescored).toBe(true);
    r.masks.dispose();
    model.dispose();
    data.dispose();
  });

  it('without re-scoring (the default from RESCORE_MAX_WEIGHTS prunable weights on) a step takes one scoring pass', async () => {
    expect(RESCORE_MAX_WEIGHTS).toBe(1_000_000);
    const data = loadSynthetic({ samples: 300, features: 20, classes: 3, seed: 1 });
    const model = buildModel({ family: 'mlp', inputShape: [20], hidden: [32], numClasses: 3, seed: 1 });
    train(model, data.train, { epochs: 2, batchSize: 32 });
    const r = await runAgent(model, data, createScorer('global-magnitude'), { target: 0.5, budgetSteps: 60, rescore: false, force: true });
    expect(r.totals.rescored).toBe(false);
    expect(r.totals.scoringPasses).toBe(r.steps.length);
    r.masks.dispose();
    model.dispose();
    data.dispose();
  });

  it('clearlyLower: paired values lower by more than GUARD_Z standard errors, not by noise', () => {
    const b = Float32Array.from({ length: 200 }, (_, i) => 1 + 0.1 * Math.sin(i));
    expect(clearlyLower(b.map((v) => v - 0.05), b)).toBe(true);
    expect(clearlyLower(b, b)).toBe(false);
    expect(clearlyLower(b.map((v) => v + 0.05), b)).toBe(false);
    // A mean gain of 0.001 under row-to-row noise of ±0.5 is not clear.
    expect(clearlyLower(b.map((v, i) => v - 0.001 + (i % 2 ? 0.5 : -0.5)), b)).toBe(false);
    expect(clearlyLower(new Float32Array([0]), new Float32Array([1]))).toBe(false);
  });

  it('each pass prunes by plain magnitude instead of the policy when magnitude leaves clearly lower losses right after pruning', async () => {
    const data = loadSynthetic({ samples: 600, features: 12, classes: 3, seed: 1 });
    const absW = FEATURE_SCHEMA.names.indexOf('abs_w');
    // A policy that gets it backwards: the largest weights first.
    const backwards: Scorer = { name: 'backwards', score: (f) => f.layers.map((l) => Float32Array.from(l.columns[absW])) };
    const run = async (scorer: Scorer, magnitudeCheck: boolean, rescore?: boolean) => {
      const model = buildModel({ family: 'mlp', inputShape: [12], hidden: [32], numClasses: 3, seed: 1 });
      train(model, data.train, { epochs: 4, batchSize: 32 });
      const r = await runAgent(model, data, scorer, { target: 0.6, budgetEpochs: 3, force: true, magnitudeCheck, rescore });
      r.masks.dispose();
      model.dispose();
      return r;
    };
    const checked = await run(backwards, true);
    expect(checked.totals.criteria).toEqual({ policy: 0, magnitude: checked.totals.scoringPasses });
    const unchecked = await run(backwards, false);
    // Unchecked, every pass is the policy's: the criteria always add up to the scoring passes.
    expect(unchecked.totals.criteria).toEqual({ policy: unchecked.totals.scoringPasses, magnitude: 0 });
    expect(checked.valAccuracy).toBeGreaterThan(unchecked.valAccuracy);
    // With one scoring pass per step (large models), the step's first increment checks and the later ones follow
    // its choice: magnitude all the way, one check per pass.
    const once = await run(backwards, true, false);
    expect(once.totals.rescored).toBe(false);
    expect(once.totals.criteria).toEqual({ policy: 0, magnitude: once.totals.scoringPasses });
    expect(once.totals.scoringPasses).toBe(once.steps.length);
    expect(once.valAccuracy).toBeGreaterThan(unchecked.valAccuracy);
    // Magnitude itself needs no check: its passes are the policy's own.
    const plain = await run(createScorer('global-magnitude'), true);
    expect(plain.totals.criteria).toEqual({ policy: plain.totals.scoringPasses, magnitude: 0 });
    expect(plain.totals.scoringPasses).toBeGreaterThan(0);
    data.dispose();
  });

  it('allocationCheck (an option, off by default): a policy with a good order inside layers and a bad allocation gets LAMP\'s allocation', async () => {
    const data = loadSynthetic({ samples: 600, features: 12, classes: 3, seed: 1 });
    const pct = FEATURE_SCHEMA.names.indexOf('abs_w_pct_layer');
    // Smallest weights first inside each layer (magnitude's order), but the whole first layer before any other.
    const lopsided: Scorer = { name: 'lopsided', score: (f) => f.layers.map((l) => Float32Array.from(l.columns[pct], (p) => (l.layer === 0 ? 2 : 0) + 1 - p)) };
    const run = async (allocationCheck: boolean) => {
      const model = buildModel({ family: 'mlp', inputShape: [12], hidden: [32, 32], numClasses: 3, seed: 1 });
      train(model, data.train, { epochs: 4, batchSize: 32 });
      const r = await runAgent(model, data, lopsided, { target: 0.7, budgetEpochs: 3, force: true, allocationCheck });
      r.masks.dispose();
      model.dispose();
      return r;
    };
    const checked = await run(true);
    expect(checked.totals.criteria.lampAllocation).toBeGreaterThan(0);
    expect(checked.totals.criteria.policy + checked.totals.criteria.magnitude).toBe(checked.totals.scoringPasses);
    const off = await run(false);
    expect(off.totals.criteria.lampAllocation).toBeUndefined();
    data.dispose();
  });
});
