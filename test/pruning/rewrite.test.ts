import type * as TF from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { compactPruned } from '../../src/compact-service.js';
import { buildModel, LENET_5 } from '../../src/models/families.js';
import { loadModel, saveModel } from '../../src/models/io.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { foldableBatchNorms, rewriteForSpeed } from '../../src/pruning/rewrite.js';
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

/** Random batch-norm statistics and affine weights, so that a fold has something to get wrong. */
function randomBatchNorms(model: TF.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  const walk = (layers: TF.layers.Layer[]) => {
    for (const l of layers) {
      if ((l as unknown as { layers?: TF.layers.Layer[] }).layers) walk((l as unknown as { layers: TF.layers.Layer[] }).layers);
      if (l.getClassName() !== 'BatchNormalization') continue;
      l.setWeights(l.getWeights().map((w, i, all) => {
        const variance = i === all.length - 1;
        return tf.tensor(Float32Array.from({ length: w.size }, () => (variance ? 0.2 + rng.next() : rng.next() * 2 - 0.7)), w.shape);
      }));
    }
  };
  walk(model.layers);
}

describe('rewriteForSpeed', () => {
  it('folds batch norms into the conv, depthwise conv or Dense before them and activation layers into their activation: same outputs', () => {
    const input = tf.input({ shape: [10, 10, 3] });
    let h = L.conv2d({ filters: 4, kernelSize: 3, useBias: false, name: 'c' }).apply(input) as TF.SymbolicTensor;
    h = L.batchNormalization({ name: 'c_bn' }).apply(h) as TF.SymbolicTensor;
    h = L.reLU({ name: 'c_relu' }).apply(h) as TF.SymbolicTensor;
    h = L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, name: 'dw' }).apply(h) as TF.SymbolicTensor;
    h = L.batchNormalization({ name: 'dw_bn', center: false }).apply(h) as TF.SymbolicTensor;
    const skip = L.activation({ activation: 'relu6', name: 'dw_relu6' }).apply(h) as TF.SymbolicTensor;
    // Nested: conv → BN → ReLU inside a Sequential used as a layer.
    const inner = tf.sequential({ name: 'inner', layers: [
      L.conv2d({ inputShape: [6, 6, 8], filters: 8, kernelSize: 1, name: 'ic' }), L.batchNormalization({ name: 'ic_bn', scale: false }), L.reLU({ name: 'ic_relu' })] });
    const added = L.add({ name: 'add' }).apply([skip, inner.apply(skip) as TF.SymbolicTensor]) as TF.SymbolicTensor;
    let d = L.dense({ units: 5, name: 'd' }).apply(L.flatten({ name: 'f' }).apply(added)) as TF.SymbolicTensor;
    d = L.batchNormalization({ name: 'd_bn' }).apply(d) as TF.SymbolicTensor;
    d = L.activation({ activation: 'tanh', name: 'd_tanh' }).apply(d) as TF.SymbolicTensor;
    // A batch norm that is the model's output stays (its name is the output's).
    const out = L.batchNormalization({ name: 'out_bn' }).apply(L.dense({ units: 3, name: 'logits' }).apply(d)) as TF.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    randomBiases(model, 5);
    randomBatchNorms(model, 6);
    const before = numTensors();
    // Five batch norms: the output's stays, the other four fold (what the console's serving hint counts).
    expect(foldableBatchNorms(model)).toBe(4);
    expect(numTensors()).toBe(before);
    const r = rewriteForSpeed(model, { batch: 256 });
    expect(r.rewrites.map((w) => [w.kind, w.layers])).toEqual([
      ['fold-batchnorm', ['c', 'c_bn', 'c_relu']],
      ['fold-batchnorm', ['dw', 'dw_bn', 'dw_relu6']],
      // The ReLU is the nested model's output: it stays (the container's output is named by it).
      ['fold-batchnorm', ['inner/ic', 'inner/ic_bn']],
      ['fold-batchnorm', ['d', 'd_bn', 'd_tanh']],
    ]);
    const names = r.model.layers.map((l) => l.name);
    expect(names).not.toContain('c_bn');
    expect(names).toContain('out_bn');
    expect((r.model.getLayer('c').getConfig() as { activation: string; useBias: boolean })).toMatchObject({ activation: 'relu', useBias: true });
    expect((r.model.getLayer('dw').getConfig() as { activation: string }).activation).toBe('relu6');
    expect(maxDiff(model, r.model, [10, 10, 3], 7)).toBeLessThan(1e-4);
    r.model.dispose();
    model.dispose();
  });

  it('folds a batch norm into a Conv2DTranspose before it (its output channels are its kernel\'s third axis): same outputs', () => {
    const model = tf.sequential({ layers: [
      L.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, padding: 'same', name: 'c' }),
      L.conv2dTranspose({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', name: 'up' }),
      L.batchNormalization({ name: 'up_bn' }),
      L.reLU({ name: 'up_relu' }),
      L.flatten({ name: 'f' }),
      L.dense({ units: 2, name: 'out' }),
    ] });
    randomBiases(model, 8);
    randomBatchNorms(model, 9);
    const r = rewriteForSpeed(model, { batch: 32 });
    expect(r.rewrites.map((w) => [w.kind, w.layers])).toEqual([['fold-batchnorm', ['up', 'up_bn', 'up_relu']]]);
    expect(r.model.layers.map((l) => l.name)).not.toContain('up_bn');
    expect(maxDiff(model, r.model, [6, 6, 2], 3)).toBeLessThan(1e-4);
    r.model.dispose();
    model.dispose();
  });

  it('fuses an activation layer alone, and folds a one-filter conv\'s batch norm before rewriting it for its pool', () => {
    const model = tf.sequential({ layers: [
      L.conv2d({ inputShape: [24, 24, 1], filters: 1, kernelSize: 3, useBias: false, name: 'c1' }), L.batchNormalization({ name: 'bn1' }), L.reLU({ name: 'r1' }),
      L.maxPooling2d({ poolSize: 2, name: 'p1' }), L.flatten({ name: 'f' }), L.dense({ units: 4, name: 'd' }), L.activation({ activation: 'elu', name: 'a' }),
      L.dense({ units: 2, name: 'out' })] });
    randomBiases(model, 8);
    randomBatchNorms(model, 9);
    const r = rewriteForSpeed(model, { batch: 256 });
    expect(r.rewrites.map((w) => [w.kind, w.layers])).toEqual([
      ['fold-batchnorm', ['c1', 'bn1', 'r1']],
      ['fuse-activation', ['d', 'a']],
      ['phase-conv', ['c1', 'p1']],
    ]);
    expect(maxDiff(model, r.model, [24, 24, 1], 10)).toBeLessThan(1e-4);
    r.model.dispose();
    model.dispose();
  });

  it('rewrites a one-filter conv and its 2×2 max pool as a stride-2 conv of 4 shifted filters: same outputs, its MACs reported', () => {
    const model = tf.sequential({ layers: [
      L.conv2d({ inputShape: [28, 28, 1], filters: 1, kernelSize: 5, activation: 'relu', name: 'c1' }), L.maxPooling2d({ poolSize: 2, name: 'p1' }),
      L.conv2d({ filters: 6, kernelSize: 5, activation: 'relu', name: 'c2' }), L.maxPooling2d({ poolSize: 2, name: 'p2' }), L.flatten({ name: 'f' }),
      L.dense({ units: 10, activation: 'softmax', name: 'out' })] });
    randomBiases(model, 1);
    const before = numTensors();
    const r = rewriteForSpeed(model, { batch: 256 });
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

  it('rewrites one-channel max pools (cropped to the pool) inside nested models and functional graphs; leaves average pools, small maps and wider ones', () => {
    const input = tf.input({ shape: [47, 47, 2] });
    // swish is not non-decreasing: its pool is rewritten alone, the conv is kept.
    const c = L.conv2d({ filters: 1, kernelSize: 3, activation: 'swish', name: 'c1' }).apply(input) as TF.SymbolicTensor;
    const p = L.maxPooling2d({ poolSize: 2, name: 'p1' }).apply(c) as TF.SymbolicTensor;
    const inner = tf.sequential({ name: 'inner', layers: [
      L.conv2d({ inputShape: [22, 22, 1], filters: 1, kernelSize: 3, activation: 'tanh', name: 'ic' }), L.maxPooling2d({ poolSize: 2, name: 'ip' }), L.flatten({ name: 'if' })] });
    const q = inner.apply(p) as TF.SymbolicTensor;
    // Two channels, an average pool of one channel, and a one-filter conv on a small map (8×8 out): nothing to rewrite.
    const w = L.conv2d({ filters: 2, kernelSize: 3, name: 'wide' }).apply(input) as TF.SymbolicTensor;
    const wp = L.flatten({ name: 'wf' }).apply(L.maxPooling2d({ poolSize: 2, name: 'wp' }).apply(w)) as TF.SymbolicTensor;
    const avg = L.flatten({ name: 'af' }).apply(L.averagePooling2d({ poolSize: 2, name: 'ap' }).apply(c)) as TF.SymbolicTensor;
    const small = L.conv2d({ filters: 1, kernelSize: 3, name: 'small' }).apply(L.maxPooling2d({ poolSize: 4, name: 'p4' }).apply(w)) as TF.SymbolicTensor;
    const sp = L.flatten({ name: 'sf' }).apply(L.maxPooling2d({ poolSize: 2, name: 'sp' }).apply(small)) as TF.SymbolicTensor;
    const f = L.flatten({ name: 'f' }).apply(p) as TF.SymbolicTensor;
    const out = L.dense({ units: 3, name: 'd' }).apply(L.concatenate({ name: 'cat' }).apply([f, q, wp, avg, sp])) as TF.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    randomBiases(model, 2);
    const r = rewriteForSpeed(model, { batch: 256 });
    expect(r.rewrites.map((x) => [x.kind, x.layers])).toEqual([
      ['phase-conv', ['inner/ic', 'inner/ip']],
      ['one-channel-pool', ['p1']],
    ]);
    expect(r.model.getLayer('c1').getClassName()).toBe('Conv2D');
    expect(r.model.getLayer('p1_crop').getClassName()).toBe('Cropping2D');
    for (const kept of ['wp', 'ap', 'sp']) expect(r.model.getLayer(kept).getClassName()).toMatch(/Pooling2D$/);
    expect(maxDiff(model, r.model, [47, 47, 2], 4)).toBeLessThan(1e-5);
    r.model.dispose();
    model.dispose();
  });

  it('names its new layers around the user\'s own (a model with a layer called like one is still rewritten)', () => {
    const model = tf.sequential({ layers: [
      L.conv2d({ inputShape: [28, 28, 1], filters: 1, kernelSize: 5, name: 'c1' }), L.maxPooling2d({ poolSize: 2, name: 'pool' }),
      L.flatten({ name: 'pool_window' }), L.dense({ units: 2, name: 'pool_positions' })] });
    const r = rewriteForSpeed(model, { batch: 256 });
    expect(r.rewrites.map((x) => x.kind)).toEqual(['phase-conv']);
    expect(r.model.layers.map((l) => l.name)).toEqual(['c1', 'pool_positions_2', 'pool_window_first', 'pool_window_2', 'pool', 'pool_window', 'pool_positions']);
    expect(maxDiff(model, r.model, [28, 28, 1], 11)).toBeLessThan(1e-5);
    r.model.dispose();
    model.dispose();
  });

  it('keeps one-channel maps as they are for small serving batches, where their extra ops cost what they save', () => {
    const model = tf.sequential({ layers: [L.conv2d({ inputShape: [28, 28, 1], filters: 1, kernelSize: 5, name: 'c1' }), L.maxPooling2d({ poolSize: 2, name: 'p' }), L.flatten({ name: 'f' })] });
    for (const batch of [undefined, 1, 32, 127]) expect(rewriteForSpeed(model, { batch }).rewrites).toEqual([]);
    const r = rewriteForSpeed(model, { batch: 128 });
    expect(r.rewrites.map((w) => w.kind)).toEqual(['phase-conv']);
    expect(() => rewriteForSpeed(model, { batch: 0 })).toThrow(/whole number/);
    r.model.dispose();
    model.dispose();
  });

  it('gives the model back untouched when no map has one channel', () => {
    const model = buildModel({ ...LENET_5, seed: 0 });
    const r = rewriteForSpeed(model, { batch: 256 });
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
    // Served at 256 samples a call: the one-channel rewrite is made (at tfjs's default 32 it is not, as below).
    const on = await compactPruned(`${dir}/pruned`, { out: `${dir}/on`, servingBatch: 256 });
    const byDefault = await compactPruned(`${dir}/pruned`, { out: `${dir}/default` });
    expect(byDefault.rewrites).toEqual([]);
    // ... and says what a serving batch of 128+ would add; made at 256, it is not said again.
    expect(byDefault.largeBatchRewrites).toBe(1);
    expect(on.largeBatchRewrites).toBeUndefined();
    expect(on.rewrites.map((w) => w.layers)).toEqual([['conv_1', 'pool_1']]);
    expect(on.maxAbsDiff.compact).toBeLessThan(1e-5);
    expect(on.compute.compact).toBe((await compactPruned(`${dir}/pruned`, { out: `${dir}/off`, rewrite: false })).compute.compact + 36 * 4 * 144 - 25 * 576);
    const written = await loadModel(`${dir}/on/compact/model.json`);
    expect(maxDiff(model, written, [28, 28, 1], 5)).toBeLessThan(1e-4);
    const plain = await loadModel(`${dir}/off/compact/model.json`);
    expect(plain.getLayer('pool_1').getClassName()).toBe('MaxPooling2D');
    for (const m of [model, written, plain]) m.dispose();
  });

  it('compact times the pruned model with the serving rewrites the compact one got: the speed-up it prints is pruning\'s', async () => {
    const dir = tempDir();
    const model = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 8, kernelSize: 3, name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.batchNormalization({ name: 'bn' }),
      tf.layers.activation({ activation: 'relu', name: 'act' }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ units: 3, name: 'out', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ] });
    await saveModel(model, `${dir}/pruned`);
    const timed = await compactPruned(`${dir}/pruned`, { out: `${dir}/timed`, timeBudgetMs: 100 });
    expect(timed.rewrites.map((w) => w.kind)).toContain('fold-batchnorm');
    expect(timed.latency).toMatchObject({ batch: 32, sameRewrites: true });
    const plain = await compactPruned(`${dir}/pruned`, { out: `${dir}/plain`, timeBudgetMs: 100, rewrite: false });
    expect(plain.rewrites).toEqual([]);
    expect(plain.latency!.sameRewrites).toBeUndefined();
    model.dispose();
  });
});
