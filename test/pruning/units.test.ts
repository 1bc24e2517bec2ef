import type * as TF from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import type { ConnectionFeatures } from '../../src/features/types.js';
import { buildModel } from '../../src/models/families.js';
import { compactModel } from '../../src/pruning/compact.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import {
  pruneUnits, unitBaselineScores, unitL1Scores, unitL2Scores, unitMeanActivationScores, unitScoresFromConnectionScores,
  unitTaylorScores,
} from '../../src/pruning/units.js';
import { Rng } from '../../src/util/random.js';
import { checkObjective, unitsKeptFor } from '../../src/agent/granularity.js';
import { numTensors } from '../helpers.js';

function liveFeatures(pm: PrunableModel): ConnectionFeatures {
  return {
    schema: { version: 0, names: [] },
    layers: pm.maskArrays().map((m, layer) => {
      const idx: number[] = [];
      m.forEach((v, j) => { if (v !== 0) idx.push(j); });
      return { layer, name: pm.layers[layer].name, count: idx.length, indices: Int32Array.from(idx), columns: [] };
    }),
  };
}

function randomScores(pm: PrunableModel, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return pm.layers.map((l) => Float32Array.from({ length: l.units }, () => rng.next()));
}

function maxDiff(a: TF.LayersModel, b: TF.LayersModel, shape: number[]): number {
  return tf.tidy(() => {
    const x = tf.randomUniform([8, ...shape], 0, 1, 'float32', 2);
    return tf.max(tf.abs(tf.sub(a.predict(x) as TF.Tensor, b.predict(x) as TF.Tensor))).dataSync()[0];
  });
}

/** The compact model runs exactly the MACs the pruned one claims, and computes what it computes on `input()`. */
function expectCompactAsClaimed(model: TF.LayersModel, pm: PrunableModel, compact: TF.LayersModel, input: () => TF.Tensor): void {
  const cpm = new PrunableModel(compact);
  expect(cpm.compute().dense).toBe(pm.compute().live); // every weight of the compact model costs its MACs
  cpm.dispose();
  const diff = tf.tidy(() => {
    const x = input();
    return tf.max(tf.abs(tf.sub(model.predict(x) as TF.Tensor, compact.predict(x) as TF.Tensor))).dataSync()[0];
  });
  expect(diff).toBeLessThan(1e-5);
}

describe('pruneUnits', () => {
  it('reaches the weight target with whole units, never touches output units, and compacts exactly', () => {
    const model = buildModel({ family: 'mlp', inputShape: [20], hidden: [16, 12], numClasses: 4, seed: 1 });
    const pm = new PrunableModel(model);
    const before = numTensors();
    const r = pruneUnits(pm, randomScores(pm, 3), 0.6);
    expect(numTensors()).toBe(before);
    const sp = pm.sparsity();
    expect(r.sparsity).toBeCloseTo(sp.global, 9);
    expect(sp.global).toBeGreaterThanOrEqual(0.6);
    // Overshoot is at most one unit's weights (in + out) of the largest layer.
    expect(sp.global).toBeLessThan(0.6 + (20 + 12) / sp.total);
    expect(r.removedPerLayer[2]).toBe(0);
    const masks = pm.maskArrays();
    for (let c = 0; c < 4; c++) expect(Array.from({ length: 12 }, (_, i) => masks[2][i * 4 + c]).some((v) => v === 1)).toBe(true);
    // Removed units have no live incoming or outgoing weights; every hidden layer keeps ≥ 1 unit.
    const deadIn = (li: number) => {
      const l = pm.layers[li];
      return Array.from({ length: l.units }, (_, u) => Array.from({ length: l.size / l.units }, (_, row) => masks[li][row * l.units + u]).every((v) => v === 0));
    };
    [0, 1].forEach((li) => {
      const dead = deadIn(li);
      expect(dead.filter(Boolean).length).toBe(r.removedPerLayer[li]);
      expect(dead.filter((d) => !d).length).toBeGreaterThanOrEqual(1);
      const next = pm.layers[li + 1];
      dead.forEach((d, u) => {
        if (d) expect(Array.from({ length: next.units }, (_, k) => masks[li + 1][u * next.units + k]).every((v) => v === 0)).toBe(true);
      });
    });
    const { model: compact, report } = compactModel(model, pm);
    expect(report.layers.map((l) => l.unitsBefore - l.unitsAfter)).toEqual(r.removedPerLayer);
    expect(maxDiff(model, compact, [20])).toBeLessThan(1e-5);
    compact.dispose();
    pm.dispose();
    model.dispose();
  });

  it('prunes the flattened rows of a removed filter (conv → pool → flatten → dense) and keeps the floor', () => {
    const model = buildModel({ family: 'cnn', inputShape: [10, 10, 1], convs: [{ filters: 6, kernel: 3 }], dense: [8], numClasses: 3, seed: 2 });
    const pm = new PrunableModel(model);
    const r = pruneUnits(pm, randomScores(pm, 4), 0.9, { minKeepFraction: 0.3 });
    expect(r.removedPerLayer[0]).toBe(4); // 6 filters, floor ceil(0.3·6) = 2
    expect(r.removedPerLayer[1]).toBeLessThanOrEqual(8 - 3);
    expect(r.removedPerLayer[2]).toBe(0);
    const { model: compact } = compactModel(model, pm);
    expect(compact.getLayer('conv_1').weights[0].shape).toEqual([3, 3, 1, 2]);
    expect(maxDiff(model, compact, [10, 10, 1])).toBeLessThan(1e-5);
    compact.dispose();
    pm.dispose();
    model.dispose();
  });
});

describe('compute objective', () => {
  // conv 3×3×1→6 on 10×10 (8×8 outputs, 64 MACs per weight) → pool → flatten 96 → dense 8 → dense 3.
  const cnn = () => buildModel({ family: 'cnn', inputShape: [10, 10, 1], convs: [{ filters: 6, kernel: 3 }], dense: [8], numClasses: 3, seed: 2 });
  const dense = 9 * 6 * 64 + 96 * 8 + 8 * 3;

  it('counts multiply-accumulates per sample: outH·outW per Conv2D weight, one per Dense weight', () => {
    const model = cnn();
    const pm = new PrunableModel(model);
    expect(pm.layers.map((l) => l.macsPerWeight)).toEqual([64, 1, 1]);
    expect(pm.compute()).toEqual({ dense, live: dense, reduction: 0 });
    // Filter 0's nine incoming weights gone: 9 · 64 MACs fewer.
    pm.setMaskArrays(pm.layers.map((l, i) => Float32Array.from({ length: l.size }, (_, j) => (i === 0 && j % 6 === 0 ? 0 : 1))));
    expect(pm.compute().live).toBe(dense - 9 * 64);
    expect(pm.progress('flops')).toBeCloseTo((9 * 64) / dense, 12);
    expect(pm.progress('params')).toBeCloseTo(9 / pm.totalPrunable, 12);
    pm.dispose();
    model.dispose();
  });

  it("'flops' takes units by prunability per MAC freed and stops at the compute target; 'params' by score alone", () => {
    // Dense units score a little more prunable than filters, but a filter frees 9·64 + 16·8 = 704 MACs, a dense unit 96 + 3.
    const scores = (pm: PrunableModel) => pm.layers.map((l, i) => new Float32Array(l.units).fill(i === 0 ? 0.5 : 0.6));
    const byParams = new PrunableModel(cnn());
    const p = pruneUnits(byParams, scores(byParams), 0.3);
    expect(p.removedPerLayer).toEqual([0, 3, 0]); // ⌈0.3 · 846 / 99⌉ dense units
    expect(p.progress).toBeCloseTo(p.sparsity, 12);
    const byFlops = new PrunableModel(cnn());
    const f = pruneUnits(byFlops, scores(byFlops), 0.3, { objective: 'flops' });
    // Knapsack order: dense unit 1 (1/14 ÷ 99), then filters (9/14 ÷ 704, 10/14 ÷ 704, …): 99 + 704 + 704 ≥ 0.3 · 4248.
    expect(f.removedPerLayer).toEqual([2, 1, 0]);
    expect(f.progress).toBeGreaterThanOrEqual(0.3);
    expect(f.progress).toBeCloseTo(byFlops.compute().reduction, 12);
    expect(f.progress).toBeLessThan(0.3 + 704 / dense);
    for (const pm of [byParams, byFlops]) { pm.dispose(); pm.model.dispose(); }
  });

  it("'flops' takes a residual Add's channels from both producers at once, and claims what the compact model sheds", () => {
    const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }) });
    const x = tf.input({ shape: [8, 8, 1] });
    const c1 = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1', ...init(1) }).apply(x) as TF.SymbolicTensor;
    const dw = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(c1) as TF.SymbolicTensor;
    const c2 = tf.layers.conv2d({ filters: 6, kernelSize: 1, activation: 'relu', name: 'c2', ...init(3) }).apply(dw) as TF.SymbolicTensor;
    const c3 = tf.layers.conv2d({ filters: 6, kernelSize: 1, name: 'c3', ...init(4) }).apply(c2) as TF.SymbolicTensor;
    const sum = tf.layers.add().apply([c3, dw]) as TF.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({}).apply(sum) as TF.SymbolicTensor;
    const h = tf.layers.dense({ units: 12, activation: 'relu', name: 'h', ...init(5) }).apply(pooled) as TF.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, activation: 'softmax', name: 'out', ...init(6) }).apply(h) as TF.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: out });
    const pm = new PrunableModel(model);
    const r = pruneUnits(pm, pm.layers.map((l) => new Float32Array(l.units).fill(1)), 0.3, { objective: 'flops' });
    // c1 (through the depthwise conv) and c3 are added: channel k of both is one unit, read by c2 and (pooled) by h.
    const removed = Object.fromEntries(pm.layers.map((l, i) => [l.name, r.removedPerLayer[i]]));
    expect(removed['c1']).toBe(removed['c3']);
    expect(removed['c1'] + removed['c2'] + removed['h']).toBeGreaterThan(0);
    const kept = (name: string) => { const l = pm.layers.find((x) => x.name === name)!; const m = pm.maskArrays()[l.index]; return Array.from({ length: l.units }, (_, u) => m.some((v, i) => i % l.units === u && v !== 0)); };
    expect(kept('c1')).toEqual(kept('c3'));
    const { model: compact } = compactModel(model, pm);
    const cpm = new PrunableModel(compact);
    const compactMacs = cpm.layers.reduce((a, l) => a + l.size * l.macsPerWeight, 0);
    expect(compactMacs).toBe(pm.compute().live);
    cpm.dispose();
    compact.dispose();
    pm.dispose();
    model.dispose();
  });

  it("MobileNet's conv → BN → depthwise → BN → pointwise: a unit takes its depthwise channel along; claim = compact MACs", () => {
    const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }) });
    const model = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 2], filters: 6, kernelSize: 3, padding: 'same', useBias: false, name: 'stem', ...init(1) }),
      tf.layers.batchNormalization({ name: 'stem_bn' }),
      tf.layers.reLU({ name: 'stem_relu' }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'dw', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      tf.layers.batchNormalization({ name: 'dw_bn' }),
      tf.layers.reLU({ name: 'dw_relu' }),
      tf.layers.conv2d({ filters: 5, kernelSize: 1, useBias: false, name: 'pw', ...init(3) }),
      tf.layers.globalAveragePooling2d({ name: 'gap' }),
      tf.layers.dense({ units: 3, name: 'out', ...init(4) }),
    ] });
    // Non-trivial batch-norm statistics, so that a wrongly sliced channel shows in the outputs.
    for (const bn of ['stem_bn', 'dw_bn']) {
      const l = model.getLayer(bn);
      l.setWeights(l.weights.map((w, k) => tf.tensor(Float32Array.from({ length: w.shape[0]! }, (_, c) => (k === 1 || k === 2 ? 0.3 * c - 0.5 : 0.6 + 0.2 * c)), w.shape as number[])));
    }
    const pm = new PrunableModel(model);
    expect(pm.layers.map((l) => l.name)).toEqual(['stem', 'dw/depthwise_kernel', 'pw', 'out']);
    // Stem filters 1 and 4 most prunable; a high target takes them (floors keep the rest).
    const scores = pm.layers.map((l, i) => Float32Array.from({ length: l.units }, (_, u) => (i === 0 && (u === 1 || u === 4) ? 2 : 1)));
    const r = pruneUnits(pm, scores, 0.25, { objective: 'flops' });
    expect(r.removedPerLayer[0]).toBeGreaterThanOrEqual(2);
    // The depthwise channels of removed stem filters are pruned with them (kernel [3, 3, 6, 1]: index p·6 + c).
    const dwMask = pm.maskArrays()[1];
    for (let p = 0; p < 9; p++) { expect(dwMask[p * 6 + 1]).toBe(0); expect(dwMask[p * 6 + 4]).toBe(0); }
    const { model: compact, report } = compactModel(model, pm);
    expect(report.skipped.map((s) => s.layer)).not.toContain('stem');
    expect(compact.getLayer('dw').weights[0].shape).toEqual([3, 3, 6 - r.removedPerLayer[0], 1]);
    expect(compact.getLayer('stem_bn').weights[0].shape).toEqual([6 - r.removedPerLayer[0]]);
    expect(compact.getLayer('dw_bn').weights[0].shape).toEqual([6 - r.removedPerLayer[0]]);
    expectCompactAsClaimed(model, pm, compact, () => tf.randomUniform([8, 8, 8, 2], -1, 1, 'float32', 5));
    compact.dispose();
    pm.dispose();
    model.dispose();
  });

  it("'flops' with blocks of 8: a step smaller than every block takes the block that makes it with the least overshoot, not the first in the order", () => {
    // big: 16 filters over 16×16 (36,864 MACs; a block of 8 frees ~50 % of the model); small: 16 filters over 2×2 (a block frees ~1.4 %).
    const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }) });
    const model = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [16, 16, 1], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', name: 'big', ...init(1) }),
      tf.layers.maxPooling2d({ poolSize: 8, name: 'pool' }),
      tf.layers.conv2d({ filters: 16, kernelSize: 1, activation: 'relu', name: 'small', ...init(2) }),
      tf.layers.globalAveragePooling2d({ name: 'gap' }),
      tf.layers.dense({ units: 3, name: 'out', ...init(3) }),
    ] });
    const pm = new PrunableModel(model);
    const scores = pm.layers.map((l) => new Float32Array(l.units).fill(1));
    // A 0.5 % step: twice it is ~190 MACs, less than either block, so both are passed over; the small block makes it.
    const r = pruneUnits(pm, scores, 0.005, { objective: 'flops' });
    expect(r.removedPerLayer).toEqual([0, 8, 0]);
    expect(r.progress).toBeGreaterThanOrEqual(0.005);
    expect(r.progress).toBeLessThan(0.02);
    pm.dispose();
    model.dispose();
  });

  it('SeparableConv2D: a filter is a pointwise column; its reader loses the depthwise channel and pointwise row; claim = compact MACs', () => {
    const glorot = (seed: number) => tf.initializers.glorotUniform({ seed });
    const sep = (name: string, filters: number, seed: number, extra: Record<string, unknown> = {}) => tf.layers.separableConv2d({
      filters, kernelSize: 3, padding: 'same', activation: 'relu', name, depthwiseInitializer: glorot(seed), pointwiseInitializer: glorot(seed + 1),
      biasInitializer: tf.initializers.randomUniform({ minval: -0.3, maxval: 0.5, seed: seed + 2 }), ...extra,
    });
    const model = tf.sequential({ layers: [
      sep('sep1', 6, 1, { inputShape: [8, 8, 2] }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }),
      sep('sep2', 5, 4),
      tf.layers.globalAveragePooling2d({ name: 'gap' }),
      tf.layers.dense({ units: 3, name: 'out', kernelInitializer: glorot(7) }),
    ] });
    const pm = new PrunableModel(model);
    expect(pm.layers.map((l) => `${l.name}:${String(l.structured)}`)).toEqual([
      'sep1/depthwise_kernel:false', 'sep1/pointwise_kernel:true', 'sep2/depthwise_kernel:false', 'sep2/pointwise_kernel:true', 'out:true']);
    // sep1's filters 1 and 4 most prunable.
    const scores = pm.layers.map((l, i) => Float32Array.from({ length: l.units }, (_, u) => (i === 1 && (u === 1 || u === 4) ? 2 : 1)));
    const r = pruneUnits(pm, scores, 0.2, { objective: 'flops', roundTo: 1 });
    expect(r.removedPerLayer[1]).toBeGreaterThanOrEqual(2);
    const masks = pm.maskArrays();
    for (const u of [1, 4]) {
      for (let row = 0; row < 2; row++) expect(masks[1][row * 6 + u]).toBe(0); // sep1's pointwise column u ([1, 1, 2, 6])
      for (let p = 0; p < 9; p++) expect(masks[2][p * 6 + u]).toBe(0); // sep2's depthwise channel u ([3, 3, 6, 1])
      for (let k = 0; k < 5; k++) expect(masks[3][u * 5 + k]).toBe(0); // sep2's pointwise row u ([1, 1, 6, 5])
    }
    const { model: compact, report } = compactModel(model, pm);
    const kept = 6 - r.removedPerLayer[1];
    expect(report.skipped.map((s) => s.layer)).not.toContain('sep1');
    expect(compact.getLayer('sep1').weights.map((w) => w.shape)).toEqual([[3, 3, 2, 1], [1, 1, 2, kept], [kept]]);
    expect(compact.getLayer('sep2').weights[0].shape).toEqual([3, 3, kept, 1]);
    expect(compact.getLayer('sep2').weights[1].shape[2]).toBe(kept);
    expect(report.layers.find((l) => l.name === 'sep1')).toMatchObject({ kind: 'separable_conv2d', unitsBefore: 6, unitsAfter: kept });
    expectCompactAsClaimed(model, pm, compact, () => tf.randomUniform([4, 8, 8, 2], -1, 1, 'float32', 5));
    compact.dispose();
    pm.dispose();
    model.dispose();
  });

  it('Conv2DTranspose ([kh, kw, filters, inputs]): reading removed channels loses their kernel slices; its own empty filters go in compaction', () => {
    const glorot = (seed: number) => tf.initializers.glorotUniform({ seed });
    const model = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1', kernelInitializer: glorot(1) }),
      tf.layers.conv2dTranspose({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'up', kernelInitializer: glorot(2),
        biasInitializer: tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: 3 }) }),
      tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'c2', kernelInitializer: glorot(4) }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ units: 2, name: 'out', kernelInitializer: glorot(5) }),
    ] });
    const pm = new PrunableModel(model);
    expect(pm.layers.map((l) => `${l.name}:${l.shape.join('x')}:${String(l.structured)}`)).toEqual(['c1:3x3x2x8:true', 'up:3x3x5x8:false', 'c2:3x3x5x3:true', 'out:300x2:true']);
    const scores = pm.layers.map((l, i) => Float32Array.from({ length: l.units }, (_, u) => (i === 0 && (u === 2 || u === 5) ? 2 : 1)));
    const r = pruneUnits(pm, scores, 0.1, { objective: 'flops', roundTo: 1 });
    expect(r.removedPerLayer[0]).toBeGreaterThanOrEqual(2);
    // up's entries reading c1's channel 2 and 5: every index ≡ 2, 5 (mod 8) of its [3, 3, 5, 8] kernel.
    const masks = pm.maskArrays();
    for (let idx = 0; idx < 3 * 3 * 5 * 8; idx++) if (idx % 8 === 2 || idx % 8 === 5) expect(masks[1][idx]).toBe(0);
    // up's filter 4 pruned connection by connection (index 4 · 8 + c within each tap's 5 · 8 block), and c2's rows reading
    // it ((p · 5 + 4) · 3 + q): a filter nothing reads, which compaction takes out.
    const up = Float32Array.from(masks[1]);
    for (let p = 0; p < 9; p++) for (let c = 0; c < 8; c++) up[p * 40 + 4 * 8 + c] = 0;
    const c2 = Float32Array.from(masks[2]);
    for (let p = 0; p < 9; p++) for (let q = 0; q < 3; q++) c2[(p * 5 + 4) * 3 + q] = 0;
    pm.setMaskArrays(masks.map((m, i) => (i === 1 ? up : i === 2 ? c2 : m)));
    const { model: compact, report } = compactModel(model, pm);
    const kept = 8 - r.removedPerLayer[0];
    expect(compact.getLayer('up').weights[0].shape).toEqual([3, 3, 4, kept]);
    expect(report.layers.find((l) => l.name === 'up')).toMatchObject({ kind: 'conv2d_transpose', unitsBefore: 5, unitsAfter: 4, inputsBefore: 8, inputsAfter: kept });
    expect(compact.getLayer('c2').weights[0].shape).toEqual([3, 3, 4, 3]);
    expectCompactAsClaimed(model, pm, compact, () => tf.randomUniform([4, 6, 6, 2], -1, 1, 'float32', 7));
    compact.dispose();
    pm.dispose();
    model.dispose();
  });

  it('channels summed with a Conv2DTranspose (whose filters never go whole) are kept, said so, and the claim equals the compact MACs', () => {
    const glorot = (seed: number) => tf.initializers.glorotUniform({ seed });
    const x = tf.input({ shape: [8, 8, 1] });
    const c1 = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1', kernelInitializer: glorot(1) }).apply(x) as TF.SymbolicTensor;
    const ct = tf.layers.conv2dTranspose({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'ct', kernelInitializer: glorot(2) }).apply(c1) as TF.SymbolicTensor;
    const sum = tf.layers.add({ name: 'add' }).apply([c1, ct]) as TF.SymbolicTensor;
    const c2 = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c2', kernelInitializer: glorot(3) }).apply(sum) as TF.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, name: 'out', kernelInitializer: glorot(4) }).apply(tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(c2)) as TF.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: out });
    const pm = new PrunableModel(model);
    expect(unitsKeptFor(pm)).toContainEqual({ layer: 'c1', reason: "its channels are merged with those of 'ct' (Conv2DTranspose), whose units are not removed whole" });
    const scores = pm.layers.map((l) => Float32Array.from({ length: l.units }, (_, u) => u));
    const r = pruneUnits(pm, scores, 0.1, { objective: 'flops', roundTo: 1 });
    expect(r.removedPerLayer[0]).toBe(0); // c1: its channels are ct's too
    expect(r.removedPerLayer[2]).toBeGreaterThan(0); // c2 goes instead
    const { model: compact } = compactModel(model, pm);
    expectCompactAsClaimed(model, pm, compact, () => tf.randomUniform([4, 8, 8, 1], -1, 1, 'float32', 7));
    compact.dispose();
    pm.dispose();
    model.dispose();
  });

  it('a SeparableConv2D with depth multiplier 2 keeps the units of the layer it reads, and says why', () => {
    const model = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 4, kernelSize: 3, padding: 'same', name: 'c1' }),
      tf.layers.separableConv2d({ filters: 3, kernelSize: 3, depthMultiplier: 2, name: 'sep' }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ units: 2, name: 'out' }),
    ] });
    const { model: compact, report } = compactModel(model);
    expect(report.skipped.find((s) => s.layer === 'c1')?.reason).toBe("units kept: 'sep' (SeparableConv2D) has depth multiplier 2, so its channels are not the producer's");
    compact.dispose();
    model.dispose();
  });

  it('an LSTM / GRU unit is one column per gate and a recurrent row: removed whole, compacted, outputs unchanged', () => {
    for (const [rnn, gates] of [['lstm', 4], ['gru', 3], ['simpleRNN', 1]] as const) {
      const glorot = (seed: number) => tf.initializers.glorotUniform({ seed });
      const model = tf.sequential({ layers: [
        tf.layers.embedding({ inputDim: 12, outputDim: 5, inputLength: 6, name: 'emb', embeddingsInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: 1 }) }),
        tf.layers[rnn]({ units: 6, returnSequences: true, name: 'r1', kernelInitializer: glorot(2), recurrentInitializer: glorot(3), biasInitializer: tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: 4 }) }),
        tf.layers[rnn]({ units: 5, name: 'r2', kernelInitializer: glorot(5), recurrentInitializer: glorot(6) }),
        tf.layers.dense({ units: 3, name: 'out', kernelInitializer: glorot(7) }),
      ] });
      const pm = new PrunableModel(model);
      const r1 = pm.layers.findIndex((l) => l.name === 'r1');
      expect(pm.layers[r1]).toMatchObject({ structured: true, gates, units: 6 * gates });
      expect(pm.layers.find((l) => l.name === 'r1/recurrent_kernel')).toMatchObject({ structured: false });
      // r1's units 1 and 4 most prunable (every gate column says so), then r2's unit 0.
      const scores = pm.layers.map((l, i) => Float32Array.from({ length: l.units }, (_, c) => (i === r1 && [1, 4].includes(c % 6) ? 3 : l.name === 'r2' && c % 5 === 0 ? 2 : 1)));
      const r = pruneUnits(pm, scores, 0.25);
      expect(r.removedPerLayer[r1]).toBeGreaterThanOrEqual(2);
      const m = pm.maskArrays();
      const rec = pm.layers.findIndex((l) => l.name === 'r1/recurrent_kernel');
      for (const u of [1, 4]) {
        for (let g = 0; g < gates; g++) {
          for (let row = 0; row < 5; row++) expect(m[r1][row * 6 * gates + g * 6 + u]).toBe(0);
          for (let row = 0; row < 6; row++) expect(m[rec][row * 6 * gates + g * 6 + u]).toBe(0);
        }
        expect(m[rec].slice(u * 6 * gates, (u + 1) * 6 * gates).every((v) => v === 0)).toBe(true);
      }
      const { model: compact, report } = compactModel(model, pm);
      // The embedding is pruned connection by connection only: its width stays, and the report says so.
      expect(report.skipped).toEqual([{ layer: 'emb', reason: 'units kept: compaction does not remove units of an Embedding layer (its pruned connections stay zeros in the full shape)' }]);
      const l1 = report.layers.find((l) => l.name === 'r1')!;
      const k1 = 6 - r.removedPerLayer[r1];
      expect(l1).toMatchObject({ kind: rnn === 'simpleRNN' ? 'simple_rnn' : rnn, unitsBefore: 6, unitsAfter: k1 });
      expect(compact.getLayer('r1').weights.map((w) => w.shape)).toEqual([[5, k1 * gates], [k1, k1 * gates], [k1 * gates]]);
      expect(compact.getLayer('r2').weights[0].shape).toEqual([k1, (5 - r.removedPerLayer[pm.layers.findIndex((l) => l.name === 'r2')]) * gates]);
      expectCompactAsClaimed(model, pm, compact, () => tf.tensor2d(Array.from({ length: 8 * 6 }, (_, i) => (i * 7) % 12), [8, 6]));
      compact.dispose();
      pm.dispose();
      model.dispose();
    }
  });

  it('units inside nested models (a Sequential backbone, a functional block with an Add) go whole and compact', () => {
    const glorot = (seed: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }) });
    const backbone = tf.sequential({ name: 'backbone', layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 6, kernelSize: 3, activation: 'relu', name: 'conv1', ...glorot(1) }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }),
      tf.layers.conv2d({ filters: 5, kernelSize: 3, activation: 'relu', name: 'conv2', ...glorot(2) }),
    ] });
    const bx = tf.input({ shape: [12] });
    const b1 = tf.layers.dense({ units: 7, activation: 'tanh', name: 'b1', ...glorot(3) }).apply(bx) as TF.SymbolicTensor;
    const b2 = tf.layers.dense({ units: 12, name: 'b2', ...glorot(4) }).apply(b1) as TF.SymbolicTensor;
    const block = tf.model({ name: 'block', inputs: bx, outputs: tf.layers.add({ name: 'res' }).apply([bx, b2]) as TF.SymbolicTensor });
    const model = tf.sequential({ layers: [
      backbone,
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ units: 12, activation: 'relu', name: 'proj', ...glorot(5) }),
      block,
      tf.layers.dense({ units: 3, name: 'out', ...glorot(6) }),
    ] });
    const pm = new PrunableModel(model);
    expect(pm.layers.filter((l) => l.structured).map((l) => l.name)).toEqual(['backbone/conv1', 'backbone/conv2', 'proj', 'block/b1', 'block/b2', 'out']);
    const r = pruneUnits(pm, pm.layers.map((l, i) => Float32Array.from({ length: l.units }, (_, u) => ((u * 7 + i) % 5) / 5)), 0.5, { objective: 'flops' });
    const removed = Object.fromEntries(pm.layers.map((l, i) => [l.name, r.removedPerLayer[i]]));
    expect(removed['backbone/conv1']).toBeGreaterThan(0);
    // proj's units are added to the block's input: proj and b2 lose the same channels (a group across the boundary).
    expect(removed['proj']).toBe(removed['block/b2']);
    const { model: compact, report } = compactModel(model, pm);
    expect(report.skipped).toEqual([]);
    expect(report.layers.find((l) => l.name === 'backbone/conv1')!.unitsAfter).toBe(6 - removed['backbone/conv1']);
    expectCompactAsClaimed(model, pm, compact, () => tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', 3));
    compact.dispose();
    pm.dispose();
    model.dispose();
  });

  it("'flops' leaves convolutions at multiples of 8 channels (odd counts run slower); 'params' does not round", () => {
    const build = () => tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 20, kernelSize: 3, activation: 'relu', name: 'c1', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.conv2d({ filters: 30, kernelSize: 3, activation: 'relu', name: 'c2', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3, name: 'out', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    ] });
    const scores = (pm: PrunableModel) => pm.layers.map((l) => Float32Array.from({ length: l.units }, (_, u) => (u * 37) % 11));
    const model = build();
    const pm = new PrunableModel(model);
    const r = pruneUnits(pm, scores(pm), 0.3, { objective: 'flops' });
    const kept = r.removedPerLayer.slice(0, 2).map((n, i) => [20, 30][i] - n);
    for (const [i, k] of kept.entries()) if (r.removedPerLayer[i] > 0) expect(k % 8).toBe(0);
    expect(r.progress).toBeCloseTo(pm.compute().reduction, 12);
    const { model: compact } = compactModel(model, pm);
    expect(compact.layers.filter((l) => l.getClassName() === 'Conv2D').map((l) => l.weights[0].shape[3])).toEqual(kept);
    const plain = build();
    const pp = new PrunableModel(plain);
    const q = pruneUnits(pp, scores(pp), 0.3, { objective: 'flops', roundTo: 1 });
    expect(q.removedPerLayer.slice(0, 2).some((n, i) => ([20, 30][i] - n) % 8 !== 0)).toBe(true); // what rounding changed
    for (const x of [compact, pm, model, pp, plain]) x.dispose();
  });

  it("a filter whose rounded block would take a small 'flops' step past twice its size waits while other units can make the step", () => {
    // conv a (16 filters) → conv b (16) → flatten → dense h (32) → out. Uniform scores: the knapsack order puts the
    // filters first (most MACs freed), and one filter rounded to 8 is 41–48 % of the MACs.
    const model = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', name: 'a', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', name: 'b', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 32, activation: 'relu', name: 'h', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      tf.layers.dense({ units: 3, name: 'out', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
    ] });
    const uniform = (pm: PrunableModel) => pm.layers.map((l) => new Float32Array(l.units).fill(1));
    const pm = new PrunableModel(model);
    const snap = pm.snapshot();
    const small = pruneUnits(pm, uniform(pm), 0.05, { objective: 'flops' });
    expect(small.removedPerLayer.slice(0, 2)).toEqual([0, 0]); // no filter: their blocks are 8 × ~10 k of ~190 k MACs
    expect(small.removedPerLayer[2]).toBeGreaterThan(0);
    expect(small.progress).toBeGreaterThanOrEqual(0.05);
    expect(small.progress).toBeLessThan(0.1);
    pm.restore(snap);
    // A step large enough for a block takes one, rounded as before, and not a second layer's block on top: the rest of a
    // started block counts as taken (without that, single filters from both layers were each rounded up to 8).
    const large = pruneUnits(pm, uniform(pm), 0.3, { objective: 'flops' });
    expect(large.removedPerLayer.slice(0, 2).filter((n) => n > 0)).toEqual([8]);
    expect(large.progress).toBeGreaterThanOrEqual(0.3);
    expect(large.progress).toBeLessThan(0.5);
    for (const x of [pm, model]) x.dispose();
    tf.dispose(snap.weights);
    tf.dispose(snap.masks);
  });

  it('goes with unit granularity only', () => {
    expect(checkObjective('flops', 'unit')).toBe('flops');
    expect(checkObjective('params', 'hierarchical')).toBe('params');
    expect(() => checkObjective('flops', 'connection')).toThrow(/--objective flops needs --granularity unit/);
    expect(() => checkObjective('latency', 'hierarchical')).toThrow(/--objective latency needs --granularity unit/);
    expect(() => checkObjective('time', 'unit')).toThrow(/--objective must be one of params, flops, latency, got 'time'/);
  });
});

describe('unit scores', () => {
  it('L1 / L2 norms of incoming live weights (higher = prune first)', () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 3, name: 'd' }), tf.layers.dense({ units: 1, name: 'o' })] });
    model.layers[0].setWeights([tf.tensor([[1, -3, 0.5], [2, 4, -0.5]]), tf.zeros([3])]);
    const pm = new PrunableModel(model);
    expect(Array.from(unitL1Scores(pm)[0])).toEqual([-3, -7, -1]);
    const l2 = unitL2Scores(pm)[0];
    expect(l2[0]).toBeCloseTo(-Math.sqrt(5), 6);
    expect(l2[1]).toBeCloseTo(-5, 6);
    pm.dispose();
    model.dispose();
  });

  it('mean activation and Taylor rank a dead unit first; the baseline registry names them', () => {
    const model = buildModel({ family: 'mlp', inputShape: [6], hidden: [5], numClasses: 2, seed: 5 });
    const pm = new PrunableModel(model);
    pm.setMaskArrays(pm.layers.map((l, i) => Float32Array.from({ length: l.size }, (_, j) => (i === 0 && j % 5 === 2 ? 0 : 1))));
    const rng = new Rng(1);
    const calib = { x: tf.tensor2d(Float32Array.from({ length: 40 * 6 }, () => rng.next()), [40, 6]), labels: Int32Array.from({ length: 40 }, (_, i) => i % 2) };
    const before = numTensors();
    const act = unitMeanActivationScores(pm, calib, { batchSize: 16 });
    const tay = unitTaylorScores(pm, calib, { batchSize: 16 });
    expect(numTensors()).toBe(before);
    for (const s of [act, tay]) {
      expect(s.map((a) => a.length)).toEqual([5, 2]);
      expect(Math.max(...s[0])).toBe(s[0][2]);
      s.forEach((a) => a.forEach((v) => expect(Number.isFinite(v)).toBe(true)));
    }
    expect(Array.from(unitBaselineScores('l1', pm)[0])).toEqual(Array.from(unitL1Scores(pm)[0]));
    expect(() => unitBaselineScores('nope', pm)).toThrow(/valid unit scorers: l1, l2, mean-activation, taylor/);
    expect(() => unitBaselineScores('taylor', pm)).toThrow(/needs calibration data/);
    calib.x.dispose();
    pm.dispose();
    model.dispose();
  });

  it('aggregates connection scores per unit (mean, max), +∞ for units without live connections', () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2, name: 'd' }), tf.layers.dense({ units: 2, name: 'o' })] });
    const pm = new PrunableModel(model);
    pm.setMaskArrays([Float32Array.of(1, 0, 1, 0, 1, 0), Float32Array.of(1, 1, 1, 1)]);
    const f = liveFeatures(pm); // layer 0 live: indices 0, 2, 4 → all unit 0
    const scores = f.layers.map((lf) => Float32Array.from(lf.indices, (j) => j));
    const mean = unitScoresFromConnectionScores(f, scores, pm);
    expect(Array.from(mean[0])).toEqual([2, Infinity]);
    expect(Array.from(mean[1])).toEqual([1, 2]);
    expect(Array.from(unitScoresFromConnectionScores(f, scores, pm, 'max')[0])).toEqual([4, Infinity]);
    pm.dispose();
    model.dispose();
  });
});

describe('channels-first convolutions', () => {
  it('count MACs over the spatial axes and score each filter from its own channel', () => {
    const model = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [1, 9, 9], dataFormat: 'channelsFirst', filters: 5, kernelSize: 3, strides: 2, activation: 'relu', name: 'cf', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.flatten({ dataFormat: 'channelsFirst' } as never),
      tf.layers.dense({ units: 3, activation: 'softmax', name: 'out', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ] });
    // Filter 2 outputs nothing: zero kernel and bias.
    const [k, b] = model.layers[0].getWeights();
    const mask = tf.tensor1d([1, 1, 0, 1, 1]);
    model.layers[0].setWeights([tf.mul(k, mask), tf.mul(b, mask)]);
    const pm = new PrunableModel(model);
    // Output [batch, 5, 4, 4]: 16 positions per filter weight (not channels × height, 20).
    expect(pm.layers[0].macsPerWeight).toBe(4 * 4);
    const x = tf.randomUniform([32, 1, 9, 9], 0, 1, 'float32', 3);
    const scores = unitMeanActivationScores(pm, { x, labels: new Int32Array(32) }, { batchSize: 8 });
    // Reference: mean |activation| per filter, read on axis 1.
    const y = model.predict(x) as TF.Tensor;
    const probe = tf.model({ inputs: model.inputs, outputs: model.layers[0].output as TF.SymbolicTensor });
    const act = probe.predict(x) as TF.Tensor;
    const ref = tf.mean(tf.abs(act), [0, 2, 3]).dataSync();
    expect(scores[0][2]).toBeCloseTo(0, 7);
    Array.from(ref).forEach((v, u) => expect(scores[0][u]).toBeCloseTo(-v, 5));
    [x, y, act, mask].forEach((t) => t.dispose());
    pm.dispose();
    model.dispose();
  });
});
