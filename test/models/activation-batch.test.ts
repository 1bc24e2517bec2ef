import type * as TF from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { ACTIVATION_BUDGET_FLOATS, activationBatch, activationsPerSample } from '../../src/models/activation-batch.js';
import { predict } from '../../src/models/train.js';
import { numTensors } from '../helpers.js';

describe('activation-aware batches', () => {
  it('count every layer\'s output per row (nested models included) and bound a batch\'s activations, keeping small models\' batches', () => {
    const mlp = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 300, activation: 'relu' }), tf.layers.dense({ units: 10 })] });
    expect(activationsPerSample(mlp)).toBe(310);
    expect(activationBatch(mlp, 1000)).toBe(1000);
    // A conv stem on 128×128×3 images inside a nested backbone: 64·64·32 + 64·64·32 floats per row before the head.
    const backbone = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [128, 128, 3], filters: 32, kernelSize: 3, strides: 2, padding: 'same' }),
      tf.layers.reLU(),
    ] });
    const outer = tf.sequential({ layers: [backbone, tf.layers.globalAveragePooling2d({}), tf.layers.dense({ units: 10 })] });
    const perRow = 2 * 64 * 64 * 32 + 32 + 10;
    expect(activationsPerSample(outer)).toBe(perRow);
    expect(activationBatch(outer, 1000)).toBe(Math.floor(ACTIVATION_BUDGET_FLOATS / perRow));
    expect(activationBatch(outer, 1000, 3)).toBe(Math.floor(ACTIVATION_BUDGET_FLOATS / (3 * perRow)));
    expect(activationBatch(outer, 4, 1, 1)).toBe(1); // never below one row
    mlp.dispose();
    outer.dispose();
  });

  it('count a shared layer\'s outputs once per call (it has no single output shape)', () => {
    const a = tf.input({ shape: [4] });
    const b = tf.input({ shape: [4] });
    const repeat = tf.layers.repeatVector({ n: 1000, name: 'rv' });
    const flat = tf.layers.flatten();
    const merged = tf.layers.concatenate().apply([flat.apply(repeat.apply(a)), flat.apply(repeat.apply(b))] as TF.SymbolicTensor[]) as TF.SymbolicTensor;
    const model = tf.model({ inputs: [a, b], outputs: tf.layers.dense({ units: 2 }).apply(merged) as TF.SymbolicTensor });
    // Inputs 4 + 4, RepeatVector 4,000 per call (two calls), Flatten 4,000 per call, the concatenation 8,000, Dense 2.
    expect(activationsPerSample(model)).toBe(8 + 2 * 4000 + 2 * 4000 + 8000 + 2);
    model.dispose();
  });

  it('predict in smaller batches gives the same outputs (to float rounding: kernels block by batch size) and frees each batch\'s intermediates', () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [6], units: 8, activation: 'relu' }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
    const x = tf.randomNormal([50, 6], 0, 1, 'float32', 3);
    const before = numTensors();
    const whole = predict(model, x);
    const batched = predict(model, x, 7);
    expect(batched.shape).toEqual([50, 3]);
    const a = whole.dataSync(), b = batched.dataSync();
    expect(Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])))).toBeLessThan(1e-6);
    tf.dispose([whole, batched]);
    expect(numTensors()).toBe(before);
    x.dispose();
    model.dispose();
  });
});
