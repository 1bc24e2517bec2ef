/**
 * Step sizes: the first step (src/agent/loop.ts firstRate) is the planner's initial rate, halved for a model
 * with recurrent kernels — noted on the step's record; after a rollback the step taken halves, also when it
 * was capped at the target.
 */
import { describe, expect, it } from 'vitest';
import { runAgent } from '../../src/agent/loop.js';
import { tf } from '../../src/backend/tf.js';
import { loadSynthetic } from '../../src/data/synthetic.js';
import { buildModel } from '../../src/models/families.js';
import { FEATURE_SCHEMA } from '../../src/features/schema.js';
import { train } from '../../src/models/train.js';
import type { Scorer } from '../../src/policy/types.js';
import { createScorer } from '../../src/policy/baselines.js';
import { numTensors } from '../helpers.js';

describe('step sizes', () => {
  const data = loadSynthetic({ samples: 300, features: 15, classes: 3, seed: 2 });
  const run = async (model: ReturnType<typeof buildModel>) => {
    const r = await runAgent(model, data, createScorer('global-magnitude'), { target: 0.9, budgetSteps: 40, force: true });
    r.masks.dispose();
    model.dispose();
    return r.steps[0];
  };

  it('is half the initial rate for a model with recurrent kernels, and says why', async () => {
    const before = numTensors();
    const lstm = tf.sequential({ layers: [
      tf.layers.reshape({ inputShape: [15], targetShape: [5, 3] }),
      tf.layers.lstm({ units: 8, name: 'lstm', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), recurrentInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    ] });
    const first = await run(lstm);
    expect(first.toSparsity).toBeCloseTo(0.375, 3);
    expect(first.reason).toMatch(/first step at a rate of 0\.375 of the live weights \(not 0\.75\): recurrent kernels \(lstm\) lose more/);
    expect(numTensors()).toBe(before);
  });

  it('after a rollback, the step taken halves: a step capped at the target is not tried again', async () => {
    const model = buildModel({ family: 'mlp', inputShape: [15], hidden: [32], numClasses: 3, seed: 4 });
    train(model, data.train, { epochs: 8, batchSize: 16 });
    const absW = FEATURE_SCHEMA.names.indexOf('abs_w');
    // The largest weights first: every step breaks the guard.
    const backwards: Scorer = { name: 'backwards', score: (f) => f.layers.map((l) => Float32Array.from(l.columns[absW])) };
    const r = await runAgent(model, data, backwards, { target: 0.5, budgetSteps: 200, magnitudeCheck: false, maxDrop: 0 });
    // The first step is capped at the target (0.75 → 0.5); the next is half of it.
    expect(r.steps[0]).toMatchObject({ toSparsity: 0.5, accepted: false });
    expect(r.steps[1].toSparsity).toBeCloseTo(0.25, 2);
    r.masks.dispose();
    model.dispose();
  });

  it('is the initial rate for a model without', async () => {
    const first = await run(buildModel({ family: 'mlp', inputShape: [15], hidden: [64], numClasses: 3, seed: 1 }));
    expect(first.toSparsity).toBeCloseTo(0.75, 3);
    expect(first.reason ?? '').not.toMatch(/first step/);
    data.dispose();
  });

  it('a budget of one round (too small for a step of the schedule) tries the target with all of it, instead of polishing the dense model', async () => {
    const own = loadSynthetic({ samples: 300, features: 15, classes: 3, seed: 2 });
    const model = buildModel({ family: 'mlp', inputShape: [15], hidden: [32], numClasses: 3, seed: 3 });
    train(model, own.train, { epochs: 10, batchSize: 32 });
    // 240 training rows at batch 4: a round (an epoch) is 60 steps, the whole budget.
    const r = await runAgent(model, own, createScorer('global-magnitude'), { target: 0.5, budgetSteps: 60, batchSize: 4, maxDrop: 20 });
    own.dispose();
    expect(r.steps).toHaveLength(1);
    expect(r.steps[0]).toMatchObject({ fromSparsity: 0, accepted: true });
    expect([r.steps[0].fineTuneSteps, r.totals.fineTuneSteps]).toEqual([60, 60]);
    expect(r.steps[0].reason).toMatch(/^last try at the target with the whole budget left/);
    expect(r.sparsity.global).toBeGreaterThanOrEqual(0.5 - 1e-3);
    expect(r.exitCode).toBe(0);
    r.masks.dispose();
    model.dispose();
  });
});
