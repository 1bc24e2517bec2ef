import { describe, expect, it } from 'vitest';
import type { LayersModel } from '@tensorflow/tfjs';
import { tf } from '../../src/backend/tf.js';
import { autoprune } from '../../src/api.js';
import { UsageError } from '../../src/errors.js';
import { loadSynthetic } from '../../src/data/synthetic.js';
import { globMatches, PrunableModel } from '../../src/pruning/prunable-model.js';
import { applyMaskJson, masksToJson } from '../../src/pruning/mask-io.js';
import { numTensors, tempDir } from '../helpers.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentEvent } from '../../src/agent/events.js';

function mlp(): LayersModel {
  const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }) });
  const m = tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [10], units: 24, activation: 'relu', name: 'first', ...init(1) }),
    tf.layers.dense({ units: 16, activation: 'relu', name: 'hidden', ...init(2) }),
    tf.layers.dense({ units: 3, activation: 'softmax', name: 'head', ...init(3) }),
  ] });
  m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
  return m;
}

describe('exclude: kernels never pruned', () => {
  it('matches globs with * and ? against whole names', () => {
    expect(globMatches('dense_*', 'dense_12')).toBe(true);
    expect(globMatches('dense_?', 'dense_12')).toBe(false);
    expect(globMatches('backbone/*', 'backbone/conv/kernel')).toBe(true);
    expect(globMatches('a.b', 'axb')).toBe(false);
    expect(globMatches('head', 'head2')).toBe(false);
  });

  it('leaves excluded kernels out of the prunable set, lists them as excluded, and refuses patterns that match nothing or everything', () => {
    const model = mlp();
    const before = numTensors();
    const pm = new PrunableModel(model, { exclude: ['fir*', 'head'] });
    expect(pm.layers.map((l) => l.name)).toEqual(['hidden']);
    expect(pm.excluded.map((k) => k.name)).toEqual(['first', 'head']);
    const cov = pm.coverage();
    expect(cov.untouched.map((u) => [u.name, u.reason])).toEqual([['first', 'excluded: matches an exclude pattern'], ['head', 'excluded: matches an exclude pattern']]);
    expect(cov.prunable).toBe(24 * 16);
    // Compute: the prunable kernels' figure, and beside it every kernel's, the excluded ones counted as they are.
    const half = pm.maskArrays().map((a) => a.map((_, j) => (j % 2 === 0 ? 0 : 1)));
    pm.setMaskArrays(half);
    const c = pm.compute();
    expect([c.dense, c.live, c.reduction]).toEqual([24 * 16, 24 * 16 / 2, 0.5]);
    const all = 10 * 24 + 24 * 16 + 16 * 3;
    expect(c.allKernels).toEqual({ dense: all, live: all - 24 * 16 / 2, reduction: (24 * 16 / 2) / all });
    const whole = new PrunableModel(model);
    expect(whole.compute().allKernels).toBeUndefined();
    whole.dispose();
    pm.dispose();
    expect(() => new PrunableModel(model, { exclude: ['conv*'] })).toThrow(UsageError);
    expect(() => new PrunableModel(model, { exclude: ['conv*'] })).toThrow(/'conv\*' matches no prunable kernel; they are: first, hidden, head/);
    expect(() => new PrunableModel(model, { exclude: ['*'] })).toThrow(/leaves nothing to prune/);
    expect(numTensors()).toBe(before);
    model.dispose();
  });

  it('masks.json of a run with exclusions applies to the whole model; the excluded kernels keep their weights', () => {
    const model = mlp();
    const pm = new PrunableModel(model, { exclude: ['first'] });
    const m = pm.maskArrays().map((a) => a.map((_, j) => (j % 2 === 0 ? 0 : 1)));
    pm.setMaskArrays(m);
    const file = masksToJson(pm);
    expect(file.excluded).toEqual(['first']);
    const all = new PrunableModel(model);
    const firstBefore = all.maskArrays()[0];
    applyMaskJson(all, file);
    expect(Array.from(all.maskArrays()[0])).toEqual(Array.from(firstBefore));
    expect(all.sparsity().layers.map((l) => l.pruned)).toEqual([0, (24 * 16) / 2, (16 * 3) / 2]);
    pm.dispose();
    all.dispose();
    model.dispose();
  });

  it('the API prunes the other kernels to the target and records the patterns; an excluded kernel gets no zeros', async () => {
    const data = loadSynthetic({ samples: 600, features: 10, classes: 3, seed: 2 });
    const model = mlp();
    const { model: pruned, report } = await autoprune({ model, data, target: 0.6, exclude: ['first'], policy: 'global-magnitude', maxDrop: 50, budgetSteps: 60 });
    expect(report.config.exclude).toEqual(['first']);
    expect(report.layers.map((l) => l.name)).toEqual(['hidden', 'head']);
    expect(report.final.sparsity).toBeCloseTo(0.6, 2);
    expect((report.dense.untouched ?? []).map((u) => u.name)).toContain('first');
    const first = pruned.getLayer('first').getWeights()[0].dataSync();
    expect(first.filter((v) => v === 0).length).toBe(0);
    pruned.dispose();
    model.dispose();
    data.dispose();
  });

  it('whole units pruned around an excluded kernel: the compact figures say what every kernel runs, the excluded ones included', async () => {
    const data = loadSynthetic({ samples: 600, features: 10, classes: 3, seed: 2 });
    const model = mlp();
    const out = join(tempDir(), 'out');
    const events: AgentEvent[] = [];
    const { model: pruned, report } = await autoprune({
      model, data, target: 0.5, granularity: 'unit', exclude: ['first'], policy: 'global-magnitude', maxDrop: 50, budgetSteps: 60, out, compact: true,
      onEvent: (e) => events.push(e),
    });
    const c = events.find((e) => e.type === 'compact') as { compactMacs: number; denseMacs: number; allKernelsMacs?: { dense: number; compact: number } };
    // What the compact model runs, counted from its own kernels (a Dense kernel's weight is one MAC per sample).
    const topology = JSON.parse(readFileSync(join(out, 'compact', 'model.json'), 'utf8')) as { weightsManifest: { weights: { name: string; shape: number[] }[] }[] };
    const kernels = topology.weightsManifest.flatMap((g) => g.weights).filter((w) => w.name.endsWith('kernel'));
    const runs = kernels.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
    const first = kernels.find((w) => w.name.startsWith('first'))!;
    const firstMacs = first.shape[0] * first.shape[1];
    expect(runs).toBeLessThan(10 * 24 + 24 * 16 + 16 * 3);
    expect(c.allKernelsMacs).toEqual({ dense: 10 * 24 + 24 * 16 + 16 * 3, compact: runs });
    // The prunable kernels' figure leaves the excluded one out, as the target did; report.json carries both.
    expect(c.compactMacs).toBe(runs - firstMacs);
    expect(c.denseMacs).toBe(24 * 16 + 16 * 3);
    expect(report.compact!.macs.allKernels).toEqual({ ...c.allKernelsMacs, reduction: 1 - runs / (10 * 24 + 24 * 16 + 16 * 3) });
    pruned.dispose();
    model.dispose();
    data.dispose();
  });
});
