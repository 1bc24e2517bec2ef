import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { autoprune } from '../../src/index.js';
import { checkObjective } from '../../src/agent/granularity.js';
import { Checkpointer, invalidStateFile } from '../../src/agent/checkpoint.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { runAgent } from '../../src/agent/loop.js';
import { loadSynthetic } from '../../src/data/synthetic.js';
import { buildModel } from '../../src/models/families.js';
import { train } from '../../src/models/train.js';
import { createScorer } from '../../src/policy/baselines.js';
import { fitCosts, measureLatencyProfile } from '../../src/pruning/latency-profile.js';
import { PrunableModel, type LatencyProfile } from '../../src/pruning/prunable-model.js';
import { pruneUnits } from '../../src/pruning/units.js';
import { numTensors, tempDir } from '../helpers.js';

/** A hand-made cost table (deterministic, unlike a measured one): ms per MAC per kernel, 1 ms of the dense time fixed. */
function profileFor(pm: PrunableModel, msPerMac: number[], fixedMs = 1): LatencyProfile {
  const variable = pm.layers.reduce((a, l, i) => a + l.size * l.macsPerWeight * msPerMac[i], 0);
  return { batch: 32, denseMs: variable + fixedMs, kernels: pm.layers.map((l) => l.name), msPerMac, probes: [] };
}

describe('latency profile (--objective latency)', () => {
  it('fitCosts recovers per-kernel costs from exact probes, holds an untouched kernel at the common cost and never goes below 0', () => {
    const dense = [1000, 500, 100];
    const truth = [2e-3, 4e-3, 0];
    // Probes free MACs of kernels 0+1 or 1 alone; kernel 2 is never touched.
    const freed = [[500, 100, 0], [875, 175, 0], [0, 250, 0], [0, 440, 0]];
    const saved = freed.map((row) => row.reduce((a, v, k) => a + v * truth[k], 0));
    const c = fitCosts(freed, saved, dense, 1e-9);
    expect(c[0]).toBeCloseTo(truth[0], 6);
    expect(c[1]).toBeCloseTo(truth[1], 6);
    const common = saved.reduce((a, v) => a + v, 0) / freed.flat().reduce((a, v) => a + v, 0);
    expect(c[2]).toBeCloseTo(common, 9);
    // Time that got longer when MACs went (noise) is no negative cost.
    const noisy = fitCosts([[500, 0, 0], [0, 250, 0]], [-0.3, 1], dense, 1e-9);
    expect(noisy[0]).toBe(0);
    expect(noisy[1]).toBeGreaterThan(0);
    // A small kernel whose rows always go with a large one's units (an output layer): the large one takes the fit's
    // difference from the prior, the small one stays near the common cost per MAC.
    const pair = fitCosts([[500, 5], [875, 8.75], [980, 9.8]], [0.2, 0.35, 0.39], [1000, 10], 0.05);
    const pairCommon = (0.2 + 0.35 + 0.39) / (505 + 883.75 + 989.8);
    expect(Math.abs(pair[1] - pairCommon) / pairCommon).toBeLessThan(0.05);
    // No probe at all: every kernel at the common cost, 0 here.
    expect(fitCosts([], [], dense, 0.05)).toEqual([0, 0, 0]);
  });

  it('measures a profile on a model and leaves its weights and masks as they were', () => {
    const model = buildModel({ family: 'mlp', inputShape: [20], hidden: [64, 32], numClasses: 3, seed: 1 });
    const pm = new PrunableModel(model);
    const before = model.getWeights().map((w) => Array.from(w.dataSync()));
    const tensors = numTensors();
    const p = measureLatencyProfile(pm, { batch: 8, budgetMs: 200 });
    // An option given as undefined takes its default (the agent passes the serving batch it was given, or none).
    expect(measureLatencyProfile(pm, { batch: undefined, budgetMs: 50 }).batch).toBe(32);
    expect(numTensors()).toBe(tensors);
    expect(p.kernels).toEqual(pm.layers.map((l) => l.name));
    expect(p.batch).toBe(8);
    expect(p.denseMs).toBeGreaterThan(0);
    expect(p.msPerMac.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    // Three probes for each hidden layer (half, 7/8 and all but the floor of its units removed); none for the output layer.
    expect(p.probes.map((q) => q.layer)).toEqual([0, 0, 0, 1, 1, 1].map((i) => pm.layers[i].name));
    expect(p.probes[0].macs).toEqual([20 * 32, 32 * 32, 0]);
    expect(p.probes[1].macs).toEqual([20 * 56, 56 * 32, 0]);
    expect(p.probes[2].macs).toEqual([20 * 62, 62 * 32, 0]);
    expect(p.probes[5].macs).toEqual([0, 64 * 31, 31 * 3]);
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
    expect(pm.maskArrays().every((m) => m.every((v) => v === 1))).toBe(true);
    pm.dispose();
    model.dispose();
  });

  it("pruneUnits under 'latency' takes the units whose removal saves the most time and counts the dense time's fixed part", () => {
    const model = buildModel({ family: 'mlp', inputShape: [20], hidden: [64, 32], numClasses: 3, seed: 2 });
    const pm = new PrunableModel(model);
    expect(() => pm.latency()).toThrow(/needs a latency profile/);
    expect(() => pm.setLatencyProfile({ ...profileFor(pm, [1, 1, 1]), kernels: ['a', 'b', 'c'] })).toThrow(/latency profile is for kernels a, b, c/);
    // The second hidden layer's MACs cost nothing measurable here: only the first layer's units (and the rows reading them) save time.
    pm.setLatencyProfile(profileFor(pm, [1e-3, 0, 0]));
    const scores = pm.layers.map((l) => new Float32Array(l.units).fill(1));
    const r = pruneUnits(pm, scores, 0.3, { objective: 'latency' });
    expect(r.removedPerLayer[1]).toBe(0);
    expect(r.removedPerLayer[0]).toBeGreaterThan(0);
    expect(r.progress).toBeGreaterThanOrEqual(0.3);
    expect(r.progress).toBeCloseTo(pm.latency().reduction, 9);
    expect(pm.progress('latency')).toBeCloseTo(r.progress, 9);
    // The fixed 1 ms bounds what pruning can remove: every unit of layer 0 but its floor still leaves it.
    const all = pruneUnits(pm, scores, 0.999, { objective: 'latency' });
    expect(pm.latency().predictedMs).toBeGreaterThan(1 - 1e-9);
    expect(all.progress).toBeLessThan(0.999);
    pm.dispose();
    model.dispose();
  });

  it('is a whole-unit objective, and a checkpoint with a malformed cost table is refused', () => {
    expect(() => checkObjective('latency', 'connection')).toThrow(/--objective latency needs --granularity unit/);
    expect(checkObjective('latency', 'unit')).toBe('latency');
    const file = {
      format: 'autoprune-checkpoint' as const, version: 2 as const, weights: [], sha256: { 'weights.bin': 'x', 'masks.json': 'y' },
      state: { step: 0, sparsity: 0, rate: 0.5, stepsUsed: 0, denseValAccuracy: 0.9, steps: [], latency: { batch: 32, denseMs: 1, kernels: ['d'], msPerMac: [-1], probes: [] } },
    };
    expect(invalidStateFile(file)).toBe('state.latency');
    const dir = tempDir();
    writeFileSync(join(dir, 'state.json'), JSON.stringify(file));
    expect(new Checkpointer(dir).savedState()?.latency).toBeUndefined();
    file.state.latency.msPerMac = [1e-6];
    expect(invalidStateFile(file)).toBeUndefined();
    // A resume reads the table its run started with before anything else (not a new timing).
    writeFileSync(join(dir, 'state.json'), JSON.stringify(file));
    expect(new Checkpointer(dir).savedState()?.latency).toEqual(file.state.latency);
  });

  it('the agent reaches a predicted-time target with a given profile, says the dense time at the start and reports the prediction', async () => {
    const data = loadSynthetic({ samples: 600, features: 20, classes: 3, seed: 3 });
    const model = buildModel({ family: 'mlp', inputShape: [20], hidden: [64, 32], numClasses: 3, seed: 3 });
    train(model, data.train, { epochs: 10, batchSize: 32 });
    const pm = new PrunableModel(model);
    const profile = profileFor(pm, [2e-4, 1e-4, 1e-4], 0.1);
    pm.dispose();
    const events: AgentEvent[] = [];
    const r = await runAgent(model, data, createScorer('global-magnitude'), {
      target: 0.4, maxDrop: 5, budgetEpochs: 4, objective: 'latency', latencyProfile: profile, force: true, onEvent: (e) => events.push(e),
    });
    expect(events.find((e) => e.type === 'start')).toMatchObject({ objective: 'latency', latency: { batch: 32, denseMs: profile.denseMs } });
    expect(r.latency?.profile).toEqual(profile);
    expect(r.latency!.final.reduction).toBeGreaterThanOrEqual(0.4 - 1e-9);
    expect(r.steps.filter((s) => s.accepted).at(-1)!.toSparsity).toBeCloseTo(r.latency!.final.reduction, 9);
    // A frontier is refused under this objective (one line).
    await expect(runAgent(model, data, createScorer('global-magnitude'), { target: 0.4, milestones: [0.2], objective: 'latency', latencyProfile: profile }))
      .rejects.toThrow(/--targets \(a frontier\) is not available with --objective latency/);
    r.masks.dispose();
    model.dispose();
    data.dispose();
  });
});

describe('--objective latency through the library API', () => {
  it('times the model at the serving batch, prunes whole units to a predicted-time target and writes the prediction to report.json', async () => {
    // A first layer large enough (784 × 512 at 256 samples a call) that its units hold most of a call's time on any machine.
    const data = loadSynthetic({ samples: 300, features: 784, classes: 3, seed: 5 });
    const model = buildModel({ family: 'mlp', inputShape: [784], hidden: [512, 32], numClasses: 3, seed: 5 });
    train(model, data.train, { epochs: 3, batchSize: 32 });
    const out = join(tempDir(), 'out');
    const { model: pruned, report } = await autoprune({
      target: 0.1, objective: 'latency', servingBatch: 256, model, data, maxDrop: 50, budgetEpochs: 2, force: true, out, policy: 'global-magnitude',
    });
    expect(report.config).toMatchObject({ objective: 'latency', granularity: 'unit', servingBatch: 256 });
    const l = report.final.latency!;
    expect(l.batch).toBe(256);
    expect(l.reduction).toBeGreaterThanOrEqual(0.1 - 1e-9);
    expect(l.predictedMs).toBeCloseTo(l.denseMs * (1 - l.reduction), 9);
    expect(l.profile.kernels.map((k) => k.kernel)).toEqual(report.layers.map((k) => k.name));
    expect(l.profile.probes.length).toBe(6);
    expect(report.phases.latency).toBeGreaterThan(0);
    // Whole units went from the first hidden layer, the only one whose units the step needed.
    expect(report.layers[0].sparsity).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).final.latency.reduction).toBe(l.reduction);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toMatch(/Predicted time<\/th><td>\d+\.\d\d → \d+\.\d\d ms per predict call of 256 samples/);
    pruned.dispose();
    model.dispose();
    data.dispose();
  });
});
