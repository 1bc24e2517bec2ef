import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { extractFeatures } from '../../src/features/extract.js';
import { FEATURE_SCHEMA, featureIndex } from '../../src/features/schema.js';
import type { LayerFeatures } from '../../src/features/types.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { DataError } from '../../src/errors.js';
import { createScorer } from '../../src/policy/baselines.js';

type M = number[][];
const matmul = (a: M, b: M): M => a.map((r) => b[0].map((_, j) => r.reduce((s, v, k) => s + v * b[k][j], 0)));
const addBias = (a: M, b: number[]): M => a.map((r) => r.map((v, j) => v + b[j]));
const relu = (a: M): M => a.map((r) => r.map((v) => Math.max(0, v)));
const softmax = (a: M): M => a.map((r) => { const m = Math.max(...r); const e = r.map((v) => Math.exp(v - m)); const s = e.reduce((x, y) => x + y); return e.map((v) => v / s); });
const transpose = (a: M): M => a[0].map((_, j) => a.map((r) => r[j]));

function col(lf: LayerFeatures, name: string): number[] {
  const f = featureIndex(FEATURE_SCHEMA, name);
  expect(f, name).toBeGreaterThanOrEqual(0);
  return Array.from(lf.columns[f]);
}

function expectClose(actual: number[], expected: number[], digits = 5) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(v, `element ${i}`).toBeCloseTo(expected[i], digits));
}

describe('extractFeatures on a hand-checked Dense 3→2 (relu) → 2→2 (logits) model', () => {
  // Layer 0 kernel [3, 2]; weight [1][1] = 0.8 is pruned (flat index 3).
  const W1 = [[0.5, -0.3], [0.2, 0.8], [-0.4, 0.1]];
  const b1 = [0.1, -0.2];
  const W2 = [[1.0, -0.5], [0.3, 0.7]];
  const b2 = [0, 0.05];
  const X = [[1, 0, 2], [0.5, 0, -1], [2, 1, 0], [-1, 0, 1]];
  const labels = [0, 1, 1, 0];

  function build() {
    const model = tf.sequential();
    model.add(tf.layers.dense({ units: 2, activation: 'relu', inputShape: [3], name: 'd1' }));
    model.add(tf.layers.dense({ units: 2, name: 'd2' }));
    model.layers[0].setWeights([tf.tensor2d(W1), tf.tensor1d(b1)]);
    model.layers[1].setWeights([tf.tensor2d(W2), tf.tensor1d(b2)]);
    const pm = new PrunableModel(model);
    pm.setMaskArrays([[1, 1, 1, 0, 1, 1], [1, 1, 1, 1]]);
    return { model, pm };
  }

  // Hand computation of the batch-mean gradients of softmax cross-entropy (batches of 2 samples).
  const W1m = [[0.5, -0.3], [0.2, 0], [-0.4, 0.1]];
  function batchGrads(xb: M, yb: number[]) {
    const z1 = addBias(matmul(xb, W1m), b1);
    const a1 = relu(z1);
    const p = softmax(addBias(matmul(a1, W2), b2));
    const d2 = p.map((r, i) => r.map((v, c) => (v - (yb[i] === c ? 1 : 0)) / xb.length));
    const g2 = matmul(transpose(a1), d2);
    const d1 = matmul(d2, transpose(W2)).map((r, i) => r.map((v, j) => (z1[i][j] > 0 ? v : 0)));
    const g1 = matmul(transpose(xb), d1);
    return { g1: g1.flat(), g2: g2.flat(), a1 };
  }
  const b0 = batchGrads(X.slice(0, 2), labels.slice(0, 2));
  const bb = batchGrads(X.slice(2), labels.slice(2));
  const mean2 = (f: (g: number[], k: number) => number, key: 'g1' | 'g2', k: number) => (f(b0[key], k) + f(bb[key], k)) / 2;
  const live1 = [0, 1, 2, 4, 5];
  const w1 = W1m.flat();
  const w2 = W2.flat();

  it('matches hand-computed magnitude, rank, gradient and activation features', () => {
    const { model, pm } = build();
    const labelsArr = Int32Array.from(labels);
    const x = tf.tensor2d(X);
    const feats = extractFeatures(pm, { x, labels: labelsArr }, { batchSize: 2 });
    expect(feats.schema).toBe(FEATURE_SCHEMA);
    const [l1, l2] = feats.layers;
    expect(l1.count).toBe(5);
    expect(Array.from(l1.indices)).toEqual(live1);
    expect(l2.count).toBe(4);
    expect(l1.columns.length).toBe(FEATURE_SCHEMA.names.length);

    const abs1 = live1.map((k) => Math.abs(w1[k]));
    expectClose(col(l1, 'abs_w'), abs1);
    expectClose(col(l1, 'log_abs_w'), abs1.map((a) => Math.log10(a + 1e-12)));
    const meanAbs = abs1.reduce((s, v) => s + v) / 5; // 0.3
    expectClose(col(l1, 'abs_w_rel_layer'), abs1.map((a) => a / meanAbs));
    const std = Math.sqrt(abs1.reduce((s, v) => s + (v - meanAbs) ** 2, 0) / 5);
    expectClose(col(l1, 'abs_w_z_layer'), abs1.map((a) => (a - meanAbs) / std));
    // |w| of live (0.5, 0.3, 0.2, 0.4, 0.1): ascending 0.1 < 0.2 < 0.3 < 0.4 < 0.5.
    expectClose(col(l1, 'abs_w_pct_layer'), [5 / 5, 3 / 5, 2 / 5, 4 / 5, 1 / 5]);
    // Units (columns): {0.5, 0.2, 0.4} and {0.3, 0.1} (0.8 pruned).
    expectClose(col(l1, 'abs_w_pct_unit'), [3 / 3, 2 / 2, 1 / 3, 2 / 3, 1 / 2]);
    // Inputs (rows): {0.5, 0.3}, {0.2}, {0.4, 0.1}.
    expectClose(col(l1, 'abs_w_pct_input'), [1, 1 / 2, 1, 1, 1 / 2]);
    expectClose(col(l1, 'unit_live_frac'), [1, 2 / 3, 1, 1, 2 / 3]);
    expectClose(col(l1, 'input_live_frac'), [1, 1, 1 / 2, 1, 1]);

    // Gradients: mean over the two batches of |g|, Taylor |w·ḡ|, Fisher w²·E[g²].
    const gAbs1 = live1.map((k) => mean2((g, i) => Math.abs(g[i]), 'g1', k));
    const taylor1 = live1.map((k) => Math.abs(w1[k] * mean2((g, i) => g[i], 'g1', k)));
    const fisher1 = live1.map((k) => w1[k] ** 2 * mean2((g, i) => g[i] ** 2, 'g1', k));
    expectClose(col(l1, 'grad_abs_mean'), gAbs1);
    expectClose(col(l1, 'taylor'), taylor1);
    expectClose(col(l1, 'fisher'), fisher1);
    expect(gAbs1.some((v) => v > 1e-3)).toBe(true); // the check is not vacuous
    const k2 = [0, 1, 2, 3];
    expectClose(col(l2, 'grad_abs_mean'), k2.map((k) => mean2((g, i) => Math.abs(g[i]), 'g2', k)));
    expectClose(col(l2, 'taylor'), k2.map((k) => Math.abs(w2[k] * mean2((g, i) => g[i], 'g2', k))));
    expectClose(col(l2, 'fisher'), k2.map((k) => w2[k] ** 2 * mean2((g, i) => g[i] ** 2, 'g2', k)));
    const meanTaylor = taylor1.reduce((s, v) => s + v) / 5;
    expectClose(col(l1, 'taylor_rel_layer'), taylor1.map((t) => t / meanTaylor), 4);

    // Inputs of layer 0: columns of X. Row of each live connection = floor(k / 2).
    const inCol = (j: number) => X.map((r) => r[j]);
    const stat = (v: number[]) => {
      const m = v.reduce((s, x) => s + x) / v.length;
      const sq = v.reduce((s, x) => s + x * x, 0) / v.length;
      return { mean: m, rms: Math.sqrt(sq), variance: sq - m * m, zero: v.filter((x) => x === 0).length / v.length };
    };
    const in1 = live1.map((k) => stat(inCol(Math.floor(k / 2))));
    expectClose(col(l1, 'in_mean'), in1.map((s) => s.mean));
    expectClose(col(l1, 'in_norm'), in1.map((s) => s.rms));
    expectClose(col(l1, 'in_var'), in1.map((s) => s.variance));
    expectClose(col(l1, 'in_zero_frac'), in1.map((s) => s.zero));
    expectClose(in1.map((s) => s.zero), [0, 0, 0.75, 0.25, 0.25]);
    expectClose(col(l1, 'wanda'), live1.map((k, i) => Math.abs(w1[k]) * in1[i].rms));

    // Outputs of layer 0 (post-ReLU) = inputs of layer 1.
    const A1 = [...b0.a1, ...bb.a1];
    const out1 = live1.map((k) => stat(A1.map((r) => r[k % 2])));
    expectClose(col(l1, 'out_mean'), out1.map((s) => s.mean));
    expectClose(col(l1, 'out_zero_frac'), out1.map((s) => s.zero));
    expect(out1.some((s) => s.zero > 0)).toBe(true); // some ReLU is dead on some sample
    const in2 = k2.map((k) => stat(A1.map((r) => r[Math.floor(k / 2)])));
    expectClose(col(l2, 'in_norm'), in2.map((s) => s.rms));
    expectClose(col(l2, 'in_zero_frac'), in2.map((s) => s.zero));

    // Layer context.
    expectClose(col(l1, 'depth_rel'), [0, 0, 0, 0, 0]);
    expectClose(col(l2, 'depth_rel'), [1, 1, 1, 1]);
    expectClose(col(l1, 'log_fan_in'), Array(5).fill(Math.log(3)));
    expectClose(col(l1, 'log_fan_out'), Array(5).fill(Math.log(2)));
    expectClose(col(l1, 'is_conv'), Array(5).fill(0));
    expectClose(col(l1, 'layer_param_share'), Array(5).fill(6 / 10));
    expectClose(col(l1, 'layer_sparsity'), Array(5).fill(1 / 6));
    expectClose(col(l2, 'layer_sparsity'), Array(4).fill(0));
    expectClose(col(l2, 'global_sparsity'), Array(4).fill(1 / 10));

    x.dispose();
    pm.dispose();
    model.dispose();
  });

  it('leaks no tensors and leaves weights and masks untouched', () => {
    const { model, pm } = build();
    const x = tf.tensor2d(X);
    const calib = { x, labels: Int32Array.from(labels) };
    extractFeatures(pm, calib, { batchSize: 2 }); // warm-up builds the cached probe model
    const before = tf.memory().numTensors;
    const w = Array.from(pm.layers[0].kernel.dataSync());
    extractFeatures(pm, calib, { batchSize: 3, maxSamples: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(pm.layers[0].kernel.dataSync())).toEqual(w);
    expect(Array.from(pm.maskArrays()[0])).toEqual([1, 1, 1, 0, 1, 1]);
    x.dispose();
    pm.dispose();
    model.dispose();
  });

  it('rejects an empty calibration split', () => {
    const { model, pm } = build();
    const x = tf.zeros([0, 3]);
    expect(() => extractFeatures(pm, { x, labels: new Int32Array(0) })).toThrow(DataError);
    x.dispose();
    pm.dispose();
    model.dispose();
  });
});

describe('extractFeatures on other shapes', () => {
  it('handles a CNN (conv → pool → conv → flatten → dense → softmax) with channel-wise input statistics', () => {
    const model = tf.sequential();
    model.add(tf.layers.conv2d({ inputShape: [8, 8, 2], filters: 3, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    model.add(tf.layers.conv2d({ filters: 4, kernelSize: 2, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 5, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
    model.add(tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }));
    const pm = new PrunableModel(model);
    const m0 = Float32Array.from(pm.maskArrays()[0]);
    for (let i = 0; i < m0.length; i += 7) m0[i] = 0;
    pm.setMaskArrays([m0, ...pm.maskArrays().slice(1)]);
    // Channel 0 is constant 1, channel 1 alternates 0 / 2 over samples.
    const n = 10;
    const xs = new Float32Array(n * 8 * 8 * 2);
    for (let s = 0; s < n; s++) for (let p = 0; p < 64; p++) { xs[(s * 64 + p) * 2] = 1; xs[(s * 64 + p) * 2 + 1] = s % 2 ? 2 : 0; }
    const x = tf.tensor4d(xs, [n, 8, 8, 2]);
    const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
    const before = tf.memory().numTensors;
    const feats = extractFeatures(pm, { x, labels }, { batchSize: 4 });
    const after = tf.memory().numTensors;
    // the first call also creates the probe model (symbolic, no tensors), so no growth is allowed
    expect(after).toBe(before);

    expect(feats.layers.map((l) => l.name)).toEqual(pm.layers.map((l) => l.name));
    const sizes = pm.layers.map((l) => l.size);
    expect(sizes).toEqual([3 * 3 * 2 * 3, 2 * 2 * 3 * 4, 16 * 5, 5 * 3]);
    expect(feats.layers[0].count).toBe(54 - Math.ceil(54 / 7));
    feats.layers.slice(1).forEach((l, i) => expect(l.count).toBe(sizes[i + 1]));
    for (const lf of feats.layers) {
      expect(lf.indices.length).toBe(lf.count);
      for (const c of lf.columns) {
        expect(c.length).toBe(lf.count);
        for (const v of c) expect(Number.isFinite(v)).toBe(true);
      }
    }
    const l0 = feats.layers[0];
    expect(Array.from(l0.indices).every((k) => k % 7 !== 0)).toBe(true);
    // Conv kernel [3, 3, 2, 3]: input channel = floor(k / 3) % 2.
    const inMean = col(l0, 'in_mean');
    const inZero = col(l0, 'in_zero_frac');
    const inNorm = col(l0, 'in_norm');
    Array.from(l0.indices).forEach((k, i) => {
      const c = Math.floor(k / 3) % 2;
      expect(inMean[i]).toBeCloseTo(1, 5); // both channels average 1
      expect(inZero[i]).toBeCloseTo(c === 0 ? 0 : 0.5, 5);
      expect(inNorm[i]).toBeCloseTo(c === 0 ? 1 : Math.sqrt(2), 5);
    });
    expect(col(l0, 'is_conv')[0]).toBe(1);
    expect(col(feats.layers[2], 'is_conv')[0]).toBe(0);
    expect(col(feats.layers[1], 'log_fan_in')[0]).toBeCloseTo(Math.log(12), 5);
    expect(col(feats.layers[3], 'depth_rel')[0]).toBe(1);
    // tanh outputs are never exactly 0 here; pct columns lie in (0, 1].
    for (const name of ['abs_w_pct_layer', 'abs_w_pct_unit', 'abs_w_pct_input']) {
      for (const lf of feats.layers) for (const v of col(lf, name)) { expect(v).toBeGreaterThan(0); expect(v).toBeLessThanOrEqual(1); }
    }
    x.dispose();
    pm.dispose();
    model.dispose();
  });

  it('handles a 1-unit sigmoid output and a Reshape between Dense layers', () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ inputShape: [4], units: 6, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }));
    model.add(tf.layers.reshape({ targetShape: [2, 3] }));
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) }));
    const pm = new PrunableModel(model);
    const x = tf.randomNormal([20, 4], 0, 1, 'float32', 7);
    const labels = Int32Array.from({ length: 20 }, (_, i) => i % 2);
    const feats = extractFeatures(pm, { x, labels }, { batchSize: 8 });
    expect(feats.layers.map((l) => l.count)).toEqual([24, 6]);
    const g = col(feats.layers[1], 'grad_abs_mean');
    expect(g.every((v) => v > 0)).toBe(true);
    expect(col(feats.layers[1], 'log_fan_out')[0]).toBeCloseTo(0, 6);
    x.dispose();
    pm.dispose();
    model.dispose();
  });
});

describe('extractScored', () => {
  it('scores one layer at a time exactly as extractFeatures + the scorer, and keeps no feature columns', async () => {
    const { buildModel, LENET_5 } = await import('../../src/models/families.js');
    const { loadPolicy, resolvePolicyPath } = await import('../../src/policy/io.js');
    const { extractScored, scoreLayerWith } = await import('../../src/features/extract.js');
    const model = buildModel({ ...LENET_5, seed: 4 });
    const pm = new PrunableModel(model);
    pm.setMaskArrays(pm.layers.map((l) => Float32Array.from({ length: l.size }, (_, i) => ((i * 7919) % 10 < 6 ? 1 : 0))));
    const calib = { x: tf.randomUniform([96, 28, 28, 1], 0, 1, 'float32', 3), labels: Int32Array.from({ length: 96 }, (_, i) => i % 10) };
    const policy = loadPolicy(resolvePolicyPath('default'));
    const whole = extractFeatures(pm, calib);
    const want = policy.score(whole);
    const perLayer = scoreLayerWith(policy);
    expect(perLayer.chunk).toBeGreaterThan(1000); // a learned policy scores row by row: chunks allowed
    const { features, scores } = extractScored(pm, calib, perLayer);
    expect(scores.map((s) => Array.from(s))).toEqual(want.map((s) => Array.from(s)));
    // In chunks of 777 connections (the 400,000-weight dense layer is scored in hundreds of pieces): the same scores.
    const chunked = extractScored(pm, calib, perLayer, { chunk: 777 });
    expect(chunked.scores.map((s) => Array.from(s))).toEqual(want.map((s) => Array.from(s)));
    features.layers.forEach((lf, i) => {
      expect(lf.columns).toEqual([]);
      expect(Array.from(lf.indices)).toEqual(Array.from(whole.layers[i].indices));
    });
    // Only the columns the tree reads (Scorer.needs: no logarithms here), in chunks: the same scores.
    expect(perLayer.needs).toEqual(policy.needs);
    expect(policy.needs!.length).toBeGreaterThan(10);
    expect(policy.needs!.filter((n) => ['log_abs_w', 'log_grad_abs_mean', 'log_taylor', 'log_fisher', 'log_wanda'].includes(n))).toEqual([]);
    const lean = extractScored(pm, calib, perLayer, { chunk: 777, needs: perLayer.needs });
    expect(lean.scores.map((s) => Array.from(s))).toEqual(want.map((s) => Array.from(s)));
    // A baseline that reads |w| only (no ranks, no logarithms), on a model with every weight live.
    pm.setMaskArrays(pm.layers.map((l) => new Float32Array(l.size).fill(1)));
    const magnitude = createScorer('global-magnitude');
    const byMagnitude = scoreLayerWith(magnitude);
    expect(byMagnitude.needs).toEqual(['abs_w']);
    const all = magnitude.score(extractFeatures(pm, calib));
    const leanMagnitude = extractScored(pm, calib, byMagnitude, { chunk: 777, needs: byMagnitude.needs });
    expect(leanMagnitude.scores.map((s) => Array.from(s))).toEqual(all.map((s) => Array.from(s)));
    expect(extractScored(pm, calib, perLayer, { needs: perLayer.needs }).scores.map((s) => Array.from(s)))
      .toEqual(policy.score(extractFeatures(pm, calib)).map((s) => Array.from(s)));
    calib.x.dispose();
    pm.dispose();
    model.dispose();
  });
});
