/**
 * The first step's size (src/agent/loop.ts firstRate): the planner's initial rate, halved for a model with
 * recurrent kernels — noted on the step's record.
 */
import { describe, expect, it } from 'vitest';
import { runAgent } from '../../src/agent/loop.js';
import { tf } from '../../src/backend/tf.js';
import { loadSynthetic } from '../../src/data/synthetic.js';
import { buildModel } from '../../src/models/families.js';
import { createScorer } from '../../src/policy/baselines.js';
import { numTensors } from '../helpers.js';

describe('the first step', () => {
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

  it('is the initial rate for a model without', async () => {
    const first = await run(buildModel({ family: 'mlp', inputShape: [15], hidden: [64], numClasses: 3, seed: 1 }));
    expect(first.toSparsity).toBeCloseTo(0.75, 3);
    expect(first.reason ?? '').not.toMatch(/first step/);
    data.dispose();
  });
});
