/**
 * Tasks beyond single-label classification, end to end through the API as a user runs them: a regression
 * model and a multi-label model saved with their loss (so the task is read from model.json), with target
 * columns that are not the file's last ones (--label names them, --ignore-columns leaves out an ID), and
 * models that were not trained for the columns given refused before any training.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { autoprune, tf, type AgentEvent } from '../src/index.js';
import { DataError } from '../src/errors.js';
import { Rng } from '../src/util/random.js';
import { numTensors, tempDir } from './helpers.js';
import { cli, expectCleanUsageError } from './cli/cli-helpers.js';

process.env.AUTOPRUNE_CACHE_DIR = tempDir('autoprune-tasks-cache-');

const ROWS = 400;
/** id, y1, a, b, c, d, price, y2, y3: price = 2a − b + c/2 + noise; y1 = a > 0, y2 = b + c > 0, y3 = d > 0.5. */
function table(dir: string): { file: string; x: number[][]; price: number[]; labels: number[][] } {
  const rng = new Rng(5);
  const x: number[][] = [];
  const price: number[] = [];
  const labels: number[][] = [];
  const lines = ['id,y1,a,b,c,d,price,y2,y3'];
  for (let i = 0; i < ROWS; i++) {
    const [a, b, c, d] = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
    const p = 2 * a - b + c / 2 + 0.1 * rng.normal();
    const y = [a > 0 ? 1 : 0, b + c > 0 ? 1 : 0, d > 0.5 ? 1 : 0];
    x.push([a, b, c, d]);
    price.push(p);
    labels.push(y);
    lines.push([1000 + i, y[0], a.toFixed(4), b.toFixed(4), c.toFixed(4), d.toFixed(4), p.toFixed(4), y[1], y[2]].join(','));
  }
  const file = join(dir, 'table.csv');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return { file, x, price, labels };
}

/** A 4 → 32 → 16 → k MLP trained on the rows and saved with its loss in model.json. */
async function saved(dir: string, name: string, x: number[][], y: number[][], activation: 'linear' | 'sigmoid', loss: string): Promise<string> {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 32, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      tf.layers.dense({ units: y[0].length, activation, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    ],
  });
  m.compile({ optimizer: tf.train.adam(0.01), loss });
  const xs = tf.tensor2d(x);
  const ys = tf.tensor2d(y);
  await m.fit(xs, ys, { epochs: 60, batchSize: 32, shuffle: false, verbose: 0 });
  tf.dispose([xs, ys]);
  const path = join(dir, name);
  await m.save(`file://${path}`, { includeOptimizer: true });
  m.dispose();
  return path;
}

describe('regression and multi-label models with their target columns anywhere in the CSV', () => {
  it('prunes each on its own metric, and refuses target columns the model was not trained for', async () => {
    const dir = tempDir();
    const t = table(dir);
    const reg = await saved(dir, 'reg', t.x, t.price.map((p) => [p]), 'linear', 'meanSquaredError');
    const ml = await saved(dir, 'ml', t.x, t.labels, 'sigmoid', 'binaryCrossentropy');
    const before = numTensors();
    const common = { target: 0.6, data: t.file, ignoreColumns: ['id'], budgetSteps: 300, maxDrop: 5, force: true } as const;

    const events: AgentEvent[] = [];
    const r = await autoprune({ ...common, model: reg, label: 'price', ignoreColumns: ['id', 'y1', 'y2', 'y3'], onEvent: (e) => events.push(e) });
    expect(r.report.task).toMatchObject({ kind: 'regression', metric: 'R²' });
    expect(r.report.columns).toEqual({ inputs: ['a', 'b', 'c', 'd'], targets: ['price'] });
    expect(r.report.dense.valAccuracy).toBeGreaterThan(0.9);
    expect(r.report.final.sparsity).toBeGreaterThanOrEqual(0.6 - 1e-3);
    expect(r.report.final.testAccuracy).toBeGreaterThan(0.8);
    // The error in the target's own units: RMSE of the same test rows, so it orders dense and pruned as R² does
    // (R² = 1 − MSE / variance of those rows), and with R² > 0.8 it is under half the prices' spread.
    const [err] = r.report.final.testErrors!.values;
    expect(r.report.final.testErrors!.metric).toBe('rmse');
    expect(err.name).toBe('price');
    const mean = t.price.reduce((a, b) => a + b, 0) / ROWS;
    const sd = Math.sqrt(t.price.reduce((a, b) => a + (b - mean) ** 2, 0) / ROWS);
    expect(err.pruned).toBeGreaterThan(0);
    expect(err.pruned).toBeLessThan(0.5 * sd);
    expect(Math.sign(err.pruned - err.dense)).toBe(Math.sign(r.report.dense.testAccuracy - r.report.final.testAccuracy));
    expect(events.find((e) => e.type === 'done')).toMatchObject({ testErrors: r.report.final.testErrors });
    r.model.dispose();

    const m = await autoprune({ ...common, model: ml, label: ['y1', 'y2', 'y3'], ignoreColumns: ['id', 'price'] });
    expect(m.report.task).toMatchObject({ kind: 'multilabel', metric: 'exact-match accuracy' });
    expect(m.report.config.label).toEqual(['y1', 'y2', 'y3']);
    expect(m.report.columns).toEqual({ inputs: ['a', 'b', 'c', 'd'], targets: ['y1', 'y2', 'y3'] });
    expect(m.report.dense.valAccuracy).toBeGreaterThan(0.6);
    expect(m.report.final.sparsity).toBeGreaterThanOrEqual(0.6 - 1e-3);
    expect(m.report.final.testErrors).toBeUndefined();
    // Each label's test recall, dense and pruned, over its positive rows (exact-match accuracy hides a rare label).
    expect(m.report.final.labels!.map((l) => l.name)).toEqual(['y1', 'y2', 'y3']);
    for (const l of m.report.final.labels!) {
      expect(l.testPositives).toBeGreaterThan(0);
      expect(l.denseRecall).toBeGreaterThanOrEqual(0);
      expect(l.recall).toBeLessThanOrEqual(1);
    }
    m.model.dispose();

    // The labels in another order than the outputs, or a regression model given another column as its target:
    // no better than a constant, so refused before any training, naming --label.
    await expect(autoprune({ ...common, model: ml, label: ['y3', 'y1', 'y2'], ignoreColumns: ['id', 'price'] }))
      .rejects.toThrow(/exact-match accuracy on the validation split \(40 rows\) is .* right on .* of the labels, worse than predicting each label's more common value .*target columns: y3, y1, y2.*with label, .*ignoreColumns/);
    const wrong = autoprune({ ...common, model: reg, label: 'd', ignoreColumns: ['id', 'y1', 'y2', 'y3'] });
    await expect(wrong).rejects.toBeInstanceOf(DataError);
    await expect(autoprune({ ...common, model: reg, label: 'd', ignoreColumns: ['id', 'y1', 'y2', 'y3'] }))
      .rejects.toThrow(/R² on the validation split \(40 rows\) is -?\d\.\d{3}, no better than predicting the mean .*target columns: d/);
    expect(numTensors()).toBe(before);
  }, 240_000);

  it('refuses a regression model given its target columns in another order, or a column other than the one it predicts, naming the label that fits', async () => {
    const dir = tempDir();
    const t = table(dir);
    // Two targets: price and y2 as a number (the 0/1 column, a value like any other for a regression model).
    const two = await saved(dir, 'two', t.x, t.price.map((p, i) => [p, t.labels[i][1]]), 'linear', 'meanSquaredError');
    const common = { target: 0.6, data: t.file, budgetSteps: 30, maxDrop: 5 } as const;
    await expect(autoprune({ ...common, model: two, label: ['y2', 'price'], ignoreColumns: ['id', 'y1', 'y3'] }))
      .rejects.toThrow(/the model's outputs fit the columns price, y2 in that order \(validation R² 0\.\d+\) far better than the targets given, y2, price \(R² -?\d+\.\d+\): it was trained for those.*label.*price,y2/);
    // A single-target model given y2 as its target while the column it predicts, price, is left out (the same
    // inputs a, b, c, d): its output follows price far better than y2.
    const reg = await saved(dir, 'reg', t.x, t.price.map((p) => [p]), 'linear', 'meanSquaredError');
    const wrong = autoprune({ ...common, model: reg, label: 'y2', ignoreColumns: ['id', 'y1', 'price', 'y3'] });
    await expect(wrong).rejects.toBeInstanceOf(DataError);
    await expect(autoprune({ ...common, model: reg, label: 'y2', ignoreColumns: ['id', 'y1', 'price', 'y3'] }))
      .rejects.toThrow(/the model's output fits the column price \(validation R² 0\.\d+\) far better than the target given, y2 .*label price .*ignoreColumns.*price; ignore y2 instead/);
    // build-meta labels classifiers only: a regression model is refused in one line, not told to pass a --task it lacks.
    expectCleanUsageError(await cli(['build-meta', '--family', 'prices', '--models', reg, '--data', t.file, '--label', 'price', '--ignore-columns', 'id,y1,y2,y3', '--workers', '1', '--out', join(dir, 'meta.json')]),
      /build-meta: model '.*reg': a regression model \(output 1 linear unit, loss (meanSquaredError|mean_squared_error)\): build-meta builds policy rows for classifiers only/);
    expect(existsSync(join(dir, 'meta.json'))).toBe(false);
    // As given (the right order), the check stays silent and the run goes on.
    const ok = await autoprune({ ...common, model: two, label: ['price', 'y2'], ignoreColumns: ['id', 'y1', 'y3'], force: true });
    expect(ok.report.task).toMatchObject({ kind: 'regression' });
    ok.model.dispose();
  }, 120_000);
});
describe('a weak regression model', () => {
  it('that scores R² ≤ 0 on the validation rows but fits its training rows is warned about, not refused', async () => {
    const dir = tempDir();
    const rng = new Rng(3);
    const row = (noise: boolean) => { const a = rng.normal(); const b = rng.normal(); return [a, b, noise ? 3 * rng.normal() : a]; };
    const csv = (file: string, n: number, noise: boolean) => { writeFileSync(join(dir, file), `a,b,y\n${Array.from({ length: n }, () => row(noise).map((v) => v.toFixed(4)).join(',')).join('\n')}\n`); return join(dir, file); };
    const train = csv('train.csv', 200, false);
    const val = csv('val.csv', 40, true); // targets unrelated to the inputs: R² ≤ 0 there
    const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1, weights: [tf.tensor2d([[1], [0]]), tf.tensor1d([0])] })] });
    m.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
    await m.save(`file://${join(dir, 'm')}`, { includeOptimizer: true });
    m.dispose();
    const warnings: string[] = [];
    const { model, report } = await autoprune({
      model: join(dir, 'm'), data: train, valData: val, target: 0.5, budgetSteps: 20, force: true, policy: 'global-magnitude',
      onEvent: (e: AgentEvent) => { if (e.type === 'warning') warnings.push(e.message); },
    });
    expect(report.dense.valAccuracy).toBeLessThanOrEqual(0);
    expect(warnings.filter((w) => /R² on the validation split \(40 rows\) is -?\d\.\d{3}, no better than predicting the mean .* though \d\.\d{3} on the training rows: a weak model/.test(w))).toHaveLength(1);
    model.dispose();
  }, 60_000);
});
describe('a regression model with several targets', () => {
  it('that fits one target and not another is refused naming each target\'s R², not as a model trained for other columns', async () => {
    const dir = tempDir();
    const rng = new Rng(5);
    // y follows a; z is a hundred-thousandth of y's scale, and the model's second output (a constant 5) never learned it.
    const rows = Array.from({ length: 200 }, () => { const a = rng.normal(); const b = rng.normal(); return [a, b, rng.normal(), 100 * a, 1e-3 * rng.normal()]; });
    writeFileSync(join(dir, 'd.csv'), `a,b,c,y,z\n${rows.map((r) => r.map((v) => v.toFixed(6)).join(',')).join('\n')}\n`);
    const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2, weights: [tf.tensor2d([[100, 0], [0, 0], [0, 0]]), tf.tensor1d([0, 5])] })] });
    m.compile({ optimizer: 'adam', loss: 'meanAbsoluteError' });
    await m.save(`file://${join(dir, 'm')}`, { includeOptimizer: true });
    m.dispose();
    const run = autoprune({ model: join(dir, 'm'), data: join(dir, 'd.csv'), label: ['y', 'z'], target: 0.5, budgetSteps: 20 });
    await expect(run).rejects.toBeInstanceOf(DataError);
    await expect(autoprune({ model: join(dir, 'm'), data: join(dir, 'd.csv'), label: ['y', 'z'], target: 0.5, budgetSteps: 20 }))
      .rejects.toThrow(/R² on the validation split \(\d+ rows\) is -\d+\.\d{3}, no better than predicting the mean \(R² ≤ 0\) \(per target: y 1\.000, z -\d+\.\d{3}\), and -\d+\.\d{3} on the training rows: it fits y but not z: a target it was not trained for, or whose scale its loss did not see/);
  }, 60_000);
});
describe('--task for a model.json without a loss', () => {
  it('says which loss fine-tuning uses, and that the pruned model.json will name it', async () => {
    const dir = tempDir();
    const rng = new Rng(4);
    writeFileSync(join(dir, 'd.csv'), `a,b,y\n${Array.from({ length: 120 }, () => { const a = rng.normal(); const b = rng.normal(); return [a, b, a - b].map((v) => v.toFixed(4)).join(','); }).join('\n')}\n`);
    // a − b through 8 linear units (two carry a and b, six are near 0): enough weights for the per-layer floors to leave 0.5.
    const k1 = [[1, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001], [0.001, 1, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001]];
    const m = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [2], units: 8, weights: [tf.tensor2d(k1), tf.zeros([8])] }),
      tf.layers.dense({ units: 1, weights: [tf.tensor2d([[1], [-1], [0.001], [0.001], [0.001], [0.001], [0.001], [0.001]]), tf.tensor1d([0])] }),
    ] });
    await m.save(`file://${join(dir, 'm')}`); // no loss saved
    m.dispose();
    const warnings: string[] = [];
    const { model } = await autoprune({
      model: join(dir, 'm'), data: join(dir, 'd.csv'), task: 'regression', target: 0.5, budgetSteps: 20, force: true, policy: 'global-magnitude',
      onEvent: (e: AgentEvent) => { if (e.type === 'warning') warnings.push(e.message); },
    });
    expect(warnings.filter((w) => /^the model\.json names no loss: fine-tuning uses mean squared error for its regression outputs, and the pruned model\.json names it/.test(w))).toHaveLength(1);
    model.dispose();
  }, 60_000);

  it('an autoencoder: a label-like column read as an input is named, and the run says it reconstructs its inputs (x → x) with the loss it chose', async () => {
    const dir = tempDir();
    const rng = new Rng(6);
    writeFileSync(join(dir, 'd.csv'), `label,a,b,c,d\n${Array.from({ length: 120 }, (_, i) => { const a = rng.normal(); const b = rng.normal(); return [i % 3, a, b, a + b, a - b].map((v) => v.toFixed(4)).join(','); }).join('\n')}\n`);
    // Trained as it were: the rows span (a, b), which the code keeps and the decoder maps back (a, b, a + b, a − b).
    const w = [tf.tensor2d([[1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 0]]), tf.zeros([3]), tf.tensor2d([[1, 0, 1, 1], [0, 1, 1, -1], [0, 0, 0, 0]]), tf.zeros([4])];
    const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, weights: w.slice(0, 2) }), tf.layers.dense({ units: 4, weights: w.slice(2) })] });
    w.forEach((t) => t.dispose());
    await m.save(`file://${join(dir, 'm')}`); // no loss saved
    m.dispose();
    // (16 of its 24 kernel weights are zero: a target above its own 66.7 %.)
    const base = { model: join(dir, 'm'), data: join(dir, 'd.csv'), task: 'autoencoder' as const, target: 0.7, budgetSteps: 20, force: true, policy: 'global-magnitude' };
    await expect(autoprune(base)).rejects.toThrow(/has 5 input values per sample .* \(column 'label' looks like a label, not an input: ignoreColumns label\)$/);
    const warnings: string[] = [];
    const { model } = await autoprune({ ...base, ignoreColumns: ['label'], onEvent: (e: AgentEvent) => { if (e.type === 'warning') warnings.push(e.message); } });
    expect(warnings.filter((w) => w.startsWith('an autoencoder is fine-tuned and judged on reconstructing its inputs as given (x → x)'))).toHaveLength(1);
    expect(warnings.filter((w) => w.startsWith('the model.json names no loss: fine-tuning uses mean squared error for its autoencoder outputs'))).toHaveLength(1);
    model.dispose();
  }, 60_000);
});
