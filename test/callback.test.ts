import { describe, expect, it } from 'vitest';
import type { Scalar, Tensor } from '@tensorflow/tfjs';
import { tf } from '../src/backend/tf.js';
import { PruningCallback, pruneOnce, scheduledSparsity } from '../src/index.js';
import { loadSynthetic } from '../src/data/synthetic.js';
import { numTensors } from './helpers.js';

function userModel() {
  const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }) });
  const m = tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [20], units: 48, activation: 'tanh', ...init(1) }),
    tf.layers.dense({ units: 24, activation: 'tanh', ...init(2) }),
    tf.layers.dense({ units: 3, activation: 'softmax', ...init(3) }),
  ] });
  // The user's own optimizer: SGD with momentum, not autoprune's Adam.
  m.compile({ optimizer: tf.train.momentum(0.05, 0.9), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

const kernels = (m: ReturnType<typeof userModel>) => m.layers.map((l) => l.getWeights()[0].dataSync());

describe('pruning inside the user\'s training', () => {
  it('the cubic schedule starts at the initial sparsity, is steepest first and ends at the target', () => {
    const o = { initial: 0.1, target: 0.9, beginStep: 10, endStep: 110 };
    expect(scheduledSparsity(0, o)).toBe(0.1);
    expect(scheduledSparsity(110, o)).toBe(0.9);
    expect(scheduledSparsity(500, o)).toBe(0.9);
    const a = scheduledSparsity(35, o) - scheduledSparsity(10, o);
    const b = scheduledSparsity(110, o) - scheduledSparsity(85, o);
    expect(a).toBeGreaterThan(5 * b);
  });

  it('a callback in the user\'s model.fit (own optimizer, own loop) reaches the target with pruned weights exactly 0, and strip() frees everything', async () => {
    const data = loadSynthetic({ samples: 900, features: 20, classes: 3, seed: 4 });
    const model = userModel();
    const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3).toFloat();
    const before = numTensors();
    const pruner = new PruningCallback(model, { target: 0.8, calibration: { x: data.train.x, y }, policy: 'default' });
    const h = await model.fit(data.train.x, y, { epochs: 6, batchSize: 32, callbacks: [pruner], verbose: 0 });
    // The target at two thirds of the fit's optimizer steps, then fine-tuning at it.
    const steps = 6 * Math.ceil(data.train.labels.length / 32);
    expect(pruner.history.at(-1)!.step).toBe(Math.round((2 / 3) * steps));
    expect(pruner.history.length).toBeGreaterThanOrEqual(8);
    for (let i = 1; i < pruner.history.length; i++) expect(pruner.history[i].sparsity).toBeGreaterThan(pruner.history[i - 1].sparsity);
    expect(pruner.sparsity().global).toBeCloseTo(0.8, 3);
    const masks = pruner.masks.maskArrays();
    const stripped = pruner.strip();
    expect(stripped).toBe(model);
    const ks = kernels(model);
    let zeros = 0;
    masks.forEach((m, i) => m.forEach((v, j) => { if (v === 0) { expect(ks[i][j] === 0).toBe(true); zeros++; } }));
    expect(zeros).toBeGreaterThan(0.79 * masks.reduce((a, m) => a + m.length, 0));
    // It trained: the last epoch's loss is below the first.
    expect(Number(h.history.loss.at(-1))).toBeLessThan(Number(h.history.loss[0]));
    // Nothing of autoprune's is left; the user's optimizer holds its own state until they free it.
    model.optimizer.dispose();
    expect(numTensors()).toBe(before);
    y.dispose();
    model.dispose();
    data.dispose();
  });

  it('pruneOnce + applyMasks in a custom loop keeps the pruned weights at 0', () => {
    const data = loadSynthetic({ samples: 300, features: 20, classes: 3, seed: 5 });
    const model = userModel();
    const pm = pruneOnce(model, { target: 0.5, calibration: data.train, policy: 'lamp' });
    expect(pm.sparsity().global).toBeCloseTo(0.5, 3);
    const opt = tf.train.sgd(0.1);
    const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3).toFloat();
    for (let i = 0; i < 3; i++) {
      opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.predict(data.train.x) as Tensor) as Scalar);
      pm.applyMasks();
    }
    const m = pm.maskArrays();
    kernels(model).forEach((k, i) => k.forEach((v, j) => { if (m[i][j] === 0) expect(v === 0).toBe(true); }));
    pm.dispose();
    opt.dispose();
    y.dispose();
    model.dispose();
    data.dispose();
  });

  it('refuses a bad target or schedule in one line', () => {
    const data = loadSynthetic({ samples: 120, features: 20, classes: 3, seed: 6 });
    const model = userModel();
    expect(() => new PruningCallback(model, { target: 1.2, calibration: data.train })).toThrow(/target must be a number strictly between 0 and 1/);
    expect(() => new PruningCallback(model, { target: 0.5, calibration: data.train, frequency: 0 })).toThrow(/frequency must be a whole number ≥ 1/);
    model.dispose();
    data.dispose();
  });
});
