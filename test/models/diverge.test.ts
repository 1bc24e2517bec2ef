import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { DataError } from '../../src/errors.js';
import { buildModel } from '../../src/models/families.js';
import { trainAsync } from '../../src/models/train.js';
import { numTensors } from '../helpers.js';

describe('training that diverges', () => {
  it('stops with a DataError naming the loss and the largest input, instead of fine-tuning NaN weights', async () => {
    const model = buildModel({ family: 'mlp', inputShape: [3], hidden: [4], numClasses: 2, seed: 1 });
    // One row near float32's largest value: finite, but the layer's sums overflow, and the loss is NaN from the first step.
    const x = tf.tensor2d([[0.1, 0.2, 0.3], [3e38, -3e38, 3e38], [0.3, 0.1, 0.2], [0.2, 0.2, 0.2]]);
    const before = numTensors();
    const run = trainAsync(model, { x, labels: Int32Array.from([0, 1, 0, 1]) }, { epochs: 2, batchSize: 4, seed: 0 });
    await expect(run).rejects.toThrow(DataError);
    await expect(trainAsync(model, { x, labels: Int32Array.from([0, 1, 0, 1]) }, { epochs: 1, batchSize: 4, seed: 0 }))
      .rejects.toThrow(/fine-tuning diverged: the training loss became NaN after 1 optimizer steps; the largest input is \|x\| = 3\.00e\+38/);
    expect(numTensors()).toBe(before);
    x.dispose();
    model.dispose();
  });
});
