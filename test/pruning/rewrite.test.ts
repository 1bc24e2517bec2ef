import type * as TF from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { compactPruned } from '../../src/cli/compact.js';
import { buildModel, LENET_5 } from '../../src/models/families.js';
import { loadModel, saveModel } from '../../src/models/io.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { rewriteForSpeed } from '../../src/pruning/rewrite.js';
import { Rng } from '../../src/util/random.js';
import { numTensors, tempDir } from '../helpers.js';

const L = tf.layers;

function maxDiff(a: TF.LayersModel, b: TF.LayersModel, shape: number[], seed: number): number {
  return tf.tidy(() => {
    const x = tf.randomUniform([16, ...shape], -1, 1, 'float32', seed);
    return tf.max(tf.abs(tf.sub(a.predict(x) as TF.Tensor, b.predict(x) as TF.Tensor))).dataSync()[0];
  });
}

/** Random non-zero biases (fresh models have zero ones, which would hide a bias laid out wrong). */
function randomBiases(model: TF.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const w of model.weights) {
    if (!/bias/.test(w.originalName ?? w.name)) continue;
    const v = w.read();
    const t = tf.tensor(Float32Array.from({ length: v.size }, () => rng.next() - 0.5), v.shape);
    w.write(t);
    t.dispose();
  }
}

describe('rewriteForSpeed', () => {
  it('rewrites a one-filter conv and its 2×2 max pool as a stride-2 conv of 4 shifted filters: same outputs, its MACs reported', () => {
    const model = tf.sequential({ layers: [
      L.conv2d({ inputShape: [28, 28, 1], filters: 1, kernelSize: 5, activation: 'relu', name: 'c1' }), L.maxPooling2d({ poolSize: 2, name: 'p1' }),
      L.conv2d({ filters: 6, kernelSize: 5, activation: 'relu', name: 'c2' }), L.maxPooling2d({ poolSize: 2, name: 'p2' }), L.flatten({ name: 'f' }),
      L.dense({ units: 10, activation: 'softmax', name: 'out' })] });
    randomBiases(model, 1);
    const before = numTensors();
    const r = rewriteForSpeed(model);
    expect(r.rewrites).toEqual([{ kind: 'phase-conv', layers: ['c1', 'p1'], macsBefore: 25 * 24 * 24, macsAfter: 36 * 4 * 12 * 12 }]);
    // The convolution keeps its name (now 6×6, 4 filters, stride 2) and the last layer of the max takes the pool's.
    const c1 = r.model.getLayer('c1').getConfig() as { filters: number; kernelSize: number[]; strides: number[] };
    expect([c1.filters, c1.kernelSize, c1.strides]).toEqual([4, [6, 6], [2, 2]]);
    expect(r.model.getLayer('p1').getClassName()).toBe('Reshape');
    expect(r.model.getLayer('c2').getWeights()[0].shape).toEqual([5, 5, 1, 6]);
    expect(maxDiff(model, r.model, [28, 28, 1], 3)).toBeLessThan(1e-5);
    // What the rewritten model runs, counted like any model: the phase conv's MACs included.
    const count = (m: TF.LayersModel) => { const pm = new PrunableModel(m); const v = pm.layers.reduce((a, l) => a + l.size * l.macsPerWeight, 0); pm.dispose(); return v; };
    expect(count(r.model) - count(model)).toBe(36 * 4 * 12 * 12 - 25 * 24 * 24);
    r.model.dispose();
    expect(numTensors()).toBe(before);
    model.dispose();
  });

  it('rewrites one-channel pools (max and average, cropped to the pool) inside nested models and functional graphs; leaves the rest', () => {
    const input = tf.input({ shape: [27, 27, 2] });
    // swish is not non-decreasing: its pool is rewritten alone, the conv is kept.
    const c = L.conv2d({ filters: 1, kernelSize: 3, activation: 'swish', name: 'c1' }).apply(input) as TF.SymbolicTensor;
    const p = L.averagePooling2d({ poolSize: 2, name: 'p1' }).apply(c) as TF.SymbolicTensor;
    const inner = tf.sequential({ name: 'inner', layers: [
      L.conv2d({ inputShape: [12, 12, 1], filters: 1, kernelSize: 3, activation: 'tanh', name: 'ic' }), L.maxPooling2d({ poolSize: 2, name: 'ip' }), L.flatten({ name: 'if' })] });
    const q = inner.apply(p) as TF.SymbolicTensor;
    // Two channels: nothing to rewrite.
    const w = L.conv2d({ filters: 2, kernelSize: 3, name: 'wide' }).apply(input) as TF.SymbolicTensor;
    const wp = L.flatten({ name: 'wf' }).apply(L.maxPooling2d({ poolSize: 2, name: 'wp' }).apply(w)) as TF.SymbolicTensor;
    const f = L.flatten({ name: 'f' }).apply(p) as TF.SymbolicTensor;
    const out = L.dense({ units: 3, name: 'd' }).apply(L.concatenate({ name: 'cat' }).apply([f, q, wp])) as TF.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    randomBiases(model, 2);
    const r = rewriteForSpeed(model);
    expect(r.rewrites.map((x) => [x.kind, x.layers])).toEqual([
      ['phase-conv', ['inner/ic', 'inner/ip']],
      ['one-channel-pool', ['p1']],
    ]);
    expect(r.model.getLayer('c1').getClassName()).toBe('Conv2D');
    expect(r.model.getLayer('p1_crop').getClassName()).toBe('Cropping2D');
    expect(r.model.getLayer('wp').getClassName()).toBe('MaxPooling2D');
    expect(maxDiff(model, r.model, [27, 27, 2], 4)).toBeLessThan(1e-5);
    r.model.dispose();
    model.dispose();
  });

  it('gives the model back untouched when no map has one channel', () => {
    const model = buildModel({ ...LENET_5, seed: 0 });
    const r = rewriteForSpeed(model);
    expect(r.rewrites).toEqual([]);
    expect(r.model).toBe(model);
    model.dispose();
  });

  it('compact writes the rewritten model (it loads and matches the masked one); --no-rewrite keeps it layer for layer', async () => {
    const dir = tempDir();
    const model = buildModel({ ...LENET_5, seed: 0 });
    // conv_1 pruned to one filter: compaction leaves one channel before pool_1.
    const conv = model.layers.find((l) => l.getClassName() === 'Conv2D')!;
    const [k, b] = conv.getWeights();
    const keep = tf.tensor1d(Array.from({ length: 20 }, (_, i) => (i === 3 ? 1 : 0)));
    conv.setWeights([tf.mul(k, keep), tf.add(tf.mul(b, keep), tf.mul(tf.sub(1, keep), -1))]);
    await saveModel(model, `${dir}/pruned`);
    const on = await compactPruned(`${dir}/pruned`, { out: `${dir}/on` });
    expect(on.rewrites.map((w) => w.layers)).toEqual([['conv_1', 'pool_1']]);
    expect(on.maxAbsDiff.compact).toBeLessThan(1e-5);
    expect(on.compute.compact).toBe((await compactPruned(`${dir}/pruned`, { out: `${dir}/off`, rewrite: false })).compute.compact + 36 * 4 * 144 - 25 * 576);
    const written = await loadModel(`${dir}/on/compact/model.json`);
    expect(maxDiff(model, written, [28, 28, 1], 5)).toBeLessThan(1e-4);
    const plain = await loadModel(`${dir}/off/compact/model.json`);
    expect(plain.getLayer('pool_1').getClassName()).toBe('MaxPooling2D');
    for (const m of [model, written, plain]) m.dispose();
  });
});
