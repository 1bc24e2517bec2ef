import type * as TF from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { batchNormLayers, recalibrateBatchNorm } from '../../src/models/batchnorm.js';
import { numTensors } from '../helpers.js';

describe('BatchNormalization recalibration', () => {
  it('sets the moving statistics to those of the inputs given, in nested models too, and puts the momenta back', () => {
    const inner = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [3], units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }), name: 'inner_dense' }),
      tf.layers.batchNormalization({ name: 'inner_bn', momentum: 0.9 }),
    ] });
    const input = tf.input({ shape: [4] });
    const d = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), name: 'dense' }).apply(input) as TF.SymbolicTensor;
    const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(d) as TF.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: inner.apply(bn) as TF.SymbolicTensor });
    const layers = batchNormLayers(model);
    expect(layers.map((l) => l.name)).toEqual(['bn', 'inner_bn']);
    const x = tf.add(tf.mul(tf.randomNormal([512, 4], 0, 1, 'float32', 3), 2), 5);
    const before = numTensors();
    recalibrateBatchNorm(model, x, 256);
    expect(numTensors()).toBe(before);
    // The first layer's statistics: those of the Dense layer's outputs over all 512 rows (two equal batches).
    const h = model.getLayer('dense').apply(x) as TF.Tensor;
    const { mean, variance } = tf.moments(h, 0);
    const [movingMean, movingVar] = (model.getLayer('bn') as unknown as { getWeights(): TF.Tensor[] }).getWeights().slice(2);
    expect(Array.from(movingMean.dataSync()).map((v, i) => v - mean.dataSync()[i]).every((e) => Math.abs(e) < 1e-4)).toBe(true);
    // The mean of the two batches' variances: close to the variance over all rows.
    Array.from(movingVar.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(variance.dataSync()[i], 0));
    // The nested layer's moving variance moved off its initial ones; the momenta are as before.
    const innerVar = (inner.getLayer('inner_bn') as unknown as { getWeights(): TF.Tensor[] }).getWeights()[3];
    expect(Math.max(...Array.from(innerVar.dataSync()).map((v) => Math.abs(v - 1)))).toBeGreaterThan(1e-2);
    expect(layers.map((l) => (l as unknown as { momentum: number }).momentum)).toEqual([0.99, 0.9]);
    tf.dispose([x, h, mean, variance]);
    model.dispose();
  });

  it('is a no-op without BatchNormalization', () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
    const x = tf.ones([4, 2]);
    const w = model.getWeights().map((t) => Array.from(t.dataSync()));
    recalibrateBatchNorm(model, x);
    expect(model.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(w);
    x.dispose();
    model.dispose();
  });
});
