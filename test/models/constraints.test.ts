import type * as TF from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { loadSynthetic } from '../../src/data/synthetic.js';
import { lossOf, targetsOf, taskOf } from '../../src/models/task.js';
import { train } from '../../src/models/train.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { numTensors } from '../helpers.js';

/** An MLP whose hidden layer is max-norm (1) and non-negative constrained in turn, with an L2 regularizer on the first. */
function constrainedModel(seed: number): TF.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: s });
  return tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [12], units: 16, activation: 'relu', name: 'd1', kernelInitializer: init(seed), kernelConstraint: tf.constraints.maxNorm({ maxValue: 1, axis: 0 }), kernelRegularizer: tf.regularizers.l2({ l2: 0.01 }) }),
    tf.layers.dense({ units: 8, activation: 'relu', name: 'd2', kernelInitializer: init(seed + 1), kernelConstraint: tf.constraints.nonNeg() }),
    tf.layers.dense({ units: 3, activation: 'softmax', name: 'out', kernelInitializer: init(seed + 2) }),
  ] });
}

describe('fine-tuning a model with constraints and regularizers', () => {
  it('keeps every kernel constraint after the updates (as Keras applies them), pruned weights at 0', () => {
    const data = loadSynthetic({ samples: 200, features: 12, classes: 3, seed: 3 });
    const model = constrainedModel(1);
    const pm = new PrunableModel(model);
    // Half of d1 pruned (every other weight).
    pm.setMask(0, tf.tensor2d(Array.from({ length: 12 * 16 }, (_, i) => i % 2), [12, 16]));
    const before = numTensors();
    const r = train(model, data.train, { steps: 40, batchSize: 16, learningRate: 0.05, prunable: pm, seed: 2 });
    expect(numTensors()).toBe(before);
    const [k1, k2] = [model.getLayer('d1'), model.getLayer('d2')].map((l) => l.getWeights()[0].arraySync() as number[][]);
    // maxNorm(1) over each unit's incoming weights (axis 0): no column longer than 1.
    const norms = k1[0].map((_, u) => Math.hypot(...k1.map((row) => row[u])));
    expect(Math.max(...norms)).toBeLessThanOrEqual(1 + 1e-5);
    expect(Math.max(...norms)).toBeGreaterThan(0.5); // the constraint bound, not a collapse to 0
    expect(Math.min(...k2.flat())).toBeGreaterThanOrEqual(0);
    expect(k1.flat().filter((_, i) => i % 2 === 0).every((v) => v === 0)).toBe(true);
    expect(Number.isFinite(r.finalLoss)).toBe(true);
    pm.dispose();
    model.dispose();
    data.dispose();
  });

  it('trains on the loss plus the layers\' regularization terms (as tfjs\'s fit and Keras do)', () => {
    const data = loadSynthetic({ samples: 200, features: 12, classes: 3, seed: 3 });
    const model = constrainedModel(1);
    const rows = data.train.labels.length;
    const k1 = model.getLayer('d1').getWeights()[0].arraySync() as number[][];
    const l2 = 0.01 * k1.flat().reduce((a, v) => a + v * v, 0);
    const dataLoss = tf.tidy(() => lossOf(model.predict(data.train.x) as TF.Tensor, targetsOf(data.train, taskOf(model)), taskOf(model)).dataSync()[0]);
    // One step over every row at a negligible rate: the round's loss is the loss at the starting weights.
    const r = train(model, data.train, { steps: 1, batchSize: rows, learningRate: 1e-12, seed: 2 });
    expect(r.finalLoss).toBeCloseTo(dataLoss + l2, 5);
    expect(l2).toBeGreaterThan(1e-3);
    model.dispose();
    data.dispose();
  });

  it('without constraints, a large learning rate breaks them: the test above is not vacuous', () => {
    const data = loadSynthetic({ samples: 200, features: 12, classes: 3, seed: 3 });
    const model = constrainedModel(1);
    const free = tf.sequential({ layers: model.layers.map((l) => tf.layers.dense({ ...(l.getConfig() as object), kernelConstraint: undefined, kernelRegularizer: undefined } as never)) });
    free.setWeights(model.getWeights());
    train(free, data.train, { steps: 40, batchSize: 16, learningRate: 0.05, seed: 2 });
    const k1 = free.layers[0].getWeights()[0].arraySync() as number[][];
    const k2 = free.layers[1].getWeights()[0].arraySync() as number[][];
    const norms = k1[0].map((_, u) => Math.hypot(...k1.map((row) => row[u])));
    expect(Math.max(...norms) > 1 + 1e-3 || Math.min(...k2.flat()) < 0).toBe(true);
    free.dispose();
    model.dispose();
    data.dispose();
  });
});
