import type * as TF from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { droppedLossSettings } from '../../src/models/io.js';
import { tf } from '../../src/backend/tf.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dataset } from '../../src/data/dataset.js';
import { loadCsv } from '../../src/data/csv.js';
import { ModelError } from '../../src/errors.js';
import { checkToldClassification, checkToldTask, fitDatasetToModel, setTargetWeights, lossName, lossOf, regressionLossOf, rememberLoss, rowLossesOf, taskOf } from '../../src/models/task.js';
import { evaluate, targetFit } from '../../src/models/train.js';
import { inputLayout } from '../../src/run-checks.js';

/** A tiny in-memory dataset: `n` rows of `features` columns per split, labels cycling through `classNames`. */
function dataset(features: number, classNames: string[], n = 6): Dataset {
  const split = () => ({
    x: tf.ones([n, features]),
    labels: Int32Array.from({ length: n }, (_, i) => i % classNames.length),
  });
  const train = split(), val = split(), test = split();
  return {
    name: 'd.csv', source: 'd.csv', inputShape: [features], numClasses: classNames.length, classNames,
    train, val, test, dispose: () => [train, val, test].forEach((s) => s.x.dispose()),
  };
}

function mlp(inputs: number, units: number, activation?: 'softmax' | 'sigmoid'): TF.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [inputs], units: 4, activation: 'relu' }));
  m.add(tf.layers.dense({ units, activation }));
  return m;
}

describe('taskOf', () => {
  it('reads a separate Softmax layer as softmax, C sigmoids as multi-label, and one sigmoid as binary', () => {
    const soft = mlp(3, 3);
    soft.add(tf.layers.softmax());
    expect(taskOf(soft)).toMatchObject({ output: 'softmax', units: 3, kind: 'classification' });
    expect(taskOf(mlp(3, 3, 'sigmoid'))).toMatchObject({ output: 'multilabel', units: 3, kind: 'multilabel' });
    expect(taskOf(mlp(3, 3))).toMatchObject({ output: 'logits', units: 3, kind: 'classification' });

    const inp = tf.input({ shape: [3] });
    const fn = tf.model({ inputs: inp, outputs: tf.layers.dense({ units: 1, activation: 'sigmoid' }).apply(inp) as TF.SymbolicTensor });
    expect(taskOf(fn)).toMatchObject({ output: 'sigmoid', units: 1, kind: 'classification' });
    // An image autoencoder made flat: the sigmoid is the Conv2D's, before the Flatten.
    const ae = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 1, kernelSize: 3, padding: 'same', activation: 'sigmoid' }),
      tf.layers.flatten(),
    ] });
    expect(taskOf(ae)).toMatchObject({ kind: 'autoencoder', units: 16 });
    expect(taskOf(ae).evidence).toMatch(/16 sigmoid units/);
    [soft, fn, ae].forEach((m) => m.dispose());
  });
});

describe('fitDatasetToModel', () => {
  it('rejects models with several outputs or a non-[batch, classes] output with a ModelError naming the shapes', () => {
    const data = dataset(5, ['a', 'b', 'c']);
    const inp = tf.input({ shape: [5] });
    const h = tf.layers.dense({ units: 4 }).apply(inp) as TF.SymbolicTensor;
    const two = tf.model({
      name: 'two_heads', inputs: inp,
      outputs: [tf.layers.dense({ units: 3, activation: 'softmax' }).apply(h) as TF.SymbolicTensor, tf.layers.dense({ units: 1 }).apply(h) as TF.SymbolicTensor],
    });
    expect(() => fitDatasetToModel(data, two)).toThrow(ModelError);
    expect(() => fitDatasetToModel(data, two)).toThrow(/'two_heads' has 1 input\(s\) \(\[batch, 5\]\) and 2 output\(s\) \(\[batch, 3\], \[batch, 1\]\)/);

    const seq = tf.sequential({ name: 'per_step' });
    seq.add(tf.layers.reshape({ inputShape: [5], targetShape: [5, 1] }));
    seq.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
    expect(() => fitDatasetToModel(data, seq)).toThrow(/'per_step' has output shape \[batch, 5, 3\].*append a Flatten layer to its output, which keeps the model as trained; its 15 values per sample are then 15 targets/);
    [two, seq].forEach((m) => m.dispose());
    data.dispose();
  });

  it('refuses, naming the layer, a dilated convolution (no gradients in tfjs) and tells an image-to-image model to flatten its output', () => {
    const images = { ...dataset(16, ['a', 'b']), inputShape: [4, 4, 1] };
    const inner = tf.sequential({ name: 'backbone', layers: [
      tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 2, dilationRate: 2, name: 'atrous' }),
      tf.layers.flatten(),
    ] });
    const outer = tf.sequential({ name: 'transfer', layers: [inner, tf.layers.dense({ units: 2, activation: 'softmax' })] });
    expect(() => fitDatasetToModel(images, outer)).toThrow(ModelError);
    expect(() => fitDatasetToModel(images, outer)).toThrow(/layer 'atrous' \(Conv2D, dilationRate \[2,2\]\) is a dilated convolution/);
    // Frozen and before every trainable layer (a fixed front end), it needs no gradient: not refused.
    const front = tf.sequential({ name: 'front', layers: [
      tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 2, dilationRate: 2, name: 'atrous', trainable: false }),
      tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' }),
    ] });
    expect(() => fitDatasetToModel(images, front)).not.toThrow();
    // Frozen, but after a trainable layer, whose gradient would have to pass through it: refused.
    const after = tf.sequential({ name: 'after', layers: [
      tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 1 }),
      tf.layers.conv2d({ filters: 2, kernelSize: 2, dilationRate: 2, name: 'atrous', trainable: false }),
      tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' }),
    ] });
    expect(() => fitDatasetToModel(images, after)).toThrow(/layer 'atrous' .* is a dilated convolution.*a frozen one is fine where no trainable layer comes before it/);
    // A causal Conv1D does not even predict in tfjs: refused naming it, not left to fail inside a fine-tune.
    const causal = tf.sequential({ name: 'tcn', layers: [
      tf.layers.conv1d({ inputShape: [16, 1], filters: 2, kernelSize: 3, padding: 'causal', name: 'causal' }),
      tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' }),
    ] });
    expect(() => fitDatasetToModel({ ...dataset(16, ['a', 'b']), inputShape: [16, 1] }, causal)).toThrow(/model 'tcn': layer 'causal' \(Conv1D\) has padding 'causal', which TensorFlow.js does not implement/);
    [front, after, causal].forEach((m) => m.dispose());
    const ae = tf.sequential({ name: 'conv_ae', layers: [tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 1, kernelSize: 3, padding: 'same' })] });
    expect(() => fitDatasetToModel(images, ae)).toThrow(/'conv_ae' has output shape \[batch, 4, 4, 1\].*append a Flatten layer to its output/);
    [outer, ae].forEach((m) => m.dispose());
    images.dispose();
  });

  it('refuses a stateful recurrent layer (fixed batch, ordered batches) and a sequence input of unknown length, saying what to save instead', () => {
    const seqData = { ...dataset(30, ['a', 'b']), inputShape: [10, 3] };
    const stateful = tf.sequential({ name: 'st', layers: [
      tf.layers.lstm({ batchInputShape: [1, 10, 3], units: 4, stateful: true, name: 'rnn' }),
      tf.layers.dense({ units: 2, activation: 'softmax' }),
    ] });
    expect(() => fitDatasetToModel(seqData, stateful)).toThrow(ModelError);
    expect(() => fitDatasetToModel(seqData, stateful)).toThrow(/model 'st': layer 'rnn' \(LSTM\) is stateful .*fixed batch of 1.*save the model with stateful: false/);
    const open = tf.sequential({ name: 'open', layers: [
      tf.layers.gru({ inputShape: [null as unknown as number, 3], units: 4 }),
      tf.layers.dense({ units: 2, activation: 'softmax' }),
    ] });
    expect(() => fitDatasetToModel(seqData, open)).toThrow(/model input shape \[null, 3\] has unknown \(null\) dimensions.*inputShape: \[10, 3\]/);
    [stateful, open].forEach((m) => m.dispose());
    seqData.dispose();
  });

  it('says how a CSV\'s flat columns fill a model input of several axes (row by row), and nothing for a flat input', () => {
    const flat = { ...dataset(6, ['a', 'b']), inputNames: ['a0', 'b0', 'c0', 'a1', 'b1', 'c1'] };
    expect(inputLayout(flat, { ...flat, inputShape: [2, 3] })).toBe(
      'the CSV\'s 6 input columns are read as the model\'s input shape [2, 3], row by row (the last axis fastest): a0…c0 are [0, :], a1…c1 are [1, :], …; ' +
      'a CSV that lists each feature\'s values together must be reordered');
    expect(inputLayout(flat, { ...flat, inputShape: [3, 1, 2] })).toContain('a0…b0 are [0, 0, :], c0…a1 are [1, 0, :]');
    expect(inputLayout(flat, flat)).toBeUndefined();
    flat.dispose();
  });

  it('refuses token ids an Embedding cannot take (out of range, negative, fractional), naming the column, split and layer', () => {
    const emb = () => tf.sequential({ layers: [
      tf.layers.embedding({ inputDim: 10, outputDim: 2, inputLength: 3, name: 'tokens' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2, activation: 'softmax' }),
    ] });
    const m = emb();
    const withIds = (ids: number[]) => {
      const d = dataset(3, ['a', 'b'], 2);
      d.val.x.dispose();
      return { ...d, inputNames: ['t0', 't1', 't2'], val: { ...d.val, x: tf.tensor2d(ids, [2, 3]) } };
    };
    const ok = withIds([0, 9, 1, 2, 3, 4]);
    expect(() => fitDatasetToModel(ok, m)).not.toThrow();
    expect(() => fitDatasetToModel(withIds([0, 1, 2, 3, 10, 4]), m)).toThrow(/column 't1' holds 10 \(row 2 of the validation split\).*Embedding layer 'tokens'.*0–9 \(inputDim 10\)$/);
    expect(() => fitDatasetToModel(withIds([0, 1, -1, 3, 1, 4]), m)).toThrow(/column 't2' holds -1 \(row 1/);
    expect(() => fitDatasetToModel(withIds([0, 1, 2, 0.5, 1, 4]), m)).toThrow(/column 't0' holds 0.5 .*must not be scaled/);
    // From a CSV: the file and its line, where the user can find the row.
    const dir = mkdtempSync(join(tmpdir(), 'autoprune-tokens-'));
    const file = join(dir, 'tokens.csv');
    writeFileSync(file, `t0,t1,t2,label\n${Array.from({ length: 30 }, (_, i) => `${i % 10},${i === 16 ? 99 : (i * 3) % 10},${(i * 7) % 10},${i % 2 ? 'a' : 'b'}`).join('\n')}\n`);
    const csv = loadCsv({ path: file, standardize: false });
    expect(() => fitDatasetToModel(csv, m)).toThrow(new RegExp(`column 't1' holds 99 \\(${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} line 18\\)`));
    csv.dispose();
    rmSync(dir, { recursive: true, force: true });
    m.dispose();
  });

  it('reads whole-number labels as output indices when they fit the outputs (labels 1..3 on a 4-output model)', () => {
    const data = dataset(5, ['1', '2', '3']);
    const four = mlp(5, 4, 'softmax');
    const fitted = fitDatasetToModel(data, four);
    expect(Array.from(fitted.train.labels)).toEqual([1, 2, 3, 1, 2, 3]);
    expect(Array.from(fitted.test.labels)).toEqual([1, 2, 3, 1, 2, 3]);
    expect(fitted.classNames).toEqual(['0', '1', '2', '3']);
    expect(fitted.numClasses).toBe(4);
    expect(fitted.train.x).toBe(data.train.x); // no reshape needed: the tensors are shared, not copied
    fitted.dispose();
    expect(data.train.x.isDisposed).toBe(false);

    // With as many outputs as classes the labels stay 0..C-1 (labels 1..3 on a 3-output model mean classes 0..2).
    const three = mlp(5, 3, 'softmax');
    expect(fitDatasetToModel(data, three)).toBe(data);
    // … and a file with only some of them counts from 1 too (labels 2, 3: outputs 1, 2; they went to 0, 1).
    const some = dataset(5, ['2', '3']);
    const oneBased = fitDatasetToModel(some, three);
    expect(Array.from(oneBased.train.labels)).toEqual([1, 2, 1, 2, 1, 2]);
    expect(oneBased.classNames).toEqual(['1', '2', '3']);
    oneBased.dispose();
    some.dispose();
    // String labels and labels already 0..C-1 are left as they are.
    const named = dataset(5, ['cat', 'dog', 'fish']);
    expect(fitDatasetToModel(named, four)).toBe(named);
    const zeroBased = dataset(5, ['0', '1', '2']);
    expect(fitDatasetToModel(zeroBased, four)).toBe(zeroBased);
    [four, three].forEach((m) => m.dispose());
    [data, named, zeroBased].forEach((d) => d.dispose());
  });
});

describe('task of a model', () => {
  const compiled = (m: TF.Sequential, loss: string) => { m.compile({ optimizer: 'adam', loss }); return m; };

  it('tells regression, autoencoder and multi-label models from their compiled loss and output, and classifiers apart', () => {
    const cases: [TF.Sequential, string, RegExp][] = [
      [compiled(mlp(6, 1), 'meanSquaredError'), 'regression', /^output 1 linear unit, loss meanSquaredError$/],
      [compiled(mlp(6, 2), 'meanAbsoluteError'), 'regression', /loss meanAbsoluteError/],
      [compiled(mlp(20, 20, 'sigmoid'), 'binaryCrossentropy'), 'autoencoder', /^output 20 sigmoid units, loss binaryCrossentropy, as many as inputs$/],
      [mlp(20, 20, 'sigmoid'), 'autoencoder', /as many as inputs/],
      [compiled(mlp(6, 5, 'sigmoid'), 'binaryCrossentropy'), 'multilabel', /^output 5 sigmoid units, loss binaryCrossentropy: one independent probability per label$/],
      [compiled(mlp(6, 3, 'softmax'), 'categoricalCrossentropy'), 'classification', /softmax/],
      [mlp(6, 3), 'classification', /linear/],
      [compiled(mlp(6, 1, 'sigmoid'), 'binaryCrossentropy'), 'classification', /sigmoid/],
      [compiled(mlp(6, 4, 'sigmoid'), 'categoricalCrossentropy'), 'classification', /categoricalCrossentropy/],
      [compiled(mlp(20, 20, 'softmax'), 'categoricalCrossentropy'), 'classification', /softmax/],
    ];
    for (const [m, kind, evidence] of cases) {
      const t = taskOf(m);
      expect(t.kind).toBe(kind);
      expect(t.evidence).toMatch(evidence);
      m.dispose();
    }
  });

  it("fine-tunes a regression with the model's own loss where it is mean absolute error or Huber, else with MSE", () => {
    expect(regressionLossOf('meanabsoluteerror')).toEqual({ loss: 'mae' });
    expect(regressionLossOf('mae')).toEqual({ loss: 'mae' });
    expect(regressionLossOf('huberloss')).toEqual({ loss: 'huber' });
    expect(regressionLossOf('meansquarederror')).toEqual({ loss: 'mse' });
    expect(regressionLossOf(undefined)).toEqual({ loss: 'mse' });
    expect(regressionLossOf('logcosh')).toEqual({ loss: 'mse', replaced: 'logcosh' });
    const mae = compiled(mlp(4, 2), 'meanAbsoluteError');
    // tfjs cannot compile Keras's Huber loss: the model file's loss is remembered as loadModel does.
    const huber = mlp(4, 2);
    rememberLoss(huber, 'huber_loss');
    expect(taskOf(mae).regressionLoss).toBe('mae');
    expect(taskOf(huber).regressionLoss).toBe('huber');
    expect(taskOf(compiled(mlp(4, 2), 'meanSquaredError')).regressionLoss).toBe('mse');
    const y = tf.tensor2d([[0, 0], [1, 3]]);
    const p = tf.tensor2d([[0.5, 0], [1, 0]]);
    // MAE: (0.5 + 3) / 4; Huber (δ = 1): (0.5·0.25 + (3 − 0.5)) / 4; MSE: (0.25 + 9) / 4.
    expect(lossOf(p, y, taskOf(mae)).dataSync()[0]).toBeCloseTo(3.5 / 4, 6);
    expect(lossOf(p, y, taskOf(huber)).dataSync()[0]).toBeCloseTo(2.625 / 4, 6);
    expect(lossOf(p, y, { ...taskOf(mae), regressionLoss: 'mse' }).dataSync()[0]).toBeCloseTo(9.25 / 4, 6);
    expect(Array.from(rowLossesOf(p, y, taskOf(mae)).dataSync())).toEqual([0.25, 1.5]);
    // A same-size numeric model given as many target columns again is told to say --task regression.
    const data = dataset(4, ['a', 'b']);
    const wide = { ...data, inputShape: [8] } as Dataset;
    expect(() => fitDatasetToModel(wide, mae, { ...taskOf(mae), kind: 'autoencoder' })).toThrow(/if it predicts 2 target columns from its inputs, pass --task regression/);
    tf.dispose([y, p]);
    data.dispose();
    [mae, huber].forEach((m) => m.dispose());
  });

  it('a task the user names wins over the output layer, and impossible ones are refused', () => {
    const m = mlp(6, 1);
    expect(taskOf(m).kind).toBe('classification');
    expect(taskOf(m, 'regression')).toMatchObject({ kind: 'regression', output: 'regression', evidence: '--task regression (output 1 linear unit)' });
    expect(() => taskOf(m, 'multilabel')).toThrow(/--task multilabel needs sigmoid outputs/);
    expect(() => taskOf(m, 'autoencoder')).toThrow(/--task autoencoder needs as many outputs as inputs/);
    m.dispose();
  });

  it('fitDatasetToModel asks a regression model for target values, and builds an autoencoder\'s targets from its inputs', () => {
    const reg = compiled(mlp(5, 1), 'meanSquaredError');
    const data = dataset(5, ['a', 'b']);
    expect(() => fitDatasetToModel(data, reg)).toThrow(/has class labels, but model is a regression model \(output 1 linear unit, loss meanSquaredError\): give a CSV whose last 1 column holds the target/);
    const ae = mlp(5, 5, 'sigmoid');
    const fitted = fitDatasetToModel(data, ae, taskOf(ae, 'autoencoder'));
    expect(fitted.train.y!.shape).toEqual([6, 5]);
    expect(Array.from(fitted.train.y!.dataSync())).toEqual(Array.from(data.train.x.dataSync()));
    fitted.dispose();
    [reg, ae].forEach((m) => m.dispose());
    data.dispose();
  });

  it('a multi-label target that is not 0/1 is named by its column, with the --label hint', () => {
    const ml = compiled(mlp(2, 2, 'sigmoid'), 'binaryCrossentropy');
    const data = dataset(2, []);
    const withY = (s: Dataset['train'], v: number) => ({ ...s, y: tf.tensor2d([[0, 1], [1, v]]) });
    const d: Dataset = { ...data, numClasses: 0, targetNames: ['spam', 'price'], train: withY(data.train, 0.42), val: withY(data.val, 1), test: withY(data.test, 0) };
    expect(() => fitDatasetToModel(d, ml)).toThrow("data 'd.csv' (training split): multi-label targets must be 0 or 1, found 0.42 in target column 'price' (2 of 2); name the 2 0/1 label columns with --label a,b,c (default: the last 2)");
    [d.train, d.val, d.test].forEach((s) => s.y!.dispose());
    data.dispose();
    ml.dispose();
  });

  it('a class more than the model has outputs: says how many are extra, not which rows to drop, as if it knew', () => {
    const m = mlp(2, 3, 'softmax');
    const data = dataset(2, ['Adelie', 'Chinstrap', 'Emperor', 'Gentoo'], 8);
    expect(() => fitDatasetToModel(data, m)).toThrow(
      "data 'd.csv' has 4 classes (Adelie, Chinstrap, Emperor, Gentoo) but the model's output has 3 unit(s) (3 classes): 1 class more than it has outputs; " +
      "remove the rows of the class the model was not trained on (in sorted order, the k-th label = output k, that is 'Gentoo'; if it is another class, " +
      "remove that one's rows and give --label-order with the model's classes in output order)");
    data.dispose();
    m.dispose();
  });

  it('a regression target with one value on every row is refused by its column (its R² does not exist)', () => {
    const reg = compiled(mlp(2, 2), 'meanSquaredError');
    const data = dataset(2, []);
    const withY = (s: Dataset['train'], a: number) => ({ ...s, y: tf.tensor2d([[a, 1], [a + 1, 1]]) });
    const d: Dataset = { ...data, numClasses: 0, targetNames: ['mpg', 'hp'], train: withY(data.train, 3), val: withY(data.val, 5), test: withY(data.test, 7) };
    const before = tf.memory().numTensors;
    expect(() => fitDatasetToModel(d, reg, taskOf(reg, 'regression'))).toThrow(
      "data 'd.csv': regression target column 'hp' has the same value (1) on every row: R², the guard's metric, is undefined for it; give data in which every target varies");
    expect(tf.memory().numTensors).toBe(before);
    // Varying in every column: accepted.
    const ok: Dataset = { ...d, test: { ...d.test, y: tf.tensor2d([[7, 1], [8, 2]]) } };
    fitDatasetToModel(ok, reg, taskOf(reg, 'regression')).dispose();
    [d.train, d.val, d.test, ok.test].forEach((s) => s.y!.dispose());
    data.dispose();
    reg.dispose();
  });
});

describe('R² of several regression targets', () => {
  it('is the average of the per-target R² (each target weighed alike, whatever its units), per row for the guard', () => {
    // Two targets on very different scales; the model predicts the first well and the second badly.
    const n = 40;
    const x = tf.tensor2d(Array.from({ length: n }, (_, i) => [i / n]), [n, 1]);
    const big = Array.from({ length: n }, (_, i) => 1000 * (i / n) + 50 * Math.sin(i));
    const small = Array.from({ length: n }, (_, i) => 0.01 * Math.cos(3 * i));
    const y = tf.tensor2d(big.map((b, i) => [b, small[i]]), [n, 2]);
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [1], units: 2, useBias: false })] });
    model.layers[0].setWeights([tf.tensor2d([[1000, 0.005]])]);
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const task = taskOf(model, 'regression');
    const split = { x, labels: new Int32Array(n), y };
    const { r2: per, errors: errs } = targetFit(model, split, task);
    const r2 = (t: number[], p: number[]) => {
      const m = t.reduce((a, b) => a + b, 0) / t.length;
      return 1 - t.reduce((a, v, i) => a + (v - p[i]) ** 2, 0) / t.reduce((a, v) => a + (v - m) ** 2, 0);
    };
    const xs = Array.from({ length: n }, (_, i) => i / n);
    expect(per[0]).toBeCloseTo(r2(big, xs.map((v) => 1000 * v)), 4);
    expect(per[1]).toBeCloseTo(r2(small, xs.map((v) => 0.005 * v)), 4);
    expect(per[1]).toBeLessThan(0);
    const e = evaluate(model, split, task);
    expect(e.accuracy).toBeCloseTo((per[0] + per[1]) / 2, 4);
    expect(e.correct.length).toBe(n);
    // The same errors in each target's own units: RMSE per column.
    const rmse = (t: number[], p: number[]) => Math.sqrt(t.reduce((a, v, i) => a + (v - p[i]) ** 2, 0) / t.length);
    expect(errs).toHaveLength(2);
    expect(errs[0]).toBeCloseTo(rmse(big, xs.map((v) => 1000 * v)), 2);
    expect(errs[1]).toBeCloseTo(rmse(small, xs.map((v) => 0.005 * v)), 6);
    expect(targetFit(model, split, taskOf(model, 'classification'))).toEqual({ r2: [], errors: [] });
    [x, y].forEach((t) => t.dispose());
    model.dispose();
  });

  it("an autoencoder's error is the mean squared error per output value", () => {
    const x = tf.tensor2d([[0, 1], [1, 0], [0.5, 0.5]]);
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2, useBias: false, activation: 'sigmoid' })] });
    model.layers[0].setWeights([tf.zeros([2, 2])]); // every output 0.5
    const task = taskOf(model, 'autoencoder');
    const { r2, errors: [mse] } = targetFit(model, { x, labels: new Int32Array(3), y: x }, task); // fitDatasetToModel sets y = x
    expect(r2).toEqual([]);
    expect(mse).toBeCloseTo((4 * 0.25 + 2 * 0) / 6, 6);
    x.dispose();
    model.dispose();
  });

  it('refuses --task classification for k independent sigmoid outputs (a multi-label model) unless a categorical loss says otherwise', () => {
    const make = (activation: 'sigmoid' | 'softmax', units: number) => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 6 }), tf.layers.dense({ units, activation })] });
    const three = make('sigmoid', 3);
    expect(() => checkToldClassification(three)).toThrow(/^--task classification: the model's 3 sigmoid outputs are independent yes\/no outputs .*use --task multilabel/);
    three.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
    expect(() => checkToldClassification(three)).not.toThrow();
    const soft = make('softmax', 3);
    const one = make('sigmoid', 1);
    expect(() => checkToldClassification(soft)).not.toThrow();
    expect(() => checkToldClassification(one)).not.toThrow();
    // As many sigmoid outputs as inputs: an autoencoder's, and the message says so (not "give it 4 label columns").
    const ae = make('sigmoid', 4);
    expect(() => checkToldClassification(ae)).toThrow(/^--task classification: the model has 4 sigmoid outputs, as many as its input values: an autoencoder's .*use --task autoencoder/);
    [three, soft, one, ae].forEach((m) => m.dispose());
  });

  it('a sigmoid autoencoder saved with binary cross-entropy is fine-tuned with it; any other loss it cannot keep is said (replaced)', () => {
    const ae = tf.sequential({ layers: [tf.layers.dense({ inputShape: [20], units: 4, activation: 'relu' }), tf.layers.dense({ units: 20, activation: 'sigmoid' })] });
    ae.compile({ optimizer: 'adam', loss: 'binaryCrossentropy' });
    const t = taskOf(ae);
    expect(t).toMatchObject({ kind: 'autoencoder', regressionLoss: 'bce' });
    const y = tf.tensor2d([[0.1, 0.9, ...new Array<number>(18).fill(0.5)]]);
    const p = tf.tensor2d([[0.2, 0.8, ...new Array<number>(18).fill(0.5)]]);
    expect(lossOf(p, y, t).dataSync()[0]).toBeGreaterThan(0);
    expect(rowLossesOf(p, y, t).shape).toEqual([1]);
    tf.dispose([y, p]);
    ae.dispose();
    expect(regressionLossOf('binarycrossentropy', false)).toEqual({ loss: 'mse', replaced: 'binarycrossentropy' });
    expect(regressionLossOf('logcosh')).toEqual({ loss: 'mse', replaced: 'logcosh' });
    expect(regressionLossOf(undefined)).toEqual({ loss: 'mse' });
  });

  it('refuses a --task that contradicts the loss saved with the model (a BCE multi-label model told regression, an MSE model told classification)', () => {
    const make = (activation: 'sigmoid' | 'linear', units: number, loss: string) => {
      const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [units], units: 4 }), tf.layers.dense({ units, activation })] });
      m.compile({ optimizer: 'adam', loss });
      return m;
    };
    const ml = make('sigmoid', 3, 'binaryCrossentropy');
    expect(() => checkToldTask(ml, 'regression')).toThrow(/^--task regression: the model was saved with the loss 'binaryCrossentropy', a loss for classes or labels/);
    expect(() => checkToldTask(ml, 'multilabel')).not.toThrow();
    expect(() => checkToldTask(ml, 'autoencoder')).not.toThrow(); // sigmoid outputs with BCE: an autoencoder of pixels too
    const reg = make('linear', 2, 'meanSquaredError');
    expect(() => checkToldTask(reg, 'classification')).toThrow(/^--task classification: the model was saved with the loss 'meanSquaredError', a loss for predicting values/);
    expect(() => checkToldTask(reg, 'regression')).not.toThrow();
    [ml, reg].forEach((m) => m.dispose());
  });

  it('a small model with as many linear outputs as inputs, given a CSV of that many columns, is told of --task autoencoder', () => {
    const ae = mlp(6, 6);
    const d = dataset(5, ['1', '2', '3']);
    expect(() => fitDatasetToModel(d, ae)).toThrow(/has 5 input values .* but the model expects shape \[6\] \(6 values\) \(the model has as many outputs as inputs, 6: if it reconstructs its inputs, pass --task autoencoder/);
    ae.dispose();
    d.dispose();
  });

  it('names the Keras loss settings a run does not keep (Huber delta other than 1, from_logits, label smoothing)', () => {
    expect(droppedLossSettings({ class_name: 'Huber', config: { delta: 10, name: 'huber_loss' } })).toEqual(['delta: 10']);
    expect(droppedLossSettings({ class_name: 'Huber', config: { delta: 1 } })).toEqual([]);
    expect(droppedLossSettings({ out: { class_name: 'BinaryCrossentropy', config: { from_logits: true, label_smoothing: 0.1 } } })).toEqual(['from_logits: true', 'label_smoothing: 0.1']);
    expect(droppedLossSettings('mean_squared_error')).toEqual([]);
  });

  it('weighs several regression targets alike in the fine-tuning loss (1/variance, mean 1), whatever their units', () => {
    const reg = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 })] });
    reg.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
    const y = tf.tensor2d([[1000, 1], [3000, 2], [2000, 3], [4000, 2]]);
    setTargetWeights(reg, y);
    const t = taskOf(reg);
    const v = [1_250_000, 0.5];
    const w = v.map((x) => 1 / x);
    const mean = (w[0] + w[1]) / 2;
    expect(t.targetWeights![0]).toBeCloseTo(w[0] / mean, 9);
    expect(t.targetWeights![1]).toBeCloseTo(w[1] / mean, 9);
    // The loss: the mean over rows and targets of the weighted squared errors; a 100-lbs miss counts like a 0.0063 miss.
    const pred = tf.tensor2d([[1100, 1], [3000, 2], [2000, 3], [4000, 2]]);
    expect(lossOf(pred, y, t).dataSync()[0]).toBeCloseTo((t.targetWeights![0] * 100 ** 2) / 8, 6);
    // What the console and report.json call that figure says what scale it is in.
    expect(lossName(t)).toBe("mean squared error, each target weighed by 1 / its variance, the weights scaled to average 1 (so the figures are in the targets' squared units, mostly those of the target that varies least)");
    tf.dispose([y, pred]);
    reg.dispose();
  });

  it('a softmax output saved with KL divergence (distillation) or MSE is read as a classifier, and --task classification is not refused', () => {
    for (const loss of ['kullbackLeiblerDivergence', 'meanSquaredError']) {
      const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 6 }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
      m.compile({ optimizer: 'adam', loss });
      expect(taskOf(m)).toMatchObject({ kind: 'classification', output: 'softmax' });
      expect(() => checkToldTask(m, 'classification')).not.toThrow();
      m.dispose();
    }
  });
});
