import type * as TF from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { compactCommand } from '../../src/cli/compact.js';
import { compactPruned } from '../../src/compact-service.js';
import { ModelError, UsageError } from '../../src/errors.js';
import { buildModel } from '../../src/models/families.js';
import { loadModel, saveModel } from '../../src/models/io.js';
import { compactModel } from '../../src/pruning/compact.js';
import { masksToJson } from '../../src/pruning/mask-io.js';
import { decodeSparse } from '../../src/pruning/sparse-format.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { Rng } from '../../src/util/random.js';
import { numTensors, quantizeUint8, tempDir } from '../helpers.js';

/** Gives every bias a random non-zero value (fresh models have zero biases, which hides folding bugs). */
function randomBiases(model: TF.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const l of model.layers) {
    for (const w of l.weights) {
      if (!/bias|beta|moving_mean/.test(w.originalName ?? w.name)) continue;
      const v = w.read();
      w.write(tf.tensor(Float32Array.from({ length: v.size }, () => rng.next() - 0.3), v.shape));
    }
    for (const w of l.weights) {
      if (!/gamma|moving_variance/.test(w.originalName ?? w.name)) continue;
      const v = w.read();
      w.write(tf.tensor(Float32Array.from({ length: v.size }, () => 0.5 + rng.next()), v.shape));
    }
  }
}

/** Random masks at `keep` density, then the edits in `edit` (layer index → mask mutator). */
function applyMasks(pm: PrunableModel, seed: number, keep: number, edit: Record<number, (m: Float32Array, shape: number[]) => void>): void {
  const rng = new Rng(seed);
  const masks = pm.layers.map((l, i) => {
    const m = Float32Array.from({ length: l.size }, () => (rng.next() < keep ? 1 : 0));
    edit[i]?.(m, l.shape);
    return m;
  });
  pm.setMaskArrays(masks);
}

/** Zeros unit u's incoming weights (kernel column / filter). */
const killIn = (u: number) => (m: Float32Array, shape: number[]) => {
  const out = shape[shape.length - 1];
  for (let i = u; i < m.length; i += out) m[i] = 0;
};
/** Zeros the weights reading input channel c (Dense row c, or Conv input channel c; `groups` rows per channel). */
const killOut = (c: number, channels: number) => (m: Float32Array, shape: number[]) => {
  const out = shape[shape.length - 1];
  for (let r = 0; r < m.length / out; r++) if (r % channels === c) m.fill(0, r * out, (r + 1) * out);
};
const both = (...fs: ((m: Float32Array, s: number[]) => void)[]) => (m: Float32Array, s: number[]) => fs.forEach((f) => f(m, s));

function maxDiff(a: TF.LayersModel, b: TF.LayersModel, shape: number[], seed = 1): number {
  return tf.tidy(() => {
    const x = tf.randomUniform([16, ...shape], -1, 2, 'float32', seed);
    const d = tf.max(tf.abs(tf.sub(a.predict(x) as TF.Tensor, b.predict(x) as TF.Tensor)));
    return d.dataSync()[0];
  });
}

function unitsOf(m: TF.LayersModel): Record<string, number> {
  const r: Record<string, number> = {};
  for (const l of m.layers) if (l.weights.length > 0 && l.getClassName() !== 'BatchNormalization') r[l.name] = l.weights[0].shape.at(-1)!;
  return r;
}

describe('compactModel', () => {
  it('MLP: removes dead and unused units, folds tanh/relu constants, outputs equal the masked model', () => {
    const model = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [12], units: 10, activation: 'relu', name: 'd1' }),
      tf.layers.dense({ units: 8, activation: 'tanh', name: 'd2' }),
      tf.layers.dense({ units: 4, activation: 'softmax', name: 'out' }),
    ] });
    randomBiases(model, 1);
    // d1 bias of unit 0 > 0 so that relu(b) flows on.
    const b1 = model.layers[0].weights[1];
    const bv = Float32Array.from(b1.read().dataSync()); bv[0] = 0.7; bv[4] = -0.5;
    b1.write(tf.tensor(bv));
    const pm = new PrunableModel(model);
    applyMasks(pm, 2, 0.8, {
      // d1: 0 dead (relu 0.7), 4 dead (relu(−0.5) = 0), 1 unused, 2 both.
      0: both(killIn(0), killIn(4), killIn(2)),
      // d2: its rows 1 and 2 (read d1 units 1, 2) pruned; unit 3 dead (tanh(b) ≠ 0).
      1: both(killOut(1, 10), killOut(2, 10), killIn(3)),
      // out: row 5 pruned (d2 unit 5 unused); output units are never removed even when dead.
      2: both(killOut(5, 8), killIn(0)),
    });
    const before = numTensors();
    const { model: compact, report } = compactModel(model, pm);
    expect(unitsOf(compact)).toEqual({ d1: 6, d2: 6, out: 4 });
    expect(report.layers.map((l) => [l.removedDead, l.removedUnused])).toEqual([[2, 2], [1, 1], [0, 0]]); // d1 unit 2 (dead and unused) counts as unused
    expect(report.foldedUnits).toBe(2);
    expect(report.skipped).toEqual([]);
    expect(report.paramsAfter).toBe(12 * 6 + 6 + 6 * 6 + 6 + 6 * 4 + 4);
    expect(maxDiff(model, compact, [12])).toBeLessThan(1e-5);
    // The input model is not changed, and compaction leaks nothing beyond the new model's weights.
    expect(unitsOf(model)).toEqual({ d1: 10, d2: 8, out: 4 });
    compact.dispose();
    expect(numTensors()).toBe(before);
    pm.dispose();
    model.dispose();
  });

  it('sigmoid MLP without masks: reads the pruned weights from the zeros', () => {
    const model = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [6], units: 5, activation: 'sigmoid', name: 'h' }),
      tf.layers.dense({ units: 2, activation: 'linear', name: 'out' }),
    ] });
    randomBiases(model, 3);
    const pm = new PrunableModel(model);
    applyMasks(pm, 4, 1, { 0: both(killIn(1), killIn(3)) });
    pm.dispose(); // the kernels keep their zeros
    const { model: compact, report } = compactModel(model);
    expect(unitsOf(compact)).toEqual({ h: 3, out: 2 });
    expect(report.foldedUnits).toBe(2);
    expect(maxDiff(model, compact, [6])).toBeLessThan(1e-5);
    compact.dispose();
    model.dispose();
  });

  it('a recurrent unit the next layer does not read stays while its state feeds kept units; it goes with its recurrent row (LSTM, GRU, SimpleRNN)', () => {
    for (const kind of ['lstm', 'gru', 'simpleRNN'] as const) {
      const model = tf.sequential({ layers: [
        tf.layers[kind]({ inputShape: [5, 2], units: 6, name: 'rnn', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), recurrentInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
        tf.layers.dense({ units: 3, name: 'out', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      ] });
      const weight = (name: string) => model.weights.find((v) => v.originalName === name || v.name.endsWith(name))!;
      const zero = (name: string, rows: number[]) => {
        const w = weight(name);
        const a = w.read().arraySync() as number[][];
        for (const r of rows) a[r] = a[r].map(() => 0);
        w.write(tf.tensor2d(a));
      };
      const x = tf.randomNormal([16, 5, 2], 0, 1, 'float32', 4);
      const check = (units: number) => {
        const { model: compact } = compactModel(model);
        expect((compact.getLayer('rnn').getConfig() as { units: number }).units, kind).toBe(units);
        const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(model.predict(x) as TF.Tensor, compact.predict(x) as TF.Tensor))).dataSync()[0]);
        expect(diff, kind).toBeLessThan(1e-5);
        compact.dispose();
      };
      // Units 0–2 are read by no output unit, but their states feed every unit through the recurrent kernel: kept.
      zero('out/kernel', [0, 1, 2]);
      check(6);
      // Units 0 and 1 feed back nothing either; unit 2's state still reaches the kept units 3–5: only 0 and 1 go.
      zero('rnn/recurrent_kernel', [0, 1]);
      check(4);
      // Unit 2 read back only by unit 0 (which goes): it goes with it.
      const w = weight('rnn/recurrent_kernel');
      const a = w.read().arraySync() as number[][];
      a[2] = a[2].map((v, k) => (k % 6 === 0 ? v : 0));
      w.write(tf.tensor2d(a));
      check(3);
      x.dispose();
      model.dispose();
    }
  });

  it('CNN: conv→conv (valid) folding and conv→pool→flatten→dense index mapping', () => {
    const model = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [12, 12, 2], filters: 6, kernelSize: 3, activation: 'relu', name: 'c1' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'p1' }),
      tf.layers.conv2d({ filters: 5, kernelSize: 2, activation: 'sigmoid', name: 'c2' }),
      tf.layers.averagePooling2d({ poolSize: 2, name: 'p2' }),
      tf.layers.dropout({ rate: 0.3, name: 'drop' }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ units: 7, activation: 'relu', name: 'd1' }),
      tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
    ] });
    randomBiases(model, 5);
    const b = model.getLayer('c1').weights[1];
    const bv = Float32Array.from(b.read().dataSync()); bv[0] = 0.4; bv[3] = -0.2;
    b.write(tf.tensor(bv));
    const pm = new PrunableModel(model);
    // c2 output 4×4 → avg pool → 2×2: d1 reads 4 positions × 5 channels.
    const flatRows = pm.layers[2].shape[0];
    applyMasks(pm, 6, 0.85, {
      0: both(killIn(0), killIn(3), killIn(5)), // c1: 0 dead relu 0.4 (fold), 3 dead relu 0 (drop), 5 dead+unused
      1: both(killOut(1, 6), killOut(5, 6), killIn(2)), // c2 reads c1 filter 1 nowhere; c2 filter 2 dead sigmoid (fold via flatten)
      2: both(killOut(4, 5), killIn(6)), // d1 never reads c2 filter 4 (every position); d1 unit 6 dead
      3: killOut(0, 7), // out never reads d1 unit 0
    });
    expect(flatRows).toBe(20);
    const { model: compact, report } = compactModel(model, pm);
    expect(unitsOf(compact)).toEqual({ c1: 2, c2: 3, d1: 5, out: 3 });
    expect(report.foldedUnits).toBeGreaterThanOrEqual(2);
    expect(maxDiff(model, compact, [12, 12, 2])).toBeLessThan(1e-5);
    compact.dispose();
    pm.dispose();
    model.dispose();
  });

  it("keeps a dead filter whose constant cannot fold through 'same' padding, and slices batch norm", () => {
    const model = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }),
      tf.layers.batchNormalization({ name: 'bn' }),
      tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c2' }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ units: 2, name: 'out' }),
    ] });
    randomBiases(model, 7);
    const pm = new PrunableModel(model);
    applyMasks(pm, 8, 1, {
      0: both(killIn(0), killIn(2)), // dead, but BN turns their constants non-zero: cannot fold into 'same' c2
      1: killOut(1, 4), // c1 filter 1 unused
    });
    const { model: compact, report } = compactModel(model, pm);
    expect(unitsOf(compact)).toEqual({ c1: 3, c2: 3, out: 2 });
    expect(compact.getLayer('bn').weights[0].shape).toEqual([3]);
    // The report lists the sliced batch norm too (its 4 vectors, 4 → 3 channels), so its rows add up to the totals.
    expect(report.layers.map((l) => l.name)).toEqual(['c1', 'bn', 'c2', 'out']);
    expect(report.layers[1]).toMatchObject({ kind: 'batch_normalization', follows: 'c1', unitsBefore: 4, unitsAfter: 3, paramsBefore: 16, paramsAfter: 12 });
    expect(report.layers.reduce((a, l) => a + l.paramsAfter, 0)).toBe(report.paramsAfter);
    expect(maxDiff(model, compact, [6, 6, 1])).toBeLessThan(1e-5);
    compact.dispose();
    pm.dispose();
    model.dispose();
  });

  it('PReLU slices its alpha with the units it sits on (per unit after a Dense; per position and channel, or shared, after a conv)', () => {
    const alphas = (m: TF.LayersModel) => { for (const l of m.layers) if (l.getClassName() === 'PReLU') { const v = l.weights[0].read(); l.weights[0].write(tf.tensor(Float32Array.from({ length: v.size }, (_, i) => 0.05 + 0.01 * (i % 17)), v.shape)); } };
    const mlp = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [8], units: 6, name: 'd1' }), tf.layers.prelu({ name: 'p1' }),
      tf.layers.dense({ units: 3, name: 'out' }),
    ] });
    randomBiases(mlp, 3);
    alphas(mlp);
    const pm = new PrunableModel(mlp);
    applyMasks(pm, 4, 1, { 1: both(killOut(1, 6), killOut(4, 6)) }); // d1 units 1 and 4 unused
    const { model: compact, report } = compactModel(mlp, pm);
    expect(report.skipped).toEqual([]);
    expect(unitsOf(compact)).toEqual({ d1: 4, p1: 4, out: 3 });
    expect(maxDiff(mlp, compact, [8])).toBeLessThan(1e-5);
    compact.dispose();
    pm.dispose();
    mlp.dispose();
    for (const sharedAxes of [undefined, [1, 2]]) {
      const cnn = tf.sequential({ layers: [
        tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 4, kernelSize: 3, name: 'c1' }), tf.layers.prelu({ name: 'p', ...(sharedAxes ? { sharedAxes } : {}) }),
        tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'c2' }), tf.layers.flatten({}), tf.layers.dense({ units: 2, name: 'out' }),
      ] });
      randomBiases(cnn, 5);
      alphas(cnn);
      const pmc = new PrunableModel(cnn);
      applyMasks(pmc, 6, 1, { 1: killOut(2, 4) }); // c1 filter 2 unused
      const { model: c } = compactModel(cnn, pmc);
      expect(unitsOf(c).c1).toBe(3);
      expect(c.getLayer('p').weights[0].shape).toEqual(sharedAxes ? [1, 1, 3] : [4, 4, 3]);
      expect(maxDiff(cnn, c, [6, 6, 2])).toBeLessThan(1e-5);
      c.dispose();
      pmc.dispose();
      cnn.dispose();
    }
  });

  it('zero padding, cropping and upsampling keep channels: conv → pad → conv → upsample → crop → conv compacts exactly', () => {
    const model = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 5, kernelSize: 3, activation: 'relu', name: 'c1' }),
      tf.layers.zeroPadding2d({ padding: 1, name: 'pad' }),
      tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', name: 'c2' }),
      tf.layers.upSampling2d({ size: [2, 2], name: 'up' }),
      tf.layers.cropping2D({ cropping: [[1, 1], [1, 1]], name: 'crop' }),
      tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'c3' }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ units: 2, name: 'out' }),
    ] });
    randomBiases(model, 21);
    const pm = new PrunableModel(model);
    applyMasks(pm, 22, 0.8, { 1: killOut(3, 5), 2: killOut(0, 4), 0: killIn(1) });
    const { model: compact, report } = compactModel(model, pm);
    expect(report.skipped).toEqual([]);
    // c1: filter 3 unused; filter 1 dead but its constant relu(bias) is not constant after the zero padding (kept).
    expect(unitsOf(compact)).toMatchObject({ c1: 4, c2: 3 });
    expect(maxDiff(model, compact, [6, 6, 2])).toBeLessThan(1e-5);
    compact.dispose();
    pm.dispose();
    model.dispose();
  });

  it('Conv1D: conv→pool→conv (valid, folded) and conv→global pool→dense, like Conv2D', () => {
    const model = tf.sequential({ layers: [
      tf.layers.conv1d({ inputShape: [12, 3], filters: 5, kernelSize: 3, activation: 'tanh', name: 'c1' }),
      // The identity when serving, channel by channel (it used to keep every filter of c1: a new user's model).
      tf.layers.spatialDropout1d({ rate: 0.2, name: 'sdrop' }),
      tf.layers.maxPooling1d({ poolSize: 2, name: 'pool' }),
      tf.layers.conv1d({ filters: 4, kernelSize: 2, activation: 'relu', name: 'c2' }),
      tf.layers.globalMaxPooling1d({ name: 'gmp' }),
      tf.layers.dense({ units: 2, name: 'out' }),
    ] });
    randomBiases(model, 11);
    const pm = new PrunableModel(model);
    applyMasks(pm, 12, 0.8, {
      0: both(killIn(0), killIn(3)), // dead: tanh(bias) is constant through the dropout and max pooling and folds into c2 ('valid')
      1: both(killOut(1, 5), killIn(2)), // c1 filter 1 unused; c2 filter 2 dead: relu(bias) through the global max pool folds into out
    });
    const { model: compact, report } = compactModel(model, pm);
    expect(report.skipped).toEqual([]);
    expect(unitsOf(compact)).toEqual({ c1: 2, c2: 3, out: 2 });
    expect(report.layers.find((l) => l.name === 'c2')).toMatchObject({ kind: 'conv1d', inputsBefore: 5, inputsAfter: 2 });
    expect(maxDiff(model, compact, [12, 3])).toBeLessThan(1e-5);
    compact.dispose();
    pm.dispose();
    model.dispose();
  });

  it('ResNet block: a channel read by no consumer goes from the stem, the residual branch, both batch norms and every reader', () => {
    const x = tf.input({ shape: [6, 6, 2] });
    const stem = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'stem' }).apply(x) as TF.SymbolicTensor;
    const sbn = tf.layers.batchNormalization({ name: 'stem_bn' }).apply(stem) as TF.SymbolicTensor;
    const s1 = tf.layers.activation({ activation: 'relu', name: 'stem_relu' }).apply(sbn) as TF.SymbolicTensor;
    const r1 = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'r1' }).apply(s1) as TF.SymbolicTensor;
    const r2 = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'r2' }).apply(r1) as TF.SymbolicTensor;
    const rbn = tf.layers.batchNormalization({ name: 'r2_bn' }).apply(r2) as TF.SymbolicTensor;
    const sum = tf.layers.add({ name: 'add' }).apply([s1, rbn]) as TF.SymbolicTensor;
    const proj = tf.layers.conv2d({ filters: 5, kernelSize: 1, name: 'proj' }).apply(sum) as TF.SymbolicTensor;
    const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(sum) as TF.SymbolicTensor;
    const head = tf.layers.dense({ units: 3, name: 'head' }).apply(gap) as TF.SymbolicTensor;
    const out = tf.layers.add({ name: 'out_add' }).apply([head, tf.layers.dense({ units: 3, name: 'side' }).apply(tf.layers.flatten().apply(proj) as TF.SymbolicTensor) as TF.SymbolicTensor]) as TF.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: out });
    randomBiases(model, 15);
    const pm = new PrunableModel(model);
    const idx = (n: string) => pm.layers.findIndex((l) => l.name === n);
    // Channel 2 of the stem/r2 sum: no row of r1 (reads the stem), proj or head reads it. Channel 0 is still read by head.
    applyMasks(pm, 16, 0.9, {
      [idx('r1')]: killOut(2, 4), [idx('proj')]: killOut(2, 4), [idx('head')]: both(killOut(2, 4), killOut(0, 4)),
    });
    const { model: compact, report } = compactModel(model, pm);
    // The heads are summed into the model's output: their units are the output's, kept.
    expect(report.skipped.map((k) => k.layer)).toEqual(['head', 'side']);
    expect(unitsOf(compact)).toMatchObject({ stem: 3, r2: 3, r1: 3, proj: 5, head: 3 });
    expect(compact.getLayer('r1').weights[0].shape).toEqual([3, 3, 3, 3]);
    expect(compact.getLayer('proj').weights[0].shape).toEqual([1, 1, 3, 5]);
    expect(compact.getLayer('head').weights[0].shape).toEqual([3, 3]);
    for (const bn of ['stem_bn', 'r2_bn']) expect(compact.getLayer(bn).weights.map((w) => w.shape[0])).toEqual([3, 3, 3, 3]);
    expect(maxDiff(model, compact, [6, 6, 2])).toBeLessThan(1e-5);
    compact.dispose();
    pm.dispose();
    model.dispose();
  });

  it('leaves concatenations and unknown layers intact and says why; a branch is a channel group', () => {
    const input = tf.input({ shape: [8] });
    const d1 = tf.layers.dense({ units: 6, activation: 'relu', name: 'd1' }).apply(input) as TF.SymbolicTensor;
    const a = tf.layers.dense({ units: 5, activation: 'relu', name: 'a' }).apply(d1) as TF.SymbolicTensor;
    const bb = tf.layers.dense({ units: 5, activation: 'relu', name: 'b' }).apply(d1) as TF.SymbolicTensor;
    const cat = tf.layers.concatenate({ name: 'cat' }).apply([a, bb]) as TF.SymbolicTensor;
    const ln = tf.layers.layerNormalization({ name: 'ln' }).apply(
      tf.layers.dense({ units: 4, activation: 'relu', name: 'e' }).apply(cat) as TF.SymbolicTensor) as TF.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, name: 'out' }).apply(ln) as TF.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    randomBiases(model, 9);
    const pm = new PrunableModel(model);
    applyMasks(pm, 10, 0.7, { 0: killIn(0), 1: killIn(1), 3: killIn(2) });
    const { model: compact, report } = compactModel(model, pm);
    expect(unitsOf(compact)).toEqual(unitsOf(model));
    const why = Object.fromEntries(report.skipped.map((s) => [s.layer, s.reason]));
    // d1 feeds a and b: its units go from both readers at once (findUnitLinks' groups), so it is not left intact.
    expect(Object.keys(why).sort()).toEqual(['a', 'b', 'e']);
    expect(why.a).toMatch(/'cat' \(Concatenate\) merges several inputs/);
    expect(why.e).toMatch(/LayerNormalization/);
    expect(maxDiff(model, compact, [8])).toBeLessThan(1e-5);
    compact.dispose();
    pm.dispose();
    model.dispose();
  });

  it('a layer whose units an Add ties to a branch a Concatenate keeps is said to be kept for that, naming the Add (a new user\'s model)', () => {
    const input = tf.input({ shape: [4] });
    const a2 = tf.layers.dense({ units: 16, activation: 'relu', name: 'branch_a2' }).apply(
      tf.layers.dense({ units: 8, activation: 'relu', name: 'branch_a1' }).apply(input) as TF.SymbolicTensor) as TF.SymbolicTensor;
    const b = tf.layers.dense({ units: 16, activation: 'relu', name: 'branch_b' }).apply(input) as TF.SymbolicTensor;
    const merge = tf.layers.concatenate({ name: 'merge' }).apply([a2, b]) as TF.SymbolicTensor;
    const head = tf.layers.dense({ units: 16, activation: 'relu', name: 'head' }).apply(merge) as TF.SymbolicTensor;
    const sum = tf.layers.add({ name: 'skip_add' }).apply([head, b]) as TF.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3, name: 'out' }).apply(sum) as TF.SymbolicTensor });
    const pm = new PrunableModel(model);
    const { model: compact, report } = compactModel(model, pm);
    const why = Object.fromEntries(report.skipped.map((s) => [s.layer, s.reason]));
    expect(why.branch_b).toBe("units kept: 'merge' (Concatenate) merges several inputs");
    expect(why.head).toBe("units kept: 'skip_add' (Add) ties its units to 'branch_b', kept because 'merge' (Concatenate) merges several inputs");
    compact.dispose();
    pm.dispose();
    model.dispose();
  });

  it('logits followed by a Softmax layer are the output\'s units: not reported as left intact, the layer before compacts', () => {
    const model = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [8], units: 6, activation: 'relu', name: 'h' }),
      tf.layers.dense({ units: 3, name: 'logits' }),
      tf.layers.softmax({ name: 'sm' }),
    ] });
    randomBiases(model, 5);
    const pm = new PrunableModel(model);
    applyMasks(pm, 6, 0.5, { 0: killIn(1) });
    const { model: compact, report } = compactModel(model, pm);
    expect(report.skipped).toEqual([]);
    expect(compact.getLayer('h').getConfig().units).toBeLessThan(6);
    expect(maxDiff(model, compact, [8])).toBeLessThan(1e-5);
    compact.dispose();
    pm.dispose();
    model.dispose();
  });
});

describe('compactPruned (autoprune compact)', () => {
  it('the compact model keeps the loss the model.json named (a regression model is not read as logits next time)', async () => {
    const dir = tempDir();
    const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [5], units: 8, activation: 'relu' }), tf.layers.dense({ units: 2 })] });
    m.compile({ optimizer: tf.train.adam(0.005, 0.8), loss: 'meanSquaredError', metrics: ['mae'] });
    await m.save(`file://${join(dir, 'reg')}`, { includeOptimizer: true });
    m.dispose();
    const r = await compactPruned(join(dir, 'reg'), { out: join(dir, 'out'), int8: true });
    const written = JSON.parse(readFileSync(join(dir, 'out', 'compact', 'model.json'), 'utf8')) as { trainingConfig?: { loss?: string; metrics?: unknown; optimizer_config?: { config?: Record<string, unknown> } } };
    expect(written.trainingConfig?.loss).toBe('mean_squared_error'); // as tfjs saves it
    // … with its optimizer's settings and metrics, not tfjs' Adam at its defaults.
    expect(written.trainingConfig?.optimizer_config?.config).toMatchObject({ learningRate: 0.005, beta1: 0.8 });
    expect(written.trainingConfig?.metrics).toEqual(['mae']);
    // Two regression targets are no classes: no "predicted class" count for the int8 file.
    expect(r.maxAbsDiff.sparseInt8).toBeDefined();
    expect(r.int8ClassChanges).toBeUndefined();
    expect(existsSync(join(dir, 'out', 'model.int8.sparse'))).toBe(true);
    // Compacted again into the same folder without int8: the earlier int8 file of this same model stays, with its figures
    // (a new user's `compact <out> --data` took away the file a run's --compact wrote) …
    const int8Bytes = readFileSync(join(dir, 'out', 'model.int8.sparse'));
    const kept = await compactPruned(join(dir, 'reg'), { out: join(dir, 'out') });
    expect(kept.removed).toBeUndefined();
    expect(kept.kept).toEqual([join(dir, 'out', 'model.int8.sparse')]);
    expect(kept.files).not.toContain(join(dir, 'out', 'model.int8.sparse'));
    expect(kept.maxAbsDiff.sparseInt8).toBeDefined();
    expect(readFileSync(join(dir, 'out', 'model.int8.sparse')).equals(int8Bytes)).toBe(true);
    // … and one of another model does not stay.
    const other = tf.sequential({ layers: [tf.layers.dense({ inputShape: [5], units: 8, activation: 'relu' }), tf.layers.dense({ units: 2 })] });
    await other.save(`file://${join(dir, 'other')}`);
    other.dispose();
    const again = await compactPruned(join(dir, 'other'), { out: join(dir, 'out') });
    expect(again.removed).toEqual([join(dir, 'out', 'model.int8.sparse')]);
    expect(existsSync(join(dir, 'out', 'model.int8.sparse'))).toBe(false);
    expect(existsSync(join(dir, 'out', 'model.sparse'))).toBe(true);
  });

  it('compares on real rows read with the run\'s column settings (data): random inputs understate the int8 error', async () => {
    const dir = tempDir();
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 8, activation: 'relu' }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
    randomBiases(model, 3);
    await saveModel(model, join(dir, 'run', 'model'));
    // A run that left out the id column and scaled the inputs by 1/10 (report.json config): the CSV has raw values up to 100.
    writeFileSync(join(dir, 'run', 'report.json'), JSON.stringify({ format: 'autoprune-report', config: { label: 'y', ignoreColumns: ['id'], inputScale: 0.1, splitSeed: 0 } }));
    const rng = new Rng(7);
    const rows = Array.from({ length: 50 }, (_, i) => `r${i},${[0, 1, 2].map(() => (100 * rng.next()).toFixed(2)).join(',')},${['a', 'b', 'c'][i % 3]}`);
    writeFileSync(join(dir, 'd.csv'), `id,x1,x2,x3,y\n${rows.join('\n')}\n`);
    const random = await compactPruned(join(dir, 'run'), { out: join(dir, 'o1'), int8: true });
    const real = await compactPruned(join(dir, 'run'), { out: join(dir, 'o2'), int8: true, data: join(dir, 'd.csv') });
    expect(random.probeInputs).toBe('values in [0, 1)');
    // All 50 rows (80/10/10: 5 validation rows, then 40 training rows; the test split is never read), as the run read them.
    expect(real.probeInputs).toBe(`45 rows of '${join(dir, 'd.csv')}' read as the run read them (5 of its validation split, 40 of its training split)`);
    expect(real.int8ClassChanges?.of).toBe(45);
    // The int8 error on those rows, recomputed here from the file on the same rows (scaled ×0.1) — not the random inputs'.
    const int8 = await decodeSparse(readFileSync(join(dir, 'o2', 'model.int8.sparse')));
    const x = tf.tensor2d(rows.map((r) => r.split(',').slice(1, 4).map((v) => 0.1 * Number(v))));
    const all = tf.tidy(() => tf.max(tf.abs(tf.sub(model.predict(x) as TF.Tensor, int8.predict(x) as TF.Tensor))).dataSync()[0]);
    expect(real.maxAbsDiff.sparseInt8!).toBeLessThanOrEqual(all + 1e-7);
    expect(real.maxAbsDiff.sparseInt8!).toBeGreaterThan(0);
    // The command says what random inputs are worth for a classifier's int8 figures, and names --data.
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let printed = '';
    try {
      expect(await compactCommand(join(dir, 'run'), { out: join(dir, 'o4'), int8: true })).toBe(0);
      expect(await compactCommand(join(dir, 'run'), { out: join(dir, 'o5'), int8: true, data: join(dir, 'd.csv') })).toBe(0);
      printed = write.mock.calls.map((c) => String(c[0])).join('');
    } finally {
      write.mockRestore();
    }
    expect(printed).toContain("on 32 random inputs (values in [0, 1): not your data; a classifier is often sure of one class on random inputs whatever its weights, so the int8 figures can be far below what int8 costs on real rows: --data <the run's CSV> compares on real rows");
    expect(printed).toContain(`on 45 rows of '${join(dir, 'd.csv')}' read as the run read them`);
    // Without the run's settings the id column would be an input: the report.json is what made the rows readable.
    writeFileSync(join(dir, 'run', 'report.json'), JSON.stringify({ format: 'autoprune-report', config: {} }));
    await expect(compactPruned(join(dir, 'run'), { out: join(dir, 'o3'), data: join(dir, 'd.csv') })).rejects.toThrow(/id/);
    // A user's own model.json (no run): the rows are read with their values as they are, as `autoprune --model` reads a CSV
    // (loadDataset's z-scores gave a new user an int8 error 3.4× too large).
    writeFileSync(join(dir, 'plain.csv'), `x1,x2,x3,y\n${rows.map((r) => r.split(',').slice(1).join(',')).join('\n')}\n`);
    await saveModel(model, join(dir, 'mine'));
    const plain = await compactPruned(join(dir, 'mine', 'model.json'), { out: join(dir, 'o6'), int8: true, data: join(dir, 'plain.csv') });
    expect(plain.probeInputs).toBe(`45 rows of '${join(dir, 'plain.csv')}' with its values as they are (as autoprune --model reads a CSV without --standardize) (5 of its validation split, 40 of its training split)`);
    const raw = tf.tensor2d(rows.map((r) => r.split(',').slice(1, 4).map(Number)));
    const int8Plain = await decodeSparse(readFileSync(join(dir, 'o6', 'model.int8.sparse')));
    const rawMax = tf.tidy(() => tf.max(tf.abs(tf.sub(model.predict(raw) as TF.Tensor, int8Plain.predict(raw) as TF.Tensor))).dataSync()[0]);
    expect(plain.maxAbsDiff.sparseInt8!).toBeLessThanOrEqual(rawMax + 1e-7);
    raw.dispose();
    int8Plain.dispose();
    x.dispose();
    int8.dispose();
    model.dispose();
  });

  it('checks a text model on token ids: random floats would all be id 0, padding under maskZero, and exercise nothing', async () => {
    const model = tf.sequential({ layers: [
      tf.layers.embedding({ inputDim: 30, outputDim: 6, inputLength: 10, maskZero: true }),
      tf.layers.lstm({ units: 5 }),
      tf.layers.dense({ units: 4, activation: 'softmax' }),
    ] });
    const pm = new PrunableModel(model);
    applyMasks(pm, 21, 0.5, {});
    const dir = tempDir();
    await saveModel(model, join(dir, 'model'));
    writeFileSync(join(dir, 'masks.json'), JSON.stringify(masksToJson(pm)));
    const r = await compactPruned(dir, { int8: true });
    // The int8 Dense kernel changes the outputs only when real tokens reach it (all-padding rows give exactly 0).
    expect(r.maxAbsDiff.sparseInt8!).toBeGreaterThan(0);
    expect(r.maxAbsDiff.sparse).toBe(0);
    expect(r.probeInputs).toBe('token ids below the Embedding\'s vocabulary size');
    // What int8 does to the predicted classes (a 4-class softmax), on the 32 probe rows (seed 0): as counted here from the file.
    const int8 = await decodeSparse(readFileSync(join(dir, 'model.int8.sparse')));
    const changed = tf.tidy(() => {
      const x = tf.floor(tf.randomUniform([32, 10], 0, 30, 'float32', 0));
      const a = tf.argMax(model.predict(x) as TF.Tensor, -1), b = tf.argMax(int8.predict(x) as TF.Tensor, -1);
      return tf.sum(tf.cast(tf.notEqual(a, b), 'int32')).dataSync()[0];
    });
    expect(r.int8ClassChanges).toEqual({ rows: changed, of: 32 });
    int8.dispose();
    pm.dispose();
    model.dispose();
  });

  it('refuses a model tfjs cannot run (a causal Conv1D) in one ModelError naming the layer, before writing anything', async () => {
    const model = tf.sequential({ layers: [
      tf.layers.conv1d({ inputShape: [16, 1], filters: 2, kernelSize: 3, padding: 'causal', name: 'tcn' }),
      tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' }),
    ] });
    const dir = tempDir();
    await saveModel(model, join(dir, 'model'));
    model.dispose();
    await expect(compactPruned(join(dir, 'model'), { out: join(dir, 'out') })).rejects.toThrow(ModelError);
    await expect(compactPruned(join(dir, 'model'), { out: join(dir, 'out') })).rejects.toThrow(/layer 'tcn' \(Conv1D\) has padding 'causal', which TensorFlow\.js does not implement.*autoprune cannot compact it$/);
    expect(readdirSync(dir)).toEqual(['model']);
  });

  it('writes compact/ and sparse files beside a pruned folder, never touching the input', async () => {
    const model = buildModel({ family: 'cnn', inputShape: [8, 8, 1], convs: [{ filters: 4, kernel: 3 }], dense: [6], numClasses: 3, seed: 4 });
    randomBiases(model, 11);
    const pm = new PrunableModel(model);
    applyMasks(pm, 12, 0.5, { 0: killIn(1), 1: killIn(2) });
    const dir = tempDir();
    await saveModel(model, join(dir, 'model'));
    writeFileSync(join(dir, 'masks.json'), JSON.stringify(masksToJson(pm)));
    const hash = () => ['model/model.json', 'model/weights.bin', 'masks.json']
      .map((f) => createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')).join();
    const h0 = hash();
    const r = await compactPruned(dir, { int8: true });
    expect(hash()).toBe(h0);
    expect(r.input.masks).toBe(join(dir, 'masks.json'));
    expect(r.files.map((f) => f.slice(dir.length + 1))).toEqual(['compact/model.json', 'compact/weights.bin', 'model.sparse', 'model.int8.sparse']);
    expect(r.maxAbsDiff.compact).toBeLessThan(1e-5);
    expect(r.maxAbsDiff.sparse).toBe(0);
    expect(r.probeInputs).toBe('values in [0, 1)');
    // What the compact model runs: at most the dense MACs, at least the live weights' (its zeros inside kept units cost too).
    expect(r.compute.compact).toBeGreaterThanOrEqual(r.compute.live);
    expect(r.compute.compact).toBeLessThanOrEqual(r.compute.dense);
    expect(r.compact.layers.map((l) => l.unitsAfter)).toEqual([3, 5, 3]);
    const compact = await loadModel(join(dir, 'compact'));
    const sparse = await decodeSparse(readFileSync(join(dir, 'model.sparse')));
    expect(maxDiff(model, compact, [8, 8, 1])).toBeLessThan(1e-5);
    expect(maxDiff(model, sparse, [8, 8, 1])).toBe(0);
    // inspect of the compact model reads its own zeros, not the masks.json of the pruned model beside it.
    const { inspectModel } = await import('../../src/cli/inspect.js');
    const seen = await inspectModel(join(dir, 'compact'));
    expect(seen.masksFile).toBe(false);
    expect(seen.layers.map((l) => l.shape)).toEqual(compact.layers.flatMap((l) => l.getWeights().length ? [l.getWeights()[0].shape] : []).slice(0, seen.layers.length));
    expect((await inspectModel(join(dir, 'model'))).masksFile).toBe(true);
    // Running again replaces the outputs; the JSON form of the command prints one object.
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await compactCommand(dir, { json: true })).toBe(0);
      expect(JSON.parse(String(write.mock.calls[0][0])).sizes.sparse).toBe(r.sizes.sparse);
    } finally {
      write.mockRestore();
    }
    await expect(compactPruned(join(dir, 'nope'))).rejects.toThrow(ModelError);
    await expect(compactPruned(join(dir, 'compact'), { out: dir })).rejects.toThrow(UsageError);
    [compact, sparse, model].forEach((m) => m.dispose());
    pm.dispose();
  });

  it('a quantized input (uint8) is measured as stored: its file\'s row first, and the float32 forms said to be larger', async () => {
    const model = buildModel({ family: 'mlp', inputShape: [6], hidden: [5], numClasses: 3, seed: 2 });
    const dir = tempDir();
    await saveModel(model, join(dir, 'm'));
    model.dispose();
    const stored = quantizeUint8(join(dir, 'm'));
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let printed: string;
    try {
      expect(await compactCommand(join(dir, 'm'), { out: join(dir, 'out') })).toBe(0);
      printed = write.mock.calls.map((c) => String(c[0])).join('');
    } finally {
      write.mockRestore();
    }
    expect(printed).toMatch(new RegExp(`input file \\(uint8\\) +│ ${stored} `));
    expect(printed).toContain(`the input stores its weights quantized (uint8: ${stored.toLocaleString('en')} bytes of weights); every other row is float32 as tfjs loads it (the compact model's weights.bin is `);
    const r = await compactPruned(join(dir, 'm'), { out: join(dir, 'out2') });
    expect(r.inputStored).toEqual({ dtypes: ['uint8'], weightBytes: stored });
    expect(r.sizes.compact).toBeGreaterThan(stored);
    // A run's folder (its model/ is float32): the run's input's bytes, from report.json's dense.stored.
    const run = join(dir, 'run');
    const again = buildModel({ family: 'mlp', inputShape: [6], hidden: [5], numClasses: 3, seed: 2 });
    await saveModel(again, join(run, 'model'));
    again.dispose();
    writeFileSync(join(run, 'report.json'), JSON.stringify({ format: 'autoprune-report', dense: { stored: { dtypes: ['uint8'], weightBytes: stored } } }));
    expect((await compactPruned(run)).inputStored).toEqual({ dtypes: ['uint8'], weightBytes: stored });
    // A frontier row of that run (<run>/frontier/<t>/: a model and its masks, no report.json): the run's report.json, two up.
    const row = join(run, 'frontier', '0.5');
    const rowModel = buildModel({ family: 'mlp', inputShape: [6], hidden: [5], numClasses: 3, seed: 3 });
    await saveModel(rowModel, join(row, 'model'));
    const rowPm = new PrunableModel(rowModel);
    writeFileSync(join(row, 'masks.json'), JSON.stringify(masksToJson(rowPm)));
    rowPm.dispose();
    rowModel.dispose();
    expect((await compactPruned(row)).inputStored).toEqual({ dtypes: ['uint8'], weightBytes: stored });
  });

  it('compacts a two-output model (outputs compared per head) and reads a model file by its own name', async () => {
    const input = tf.input({ shape: [6] });
    const h = tf.layers.dense({ units: 5, activation: 'relu', name: 'h' }).apply(input) as TF.SymbolicTensor;
    const g = tf.layers.dense({ units: 4, activation: 'relu', name: 'g' }).apply(h) as TF.SymbolicTensor;
    const heads = [tf.layers.dense({ units: 3, name: 'cls' }).apply(g) as TF.SymbolicTensor, tf.layers.dense({ units: 1, name: 'reg' }).apply(h) as TF.SymbolicTensor];
    const model = tf.model({ inputs: input, outputs: heads });
    randomBiases(model, 13);
    const pm = new PrunableModel(model);
    applyMasks(pm, 14, 0.6, {});
    const dir = tempDir();
    await saveModel(model, join(dir, 'm'));
    renameSync(join(dir, 'm', 'model.json'), join(dir, 'm', 'net.json'));
    const r = await compactPruned(join(dir, 'm', 'net.json'), { out: join(dir, 'out') });
    expect(r.input.model).toBe(join(dir, 'm', 'net.json'));
    expect(r.maxAbsDiff.compact).toBeLessThan(1e-5);
    expect(r.maxAbsDiff.sparse).toBe(0);
    // 'h' feeds 'g' and the 'reg' head: a channel group (both read its units), not a layer left intact.
    expect(r.compact.skipped).toEqual([]);

    // A user's own model folder (no report.json or masks.json) is an input: nothing is written there by default.
    await expect(compactPruned(join(dir, 'm', 'net.json'))).rejects.toThrow(/is a model file, in '.+', not an autoprune output .*give --out/);
    expect(readdirSync(join(dir, 'm')).sort()).toEqual(['net.json', 'weights.bin']);
    // A file that is not a model is reported as such, by its own name.
    writeFileSync(join(dir, 'data.csv'), 'a,b\n1,2\n');
    await expect(compactPruned(join(dir, 'data.csv'))).rejects.toThrow(/model file '.*data\.csv' is a data table \(\.csv\), not a tfjs model\.json/);
    pm.dispose();
    model.dispose();
  });
});
