import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { loadSynthetic } from '../../src/data/synthetic.js';
import { buildModel } from '../../src/models/families.js';
import { teacherTargets, train } from '../../src/models/train.js';
import { numTensors } from '../helpers.js';

describe('distillation targets', () => {
  it("a teacher's probabilities are distributions, softer at a higher temperature, and none for regression", () => {
    const data = loadSynthetic({ samples: 200, features: 8, classes: 3, seed: 1 });
    const model = buildModel({ family: 'mlp', inputShape: [8], hidden: [16], numClasses: 3, seed: 1 });
    train(model, data.train, { epochs: 5, batchSize: 32 });
    const before = numTensors();
    const t1 = teacherTargets(model, data.train.x, 1)!;
    const t4 = teacherTargets(model, data.train.x, 4)!;
    expect(numTensors()).toBe(before + 2);
    const p1 = t1.arraySync() as number[][];
    const p4 = t4.arraySync() as number[][];
    expect(t1.shape).toEqual([data.train.labels.length, 3]);
    for (const row of [...p1, ...p4]) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // Softening keeps the ranking and lowers the top probability.
    for (let i = 0; i < p1.length; i++) {
      expect(p4[i].indexOf(Math.max(...p4[i]))).toBe(p1[i].indexOf(Math.max(...p1[i])));
      expect(Math.max(...p4[i])).toBeLessThanOrEqual(Math.max(...p1[i]) + 1e-6);
    }
    tf.dispose([t1, t4]);
    const reg = tf.sequential({ layers: [tf.layers.dense({ inputShape: [8], units: 1 })] });
    reg.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
    expect(teacherTargets(reg, data.train.x, 4)).toBeUndefined();
    reg.dispose();
    model.dispose();
    data.dispose();
  });

  it('labels as the teacher give the same training as no teacher, bit for bit; a teacher of the wrong shape is refused', () => {
    const before = numTensors();
    const data = loadSynthetic({ samples: 200, features: 8, classes: 3, seed: 2 });
    const run = (soft?: { probs: ReturnType<typeof tf.oneHot>; weight: number }) => {
      const model = buildModel({ family: 'mlp', inputShape: [8], hidden: [16], numClasses: 3, seed: 2 });
      try {
        train(model, data.train, { epochs: 3, batchSize: 32, seed: 3, softTargets: soft });
        return model.getWeights().map((t) => Array.from(t.dataSync()));
      } finally {
        model.dispose();
      }
    };
    const onehot = tf.tidy(() => tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3));
    // 0.5·y + 0.5·y is exactly y for 0/1 labels.
    const plain = run();
    const probs = onehot.toFloat() as ReturnType<typeof tf.oneHot>;
    expect(run({ probs, weight: 0.5 })).toEqual(plain);
    const wrong = tf.ones([5, 3]) as ReturnType<typeof tf.oneHot>;
    expect(() => run({ probs: wrong, weight: 0.5 })).toThrow(/soft targets of shape \[5, 3\] do not fit targets of shape \[\d+, 3\]/);
    tf.dispose([onehot, probs, wrong]);
    data.dispose();
    expect(numTensors()).toBe(before);
  });
});
