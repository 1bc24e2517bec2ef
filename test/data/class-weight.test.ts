import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { classWeightIdentity, classWeightsForTask, classWeightsOf, resolveClassWeights, rowWeights } from '../../src/data/class-weight.js';
import { judge, majorityShare } from '../../src/agent/guard.js';
import { evaluate, train, weightedOrder } from '../../src/models/train.js';
import { Rng } from '../../src/util/random.js';
import { resolveRunOptions } from '../../src/options.js';
import { UsageError } from '../../src/errors.js';
import { bestLabelOrder } from '../../src/run-checks.js';
import { smallCasePaths } from '../../src/bench/small-suite.js';
import { CACHE, cli, events, expectCleanUsageError } from '../cli/cli-helpers.js';
import { numTensors, removeTempDirs, runSmallCase, tempDir } from '../helpers.js';

const names = ['none', 'damaged'];

describe('class weights as given', () => {
  it("resolve 'balanced', class names and output indices; anything else is one clear error", () => {
    expect(resolveClassWeights('balanced', names)).toBe('balanced');
    expect(resolveClassWeights({ damaged: 5 }, names)).toEqual([1, 5]);
    expect(resolveClassWeights({ 1: 5, 0: 0.5 }, names)).toEqual([0.5, 5]);
    expect(() => resolveClassWeights({ hit: 5 }, names, '--class-weight')).toThrow(new UsageError("--class-weight: 'hit' is no class of the data (its classes: 'none', 'damaged'; or an output index 0…1)"));
    expect(() => resolveClassWeights({ damaged: 0 }, names)).toThrow(/the weight of 'damaged' must be a number > 0, got 0/);
    expect(() => resolveClassWeights({ damaged: 2, 1: 3 }, names)).toThrow(/class 'damaged' is weighted twice/);
    expect(() => resolveClassWeights('even', names)).toThrow(/must be 'balanced' or class weights/);
    // Another task than single-label classification is refused before any class is looked at.
    expect(() => classWeightsForTask('balanced', 'regression', [], '--class-weight')).toThrow(new UsageError("--class-weight applies to single-label classification; this model's task is regression"));
    expect(classWeightsForTask({ damaged: 5 }, 'classification', names)).toEqual([1, 5]);
    expect(() => resolveClassWeights('Balance', names)).toThrow(/got "Balance" \(did you mean 'balanced'\?\)$/);
    // The run's options refuse a malformed value before any data is read.
    expect(() => resolveRunOptions({ target: 0.5, classWeight: { damaged: -1 } })).toThrow(/classWeight must be 'balanced' or class weights/);
    expect(resolveRunOptions({ target: 0.5, classWeight: 'balanced' }).classWeight).toBe('balanced');
    // A checkpoint knows the same weights however they were written (by name, by index, in another order).
    expect(classWeightIdentity({ damaged: 5 }, names)).toBe(classWeightIdentity({ 1: 5, 0: 1 }, names));
    expect(classWeightIdentity('balanced', names)).toBe('balanced');
  });

  it('weigh rows to mean 1: balanced gives each class present the same total, a record its ratio', () => {
    const labels = Int32Array.from([0, 0, 0, 1]);
    expect(Array.from(rowWeights(labels, 'balanced'))).toEqual([2 / 3, 2 / 3, 2 / 3, 2].map(Math.fround));
    // 1 : 5 for three rows to one, scaled to mean 1: 4 / 8 and 20 / 8.
    expect(Array.from(rowWeights(labels, [1, 5]))).toEqual([0.5, 0.5, 0.5, 2.5]);
    expect(classWeightsOf(labels, 'balanced', 3).map((w) => +w.toFixed(4))).toEqual([0.6667, 2, NaN]);
  });
});

describe('weighted rows in training and in the figures', () => {
  it('an epoch draws each row its weight in times, rounded at random, shuffled, the same for a seed', () => {
    const w = Float32Array.from([0.5, 0.5, 0.5, 0.5, 3]);
    const a = weightedOrder(new Rng(3), w);
    expect(Array.from(a)).toEqual(Array.from(weightedOrder(new Rng(3), w)));
    const counts = Array.from({ length: 5 }, (_, i) => a.filter((r) => r === i).length);
    expect(counts[4]).toBe(3);
    for (const c of counts.slice(0, 4)) expect([0, 1]).toContain(c);
    // Weights under 1 on every row can leave an epoch empty: a plain permutation then.
    expect(weightedOrder(new Rng(0), Float32Array.from([0.01, 0.01])).length).toBe(2);
  });

  it('evaluate weighs the metric, the loss and the per-row losses; correct stays each row\'s own', () => {
    const before = numTensors();
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [1], units: 2, activation: 'softmax', kernelInitializer: 'ones', biasInitializer: 'zeros' })] });
    model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
    // Both outputs alike: argmax is class 0 on every row, right on the three rows of class 0 only.
    const split = { x: tf.tensor2d([[1], [2], [3], [4]]), labels: Int32Array.from([0, 0, 0, 1]) };
    const plain = evaluate(model, split, undefined, true);
    const weighted = evaluate(model, { ...split, weights: rowWeights(split.labels, 'balanced') }, undefined, true);
    expect(plain.accuracy).toBeCloseTo(0.75, 6);
    // Every row right is exactly 1 under any weights (the figure is over the weights' own sum).
    const odd = Float32Array.from([0.1, 0.7, 0.7, 2.5]);
    const allRight = { x: split.x, labels: Int32Array.from([0, 0, 0, 0]), weights: odd };
    expect(evaluate(model, allRight).accuracy).toBe(1);
    expect(weighted.accuracy).toBeCloseTo(0.5, 6); // balanced accuracy: recall 1 and 0
    expect(Array.from(weighted.correct)).toEqual([1, 1, 1, 0]);
    // Every row's loss is the same (both outputs alike): weights of mean 1 leave the mean, and scale each row's.
    expect(weighted.loss).toBeCloseTo(plain.loss, 5);
    expect(Array.from(weighted.rows!).map((r) => +r.toFixed(4))).toEqual([2 / 3, 2 / 3, 2 / 3, 2].map((w) => +(w * plain.rows![0]).toFixed(4)));
    split.x.dispose();
    model.dispose();
    expect(numTensors()).toBe(before);
  });

  it('training on weighted rows learns the rare class that plain rows let it ignore', () => {
    // 90 rows of class 0 and 10 of class 1, their inputs overlapping: plain training answers 0 on most class-1 rows.
    const rng = new Rng(1);
    const labels = Int32Array.from({ length: 100 }, (_, i) => (i < 90 ? 0 : 1));
    const x = tf.tensor2d(Array.from(labels, (c) => [c + 1.2 * rng.normal()]));
    const recallOfRare = (weights?: Float32Array) => {
      const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [1], units: 2, activation: 'softmax', kernelInitializer: 'zeros' })] });
      model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
      const split = { x, labels, ...(weights ? { weights } : {}) };
      train(model, split, { epochs: 60, batchSize: 10, learningRate: 0.05, seed: 0 });
      const correct = evaluate(model, { x, labels }).correct;
      model.dispose();
      return correct.slice(90).reduce((a, b) => a + b, 0) / 10;
    };
    const plain = recallOfRare();
    const balanced = recallOfRare(rowWeights(labels, 'balanced'));
    x.dispose();
    expect(plain).toBeLessThanOrEqual(0.3);
    expect(balanced).toBeGreaterThanOrEqual(0.6);
  });

  it('the guard judges the weighted drop, counting rows lost and gained as rows', () => {
    const labels = [0, 0, 0, 1];
    const w = rowWeights(labels, 'balanced');
    // The pruned model loses the one rare row and gains a common one: plain accuracy unchanged, balanced down.
    const v = judge([1, 1, 0, 1], [1, 1, 1, 0], 0, w);
    expect(v.drop).toBeCloseTo((2 - 2 / 3) / 4, 6);
    expect([v.lost, v.gained]).toEqual([1, 1]);
    expect(judge([1, 1, 0, 1], [1, 1, 1, 0], 0).drop).toBe(0);
    // What always answering the common class scores: its rows' share, or 1 / classes when balanced.
    expect(majorityShare(labels).share).toBe(0.75);
    expect(majorityShare(labels, w).share).toBeCloseTo(0.5, 6);
    // The label-order search counts weighted rows: a model right on the rare row only is right on half the weight.
    const order = bestLabelOrder(Int32Array.from(labels), [1, 1, 1, 1], 2, undefined, w);
    expect(order.identity).toBeCloseTo(2, 6);
    expect(order.best).toBeCloseTo(2, 6);
  });
});

describe('class weights through a run', () => {
  afterAll(removeTempDirs);

  it("a balanced run fine-tunes by them, judges and reports balanced accuracy, and says so at the start", async () => {
    const { r, events: ev } = await runSmallCase('penguins-species', { target: 0.5, budgetSteps: 120, classWeight: 'balanced' });
    const start = ev.find((e) => e.type === 'start') as { metric: string; classWeight?: { given: unknown; training: Record<string, number> } };
    expect(start.metric).toBe('balanced accuracy');
    expect(start.classWeight?.given).toBe('balanced');
    expect(Object.keys(start.classWeight!.training)).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    expect(r.metric).toBe('balanced accuracy');
    expect(r.classWeight).toBe('balanced');
    // A class the data does not have is refused in one line.
    await expect(runSmallCase('penguins-species', { target: 0.5, budgetSteps: 10, classWeight: { nosuch: 2 } })).rejects.toThrow(/'nosuch' is no class of the data/);
  });

  it('the CLI takes --class-weight, records it, and refuses a bad one in one line with nothing written', async () => {
    const p = smallCasePaths('penguins-species');
    const cwd = tempDir('autoprune-cw-');
    const base = ['--model', p.model, '--data', p.data, '--target', '0.5', '--budget-steps', '60'];
    expectCleanUsageError(await cli([...base, '--class-weight', 'Gentoo=0', '--out', 'bad1'], { cwd }), /--class-weight.*must be 'balanced' or class=weight pairs/);
    expectCleanUsageError(await cli([...base, '--class-weight', 'hen=2', '--out', 'bad2'], { cwd }), /--class-weight: 'hen' is no class of the data \(its classes: 'Adelie', 'Chinstrap', 'Gentoo'/);
    expectCleanUsageError(await cli([...base, '--class-weight', 'Gentoo=2,Gentoo=3', '--out', 'bad3'], { cwd }), /--class-weight.*names class 'Gentoo' twice \(Gentoo=2 and Gentoo=3\)/);
    expectCleanUsageError(await cli([...base, '--class-weight', 'balance', '--out', 'bad4'], { cwd }), /--class-weight.*got 'balance' \(did you mean 'balanced'\?\)/);
    expect(['bad1', 'bad2', 'bad3', 'bad4'].some((d) => existsSync(join(cwd, d)))).toBe(false);
    const ok = await cli([...base, '--class-weight', 'Chinstrap=2', '--json', '--out', 'o'], { cwd });
    expect(ok.code, ok.stderr).toBe(0);
    const start = events(ok.stdout).find((e) => e.type === 'start') as { metric: string; classWeight: { given: Record<string, number> } };
    expect(start.metric).toBe('class-weighted accuracy');
    expect(start.classWeight.given).toEqual({ Adelie: 1, Chinstrap: 2, Gentoo: 1 });
    const report = JSON.parse(readFileSync(join(cwd, 'o', 'report.json'), 'utf8'));
    expect(report.config.classWeight).toEqual({ Adelie: 1, Chinstrap: 2, Gentoo: 1 });
    expect(report.task.metric).toBe('class-weighted accuracy');
  });

  it('on an imbalanced table whose model was trained balanced: without them the run warns of the lost class, with them it neither warns nor loses it', async () => {
    // 7,145 FAA bird strikes, 10 % damaged ('1'), a model trained with balanced class weights (scripts/build-small-suite.mjs).
    const dir = join(import.meta.dirname, '..', '..', 'datasets', 'imbalanced', 'birdstrikes-all');
    const cwd = tempDir('autoprune-cw-imb-');
    const base = ['--model', join(dir, 'model', 'model.json'), '--data', join(dir, 'data.csv'), '--target', '0.5', '--budget-steps', '60', '--json'];
    const plain = await cli([...base, '--out', 'plain'], { cwd });
    expect(plain.code, plain.stderr).toBe(0);
    const said = (stdout: string) => events(stdout).filter((e) => e.type === 'warning').map((e) => String(e.message));
    expect(said(plain.stdout).some((m) => /no better than always answering the most common class/.test(m))).toBe(true);
    expect(said(plain.stdout).some((m) => /^fine-tuning alone, unpruned .* recalls class '1' .*--class-weight/.test(m))).toBe(true);
    const weighted = await cli([...base, '--class-weight', 'balanced', '--out', 'balanced'], { cwd });
    expect(weighted.code, weighted.stderr).toBe(0);
    expect(said(weighted.stdout).filter((m) => /most common class|recalls class|lost .* points of test recall/.test(m))).toEqual([]);
    const recall = (out: string) => JSON.parse(readFileSync(join(cwd, out, 'report.json'), 'utf8')).final.classes.find((c: { name: string }) => c.name === '1');
    // The rare class's test recall as given (69.9 % of 73 rows): lost without the weights, kept with them.
    expect(recall('plain').recall).toBeLessThan(recall('plain').denseRecall / 2);
    expect(recall('balanced').recall).toBeGreaterThan(recall('balanced').denseRecall - 0.1);
    // The labels renamed so that their sorted order is not the model's (damaged < none): refused before any training,
    // naming the order that fits by the weights; given that order, the run goes ahead.
    const renamed = readFileSync(join(dir, 'data.csv'), 'utf8').replace(/,1$/gm, ',damaged').replace(/,0$/gm, ',none');
    writeFileSync(join(cwd, 'named.csv'), renamed);
    const named = ['--model', join(dir, 'model', 'model.json'), '--data', 'named.csv', '--target', '0.5', '--budget-steps', '30', '--class-weight', 'balanced'];
    expectCleanUsageError(await cli([...named, '--out', 'refused'], { cwd }), /class-weighted accuracy on the validation split is .* with the labels in sorted order \(damaged, none\), but .* with the names in the order none, damaged: .*pass --label-order none,damaged/);
    expect(existsSync(join(cwd, 'refused'))).toBe(false);
    const ordered = await cli([...named, '--label-order', 'none,damaged', '--force', '--out', 'ordered'], { cwd });
    expect(ordered.code, ordered.stderr).toBe(0);
  });

  it('the built-in model (no --model) is trained with the class weights it is then pruned with', async () => {
    const dir = join(import.meta.dirname, '..', '..', 'datasets', 'imbalanced', 'birdstrikes-all');
    const cwd = tempDir('autoprune-cw-default-');
    // 1,500 of the bird strikes (10 % damaged): the built-in MLP trains on them, plain or balanced.
    writeFileSync(join(cwd, 'strikes.csv'), `${readFileSync(join(dir, 'data.csv'), 'utf8').split('\n').slice(0, 1501).join('\n')}\n`);
    const base = ['--data', 'strikes.csv', '--target', '0.5', '--budget-steps', '30', '--force'];
    const plain = await cli([...base, '--out', 'plain'], { cwd });
    const weighted = await cli([...base, '--class-weight', 'balanced', '--out', 'balanced'], { cwd });
    for (const r of [plain, weighted]) expect(r.code, r.stderr).toBe(0);
    const report = (out: string) => JSON.parse(readFileSync(join(cwd, out, 'report.json'), 'utf8'));
    expect(report('balanced').task.metric).toBe('balanced accuracy');
    // Two dense models, cached apart: the one the weighted run pruned was trained with the weights (its cache entry says so).
    expect(report('balanced').config.model).toBe(report('plain').config.model);
    const entries = readdirSync(join(CACHE, 'models')).map((d) => join(CACHE, 'models', d, 'autoprune-cache.json')).filter((f) => existsSync(f))
      .map((f) => JSON.parse(readFileSync(f, 'utf8')) as { spec: { classWeight?: unknown }; data: string })
      .filter((e) => e.data.endsWith('strikes.csv'));
    expect(entries.map((e) => e.spec.classWeight ?? 'none').sort()).toEqual(['balanced', 'none']);
    expect(report('balanced').dense.valAccuracy).not.toBe(report('plain').dense.valAccuracy);
  });
});
