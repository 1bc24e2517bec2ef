/**
 * Every weight-bearing layer type tfjs users have is pruned through one registry of handlers: kernels
 * found (also inside wrappers and nested models), MACs per weight, features, selection to a target of
 * all prunable weights, masked fine-tuning, and a save → reload that keeps the zeros.
 */
import type * as TF from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { autoprune } from '../../src/api.js';
import type { Dataset } from '../../src/data/dataset.js';
import { extractFeatures } from '../../src/features/extract.js';
import { FEATURE_SCHEMA } from '../../src/features/schema.js';
import { loadModel, saveModel } from '../../src/models/io.js';
import { train } from '../../src/models/train.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { pruneByScores } from '../../src/pruning/select.js';

const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }) });

/** [model, input shape, integer tokens?, expected kernels as name:kind:role:macsPerWeight]. */
function models(): { name: string; model: TF.LayersModel; shape: number[]; tokens?: number; kernels: string[]; measuredIn: boolean[] }[] {
  const text = tf.sequential({ layers: [
    tf.layers.embedding({ inputDim: 16, outputDim: 8, inputLength: 12, name: 'emb', embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: 1 }) }),
    tf.layers.lstm({ units: 10, name: 'lstm', ...init(2) }),
    tf.layers.dense({ units: 3, activation: 'softmax', name: 'out', ...init(3) }),
  ] });
  const seq = tf.sequential({ layers: [
    tf.layers.bidirectional({ layer: tf.layers.gru({ units: 6, returnSequences: true, name: 'gru', ...init(4) }) as TF.RNN, inputShape: [12, 5], name: 'bi' }),
    tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 4, name: 'td_dense', ...init(5) }), name: 'td' }),
    tf.layers.conv1d({ filters: 6, kernelSize: 3, activation: 'relu', name: 'c1d', ...init(6) }),
    tf.layers.globalMaxPooling1d(),
    tf.layers.dense({ units: 3, activation: 'softmax', name: 'out', ...init(7) }),
  ] });
  const mobile = tf.sequential({ layers: [
    tf.layers.conv2d({ filters: 4, kernelSize: 3, inputShape: [8, 8, 1], activation: 'relu', name: 'stem', ...init(8) }),
    tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, name: 'dw', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 9 }) }),
    tf.layers.separableConv2d({ filters: 6, kernelSize: 2, name: 'sep', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 10 }), pointwiseInitializer: tf.initializers.glorotUniform({ seed: 11 }) }),
    tf.layers.conv2dTranspose({ filters: 3, kernelSize: 2, strides: 2, name: 'up', ...init(12) }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 3, activation: 'softmax', name: 'out', ...init(13) }),
  ] });
  const backbone = tf.sequential({ name: 'backbone', layers: [
    tf.layers.conv2d({ filters: 4, kernelSize: 3, inputShape: [8, 8, 1], activation: 'relu', name: 'c1', ...init(14) }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 8, activation: 'relu', name: 'd1', ...init(15) }),
  ] });
  const nested = tf.sequential({ layers: [backbone, tf.layers.dense({ units: 3, activation: 'softmax', name: 'head', ...init(16) })] });
  // The transfer-learning shape in a functional model: a Sequential feature extractor applied to a new input.
  const features = tf.sequential({ name: 'features', layers: [
    tf.layers.conv2d({ filters: 8, kernelSize: 3, inputShape: [8, 8, 1], activation: 'relu', name: 'fc1', ...init(17) }),
    tf.layers.globalAveragePooling2d({}),
  ] });
  const image = tf.input({ shape: [8, 8, 1] });
  const functional = tf.model({ inputs: image, outputs: tf.layers.dense({ units: 3, activation: 'softmax', name: 'fhead', ...init(18) }).apply(features.apply(image)) as TF.SymbolicTensor });
  return [
    { name: 'embedding + lstm', model: text, shape: [12], tokens: 16, kernels: ['emb/embeddings:embedding:embeddings:0', 'lstm:lstm:kernel:12', 'lstm/recurrent_kernel:lstm:recurrent_kernel:12', 'out:dense:kernel:1'], measuredIn: [false, true, true, true] },
    {
      name: 'bidirectional gru, time-distributed dense, conv1d', model: seq, shape: [12, 5],
      kernels: [/forward/, /forward.*recurrent/, /backward/, /backward.*recurrent/].map(() => '').concat(['td/td_dense:dense:kernel:12', 'c1d:conv1d:kernel:10', 'out:dense:kernel:1']),
      measuredIn: [false, false, false, false, true, true, true],
    },
    { name: 'depthwise, separable, transposed convs', model: mobile, shape: [8, 8, 1], kernels: ['stem:conv2d:kernel:36', 'dw/depthwise_kernel:depthwise_conv2d:depthwise_kernel:16', 'sep/depthwise_kernel:separable_conv2d:depthwise_kernel:9', 'sep/pointwise_kernel:separable_conv2d:pointwise_kernel:9', 'up:conv2d_transpose:kernel:9', 'out:dense:kernel:1'], measuredIn: [true, true, true, false, true, true] },
    { name: 'nested backbone', model: nested, shape: [8, 8, 1], kernels: ['backbone/c1:conv2d:kernel:36', 'backbone/d1:dense:kernel:1', 'head:dense:kernel:1'], measuredIn: [true, true, true] },
    { name: 'nested in a functional model', model: functional, shape: [8, 8, 1], kernels: ['features/fc1:conv2d:kernel:36', 'fhead:dense:kernel:1'], measuredIn: [true, true] },
  ];
}

function inputs(shape: number[], n: number, tokens?: number): TF.Tensor {
  return tokens ? tf.randomUniform([n, ...shape], 0, tokens, 'int32', 7).toFloat() : tf.randomNormal([n, ...shape], 0, 1, 'float32', 7);
}

describe('layer handlers', () => {
  it('find every kernel with its kind, role and MACs, and prune 80 % of all prunable weights, masks kept through training and save → reload', async () => {
    for (const c of models()) {
      const pm = new PrunableModel(c.model);
      const got = pm.layers.map((l) => `${l.name}:${l.kind}:${l.role}:${l.macsPerWeight}`);
      c.kernels.forEach((k, i) => { if (k) expect(got[i], c.name).toBe(k); });
      expect(got.length, c.name).toBe(c.kernels.length);
      // Every weight outside biases and normalisation is a prunable kernel here.
      const biases = c.model.weights.filter((w) => /bias$/.test(w.originalName ?? w.name)).reduce((a, w) => a + w.shape.reduce((x: number, y) => x * (y ?? 1), 1), 0);
      expect(pm.coverage().prunable + biases, c.name).toBe(c.model.countParams());
      expect(pm.coverage().untouched, c.name).toEqual([]);

      const x = inputs(c.shape, 48, c.tokens);
      const labels = Int32Array.from({ length: 48 }, (_, i) => i % 3);
      const f = extractFeatures(pm, { x, labels });
      for (const lf of f.layers) for (const col of lf.columns) expect(col.every(Number.isFinite), `${c.name} ${lf.name}`).toBe(true);
      // Activation statistics are measured wherever a tensor matches the kernel, nested models included
      // (neutral values elsewhere: norm exactly 1 on every row).
      const inNorm = FEATURE_SCHEMA.names.indexOf('in_norm');
      const measured = f.layers.map((lf) => lf.columns[inNorm].some((v) => Math.abs(v - 1) > 1e-6));
      expect(measured, c.name).toEqual(c.measuredIn);
      pruneByScores(pm, f.layers.map((lf) => lf.columns[0].map((v) => -v)), f, 0.8);
      expect(pm.sparsity().global, c.name).toBeCloseTo(0.8, 2);
      for (const l of pm.layers) expect(pm.sparsity().layers[l.index].pruned, `${c.name} ${l.name}`).toBeGreaterThan(0);

      const before = pm.maskArrays();
      train(c.model, { x, labels }, { epochs: 1, batchSize: 16, prunable: pm, seed: 1 });
      const weights = pm.layers.map((l) => l.kernel.dataSync());
      before.forEach((m, i) => m.forEach((v, j) => { if (v === 0) expect(Math.abs(weights[i][j])).toBe(0); }));

      const dir = mkdtempSync(join(tmpdir(), 'autoprune-kinds-'));
      try {
        await saveModel(c.model, dir);
        const back = new PrunableModel(await loadModel(join(dir, 'model.json')));
        expect(back.sparsity().pruned, c.name).toBe(pm.sparsity().pruned);
        back.model.dispose();
        back.dispose();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      x.dispose();
      pm.dispose();
      c.model.dispose();
    }
  });

  it('the agent prunes an Embedding + LSTM model to the target counted over all its prunable weights', async () => {
    const [text] = models();
    const split = (n: number, seed: number) => {
      const x = tf.randomUniform([n, 12], 0, 16, 'int32', seed).toFloat();
      // Label: which third of the vocabulary the first token falls in — learnable, not trivial.
      const first = x.slice([0, 0], [n, 1]).dataSync();
      return { x, labels: Int32Array.from(first, (v) => Math.min(2, Math.floor(v / 5.34))) };
    };
    const train_ = split(240, 1), val = split(120, 2), test = split(120, 3);
    const data: Dataset = {
      name: 'tokens', source: 'tokens', inputShape: [12], numClasses: 3, classNames: ['a', 'b', 'c'], train: train_, val, test,
      dispose: () => [train_, val, test].forEach((s) => s.x.dispose()),
    };
    const { model, report } = await autoprune({ model: text.model, data, target: 0.8, budgetSteps: 60, policy: 'global-magnitude', force: true });
    expect(report.final.sparsity).toBeGreaterThanOrEqual(0.79);
    expect(report.dense.untouched).toEqual([]);
    expect(report.layers.map((l) => l.kind)).toEqual(['embedding', 'lstm', 'lstm', 'dense']);
    expect(report.final.sparsityOfAllParams).toBeGreaterThan(0.75);
    model.dispose();
    text.model.dispose();
    data.dispose();
  });

  it('counts a layer called twice (shared towers) twice in the MACs per sample', () => {
    const a = tf.input({ shape: [4] });
    const b = tf.input({ shape: [4] });
    const shared = tf.layers.dense({ units: 3, name: 'tower', useBias: false });
    const merged = tf.layers.concatenate().apply([shared.apply(a), shared.apply(b)] as TF.SymbolicTensor[]) as TF.SymbolicTensor;
    const out = tf.layers.dense({ units: 2, name: 'head' }).apply(merged) as TF.SymbolicTensor;
    const model = tf.model({ inputs: [a, b], outputs: out });
    const pm = new PrunableModel(model);
    expect(pm.layers.map((l) => `${l.name}:${l.macsPerWeight}`)).toEqual(['tower:2', 'head:1']);
    expect(pm.compute().dense).toBe(2 * 12 + 12);
    pm.dispose();
    model.dispose();
  });

  it('refuses two kernels of one path name (a layer named \'backbone/inner\' beside a nested backbone\'s \'inner\'): masks and --exclude could not tell them apart', () => {
    const backbone = tf.sequential({ name: 'backbone', layers: [tf.layers.dense({ inputShape: [8], units: 16, name: 'inner' })] });
    const model = tf.sequential({ layers: [backbone, tf.layers.dense({ units: 16, name: 'backbone/inner' }), tf.layers.dense({ units: 3, name: 'out' })] });
    expect(() => new PrunableModel(model)).toThrow(/two prunable kernels are both named 'backbone\/inner'.*rename one of the layers/);
    model.dispose();
  });
});
