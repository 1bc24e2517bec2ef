/**
 * A fine-tune at the target (the polish, the last try) still improving when a default budget runs out gets the default
 * rule's steps again on small data (docs/agent.md, "Budget"); a budget the user set is a limit.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/backend/tf.js';
import { numTensors, runOnFiles, runSmallCase } from '../helpers.js';
import { autoprune, buildModel, loadSynthetic, train } from '../../src/index.js';
import { nothingToGain, PERFECT_R2 } from '../../src/agent/loop.js';
import type { AgentEvent } from '../../src/agent/events.js';

// weather-city @0.9: the polish is still improving (validation 85.6 %) at the end of the default budget, and of its first extension.
const run = (budgetSteps?: number) => runSmallCase('weather-city', { target: 0.9, ...(budgetSteps != null ? { budgetSteps } : {}) });

describe('a fine-tune at the target still improving when the default budget runs out', () => {
  it('gets the default budget again, said in a budget event, and goes on as one polish; a budget the user set is not extended', async () => {
    const before = numTensors();
    const { r, events } = await run();
    const budget = events.filter((e) => e.type === 'budget');
    expect(budget.length).toBeGreaterThan(0);
    const base = (events.find((e) => e.type === 'start') as { budgetSteps: number }).budgetSteps;
    budget.forEach((e, i) => {
      expect(e).toMatchObject({ extensions: i + 1, budgetSteps: (i + 2) * base });
      expect(e.message).toMatch(/^the polish was still improving when the default fine-tuning budget ran out: extended (once|again \(\d+× the default budget\)), to \d+ optimizer steps$/);
    });
    expect(r.budget.budgetSteps).toBe((budget.length + 1) * base);
    expect(r.totals.fineTuneSteps).toBeGreaterThan(base);
    expect(r.totals.fineTuneSteps).toBeLessThanOrEqual(r.budget.budgetSteps);
    // One polish: its rounds count on across the extension, and its record sums its steps.
    const rounds = events.flatMap((e) => (e.type === 'epoch' && e.phase === 'polish' ? [e.epoch] : []));
    rounds.forEach((k, i) => expect(k).toBe(i));
    expect(events.filter((e) => e.type === 'polish')).toHaveLength(1);
    expect(r.polish!.steps).toBeGreaterThan(r.budget.roundSteps * (rounds.length - 1));
    expect(r.exitCode).toBe(0);

    // The same budget set by hand: a limit.
    const set = await run(base);
    expect(set.events.some((e) => e.type === 'budget')).toBe(false);
    expect(set.r.totals.fineTuneSteps).toBeLessThanOrEqual(base);
    expect(numTensors()).toBe(before);
  }, 60_000);
});

describe('a polish with every validation row right', () => {
  it('is not extended for a loss still creeping down: the guard\'s measure has nothing left to gain', async () => {
    // Easy, well separated classes: 100 % validation accuracy dense and pruned. The polish's loss kept falling (to ~1e-7),
    // which extended the default budget three times (4× the run) before this rule.
    const data = loadSynthetic({ samples: 600, features: 8, classes: 3, seed: 1, noise: 0.05 });
    const model = buildModel({ family: 'mlp', inputShape: [8], hidden: [32, 16], numClasses: 3, seed: 1 });
    train(model, data.train, { epochs: 30, batchSize: 32 });
    const events: AgentEvent[] = [];
    const r = await autoprune({ model, data, target: 0.8, onEvent: (e) => events.push(e) });
    expect(r.report.dense.valAccuracy).toBe(1);
    expect(r.report.final.valAccuracy).toBe(1);
    expect(events.filter((e) => e.type === 'budget')).toEqual([]);
    expect(events.find((e) => e.type === 'polish')).toMatchObject({ kept: true });
    expect(r.report.final.sparsity).toBeGreaterThanOrEqual(0.8 - 1e-3);
    r.model.dispose();
    model.dispose();
    data.dispose();
  }, 60_000);
});

describe('a polish at a validation R² of 0.999 or more', () => {
  it('has nothing left to gain at R² ≥ 0.999 and at its reference or above (a new user\'s autoencoder at R² 1.000 was extended to 4× the default budget), a classifier at 100 %', () => {
    expect(nothingToGain('R²', 0.9995, 0.998)).toBe(true);
    expect(nothingToGain('R²', 0.9995, 0.9995)).toBe(true);
    // A model dense at 0.99999 is still polished towards it (stopping at 0.999 would keep up to 100× its error).
    expect(nothingToGain('R²', 0.9995, 0.99999)).toBe(false);
    expect(nothingToGain('R²', 0.998, 0.95)).toBe(false);
    expect(nothingToGain('accuracy', 1, 0.99)).toBe(true);
    expect(nothingToGain('accuracy', 0.999, 0.99)).toBe(false);
    expect(nothingToGain('R²', undefined, 0.5)).toBe(false);
    expect(PERFECT_R2).toBe(0.999);
  });
});

describe('the last try at the target still improving when the default budget runs out', () => {
  it('gets the budget extended while within reach and reaches the target where the steps had stopped short', async () => {
    // gapminder-cluster @0.9, seed 1: the steps stop at ~80 % (68 validation rows: every smaller step lost 3 rows), and
    // the last try at 0.9 misses by two rows after its half of the budget, within the noise of its paired estimate.
    const { r, events } = await runSmallCase('gapminder-cluster', { target: 0.9, seed: 1 });
    const grown = events.filter((e) => e.type === 'budget' && e.message.startsWith('the last try at the target was still improving'));
    expect(grown.length).toBeGreaterThan(0);
    const last = r.steps[r.steps.length - 1];
    expect(last).toMatchObject({ accepted: true, reason: expect.stringMatching(/^last try at the target with the whole budget left and its extension/) });
    expect(last.drop!).toBeLessThanOrEqual(last.allowedDrop! + 1e-9);
    expect(r.exitCode).toBe(0);
    expect(r.sparsity.global).toBeGreaterThanOrEqual(0.9 - 1e-3);
    expect(r.totals.fineTuneSteps).toBeLessThanOrEqual(r.budget.budgetSteps);
  }, 120_000);

  it('on a new user\'s table (their own split and model) where it used to stop short, reaches the target', async () => {
    const dir = join(PACKAGE_ROOT, 'test', 'fixtures', 'weather-city-user');
    const { r } = await runOnFiles(join(dir, 'model', 'model.json'), join(dir, 'train.csv'), { valPath: join(dir, 'val.csv'), testPath: join(dir, 'test.csv'), standardize: false }, { target: 0.8, seed: 1 });
    expect(r.exitCode).toBe(0);
    expect(r.sparsity.global).toBeGreaterThanOrEqual(0.8 - 1e-3);
    expect(r.totals.fineTuneSteps).toBeLessThanOrEqual(r.budget.budgetSteps);
  }, 90_000);
});
