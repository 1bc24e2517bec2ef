import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { policyKindsWarning } from '../../src/prune-service.js';

describe('a policy trained on other kinds of layers than the model has', () => {
  it('is said in a warning naming the layers it never saw; a policy without the record, or one that saw both kinds, says nothing', () => {
    const model = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, name: 'c1' }),
      tf.layers.flatten({}),
      tf.layers.dense({ units: 3, name: 'out' }),
    ] });
    try {
      expect(policyKindsWarning('weather', ['other'], model)).toBe("policy 'weather' was trained on no convolution, and the model's convolutions ('c1') are scored as it scores the layers it saw: " +
        'retrain it with such models among its --models, or use the default policy for this model');
      expect(policyKindsWarning('convs', ['convolution'], model)).toMatch(/^policy 'convs' was trained on convolutions only, and the model's layers other than convolutions \('out'\)/);
      expect(policyKindsWarning('both', ['convolution', 'other'], model)).toBeUndefined();
      expect(policyKindsWarning('old', undefined, model)).toBeUndefined();
    } finally {
      model.dispose();
    }
  });
});
