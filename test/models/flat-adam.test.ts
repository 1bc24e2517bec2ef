import type * as TF from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { buildModel } from '../../src/models/families.js';
import { FlatAdam } from '../../src/models/flat-adam.js';
import { lossOf, targetsOf, taskOf } from '../../src/models/task.js';
import { train } from '../../src/models/train.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { numTensors, smallMnist } from '../helpers.js';

// -0 read as 0: a pruned weight is 0 either way (a re-mask of a negative weight gives -0, a scatter +0).
const weightsOf = (m: TF.LayersModel) => m.weights.map((w) => Array.from(w.read().dataSync(), (v) => v + 0));

describe('FlatAdam', () => {
  it.each([
    ['half the first kernel pruned: updates over the kept weights alone', 6, true],
    ['a thirteenth pruned: the masked full-length update', 1, false],
  ] as const)('updates every weight bit for bit as tf.train.adam with masked gradients and a re-mask per step (%s)', (_, pruned, compact) => {
    const data = smallMnist(10);
    const a = buildModel({ family: 'mlp', inputShape: [784], hidden: [32, 16], numClasses: 10, seed: 3 });
    const b = buildModel({ family: 'mlp', inputShape: [784], hidden: [32, 16], numClasses: 10, seed: 3 });
    const pa = new PrunableModel(a), pb = new PrunableModel(b);
    // Prune a random half of the first kernel in both.
    const keep = Float32Array.from({ length: pa.layers[0].size }, (_, i) => ((i * 7919) % 13 < pruned ? 0 : 1));
    pa.setMaskArrays([keep, ...pa.maskArrays().slice(1)]);
    pb.setMaskArrays([keep, ...pb.maskArrays().slice(1)]);
    const task = taskOf(a);
    const y = targetsOf(data.train, task);
    const varsA = a.trainableWeights.map((w) => w.read() as TF.Variable);
    const varsB = b.trainableWeights.map((w) => w.read() as TF.Variable);
    const reference = tf.train.adam(1e-3);
    const flat = new FlatAdam(varsB, 1e-3);
    const mask = tf.tidy(() => flat.flatten(varsB.map((v) => (v.name === pb.layers[0].kernel.name ? pb.mask(0) : tf.onesLike(v)))));
    flat.setMask(mask);
    expect(flat.compact).toBe(compact);
    for (let s = 0; s < 5; s++) {
      // Weights written by someone else between steps (a rollback, a user's callback) are read again.
      if (s === 3) [varsA[0], varsB[0]].forEach((v) => tf.tidy(() => { v.assign(tf.mul(v, 0.5)); }));
      const xb = tf.slice(data.train.x, s * 16, 16), yb = tf.slice(y, s * 16, 16);
      tf.tidy(() => {
        const ga = tf.variableGrads(() => lossOf(a.apply(xb, { training: true }) as TF.Tensor, yb, task), varsA).grads;
        ga[pa.layers[0].kernel.name] = tf.mul(ga[pa.layers[0].kernel.name], pa.mask(0));
        reference.applyGradients(ga as unknown as Parameters<typeof reference.applyGradients>[0]);
        pa.applyMasks();
        const gb = tf.variableGrads(() => lossOf(b.apply(xb, { training: true }) as TF.Tensor, yb, task), varsB).grads;
        flat.step(varsB.map((v) => gb[v.name]));
      });
      tf.dispose([xb, yb]);
    }
    expect(weightsOf(b)).toEqual(weightsOf(a));
    // Pruned weights stayed exactly 0 without a re-mask.
    const k = b.trainableWeights[0].read().dataSync();
    for (let i = 0; i < keep.length; i++) if (keep[i] === 0) expect(Math.abs(k[i])).toBe(0);
    tf.dispose([mask, y]);
    flat.dispose();
    reference.dispose();
    const before = numTensors();
    new FlatAdam(varsB, 1e-3).dispose();
    expect(numTensors()).toBe(before);
    pa.dispose(); pb.dispose(); a.dispose(); b.dispose(); data.dispose();
  });

  it('weights pruned by a schedule event mid-training stay 0 to the end', () => {
    const data = smallMnist(10);
    const m = buildModel({ family: 'mlp', inputShape: [784], hidden: [24], numClasses: 10, seed: 1 });
    const pm = new PrunableModel(m);
    const pruneHalf = () => pm.setMaskArrays(pm.maskArrays().map((mk, l) => (l === 0 ? mk.map((v, i) => (i % 2 ? 0 : v)) : mk)));
    train(m, data.train, { steps: 12, batchSize: 16, prunable: pm, schedule: [{ at: 4, run: pruneHalf }] });
    const k = m.trainableWeights[0].read().dataSync();
    for (let i = 1; i < k.length; i += 2) expect(Math.abs(k[i])).toBe(0);
    expect(k.some((v, i) => i % 2 === 0 && v !== 0)).toBe(true);
    pm.dispose(); m.dispose(); data.dispose();
  });
});
