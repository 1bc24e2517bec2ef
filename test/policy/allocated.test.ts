import { describe, expect, it } from 'vitest';
import { allocatedBy, blendedOrder } from '../../src/policy/allocated.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { autoprune } from '../../src/api.js';
import { smallCasePaths } from '../../src/bench/small-suite.js';
import { join } from 'node:path';
import { BUILTIN_POLICY_DIR, parsePolicySpec, resolvePolicyPath, resolveScorer } from '../../src/policy/io.js';
import { PolicyRegistrySource } from '../../src/container.js';
import { tempDir } from '../helpers.js';
import type { ConnectionFeatures } from '../../src/features/types.js';
import type { Scorer } from '../../src/policy/types.js';

/** Two layers' worth of fake features: scorers below read only the layer sizes. */
const feats = { layers: [{ count: 5 }, { count: 3 }] } as unknown as ConnectionFeatures;
const fixed = (name: string, scores: number[][]): Scorer => ({ name, score: () => scores.map((s) => Float32Array.from(s)) });
const order = (s: Float32Array) => Array.from(s.keys()).sort((a, b) => s[b] - s[a] || a - b);

describe('combined scorers: a policy\'s order, a prior\'s allocation, a bounded correction', () => {
  const policy = fixed('p', [[5, 4, 3, 2, 1], [0.1, 0.3, 0.2]]);
  const prior = fixed('q', [[1, 2, 3, 4, 5], [9, 8, 7]]);

  it('weight 0 keeps the prior\'s order and weight 1 takes the policy\'s, inside each layer', () => {
    const zero = blendedOrder(policy, prior, 0).score(feats);
    const one = blendedOrder(policy, prior, 1).score(feats);
    expect(order(zero[0])).toEqual(order(prior.score(feats)[0]));
    expect(order(zero[1])).toEqual([0, 1, 2]);
    expect(order(one[0])).toEqual([0, 1, 2, 3, 4]);
    expect(order(one[1])).toEqual([1, 2, 0]);
  });

  it('below weight 0.5 a policy that reverses the prior entirely cannot overturn its order', () => {
    // Prior order of layer 0 (prune first → last): 4, 3, 2, 1, 0; the policy's exactly the reverse.
    const s = blendedOrder(policy, fixed('q', [[1, 2, 3, 4, 5], [1, 2, 3]]), 0.25).score(feats);
    expect(order(s[0])).toEqual([4, 3, 2, 1, 0]);
  });

  it('the allocation is the prior\'s: each layer keeps exactly the prior\'s multiset of scores', () => {
    const combined = allocatedBy(blendedOrder(policy, prior, 0.5), prior).score(feats);
    const base = prior.score(feats);
    combined.forEach((s, l) => expect(Array.from(s).sort()).toEqual(Array.from(base[l]).sort()));
  });

  it('resolves "X@a+Y" and "X+Y" by name, and refuses a weight outside [0, 1]', () => {
    expect(resolveScorer('default@0.25+lamp').name).toBe('default@0.25+lamp');
    expect(resolveScorer('default+lamp').name).toBe('default+lamp');
    expect(() => resolveScorer('default@2+lamp')).toThrow(/weight after '@' must be a number in \[0, 1\], got '2'/);
    expect(() => resolveScorer('nope@0.5+lamp')).toThrow(/no policy 'nope'/);
    // A spec with '@' that does not parse says the form, not "no policy file".
    expect(() => resolveScorer('default@-0.1+lamp')).toThrow(/weight after '@' must be a number in \[0, 1\], got '-0.1'/);
    expect(() => resolveScorer('default@abc+lamp')).toThrow(/got 'abc'/);
    for (const bad of ['default@0.25', 'default@0.25+']) expect(() => resolveScorer(bad)).toThrow(/is not a policy of the form X@a\+Y/);
    expect(parsePolicySpec('linear@0.25+lamp')).toEqual({ own: 'linear', weight: 0.25, prior: 'lamp' });
    expect(parsePolicySpec('default+lamp')).toEqual({ own: 'default', prior: 'lamp' });
    expect(parsePolicySpec('default')).toBeUndefined();
  });

  it('a combination names each part with its kind and file (report.json policy.parts)', () => {
    const r = new PolicyRegistrySource().resolve('linear@0.25+lamp');
    expect(r.kind).toBe('combined');
    expect(r.weight).toBe(0.25);
    expect(r.parts).toEqual([
      { role: 'order', name: 'linear', kind: 'linear', file: join(BUILTIN_POLICY_DIR, 'linear.json') },
      { role: 'prior', name: 'lamp', kind: 'baseline' },
    ]);
  });

  it('a folder named like a policy in the working folder (an earlier run\'s output "default") does not hide the built-in policy', () => {
    const cwd = process.cwd();
    const dir = tempDir();
    mkdirSync(join(dir, 'default'));
    mkdirSync(join(dir, 'default+lamp'));
    try {
      process.chdir(dir);
      expect(resolvePolicyPath('default')).toBe(join(BUILTIN_POLICY_DIR, 'default.json'));
      expect(resolveScorer('default').name).toBe('default');
      expect(resolveScorer('default+lamp').name).toBe('default+lamp');
    } finally {
      process.chdir(cwd);
    }
  });

  it('a policy trained on other feature columns is refused before any training (no start event), naming the difference', async () => {
    const file = JSON.parse(readFileSync(join(BUILTIN_POLICY_DIR, 'linear.json'), 'utf8'));
    // The policy of an older extractor: one feature column fewer.
    file.featureSchema.names = file.featureSchema.names.slice(0, -1);
    for (const k of ['mean', 'std', 'coef']) file.model[k] = file.model[k].slice(0, -1);
    const path = join(tempDir(), 'older.json');
    writeFileSync(path, JSON.stringify(file));
    const events: string[] = [];
    const iris = smallCasePaths('iris');
    await expect(autoprune({ model: iris.model, data: iris.data, target: 0.5, policy: path, onEvent: (e) => events.push(e.type) }))
      .rejects.toThrow(/was trained on feature schema .* but the extractor produces .*the extractor adds '/);
    expect(events).not.toContain('start');
  });
});

describe('the bounded correction on a layer larger than a chunk', () => {
  it('scores in chunks, then per layer from the prior\'s one column, exactly as from whole features', async () => {
    const { tf } = await import('../../src/backend/tf.js');
    const { PrunableModel } = await import('../../src/pruning/prunable-model.js');
    const { extractFeatures, extractScored, scoreLayerWith, FEATURE_CHUNK } = await import('../../src/features/extract.js');
    const { numTensors } = await import('../helpers.js');
    const before = numTensors();
    // 300 × 1,000 = 300,000 weights in the first layer: more than one chunk of rows.
    const model = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [300], units: 1000, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ] });
    expect(300 * 1000).toBeGreaterThan(FEATURE_CHUNK);
    // Ties (a run of equal |w|, of both signs) and pruned connections: LAMP's order then comes from the magnitude
    // ranks' sort (LayerFeatures.absOrder) over the live ones only, and must be argsort's.
    const k = model.layers[0].getWeights()[0];
    const w = k.dataSync().slice();
    for (let i = 0; i < w.length; i += 7) w[i] = i % 2 ? 0.01 : -0.01;
    const tied = tf.tensor(w, k.shape);
    model.layers[0].setWeights([tied, model.layers[0].getWeights()[1]]);
    tied.dispose();
    const pm = new PrunableModel(model);
    pm.setMaskArrays(pm.layers.map((l, li) => Float32Array.from({ length: l.size }, (_, i) => (li === 0 && i % 5 === 0 ? 0 : 1))));
    const x = tf.randomUniform([64, 300], 0, 1, 'float32', 3);
    const calib = { x, labels: Int32Array.from({ length: 64 }, (_, i) => i % 4) };
    const scorer = resolveScorer('default@0.25+lamp');
    expect(scorer.staged).toBeDefined();
    const perLayer = scoreLayerWith(scorer);
    expect(perLayer.chunk).toBe(FEATURE_CHUNK);
    expect(perLayer.finish?.needs).toEqual(['abs_w']);
    const same = () => {
      const staged = extractScored(pm, calib, perLayer, { chunk: perLayer.chunk, needs: perLayer.needs }).scores;
      const whole = scorer.score(extractFeatures(pm, calib));
      expect(staged.map((s) => Array.from(s))).toEqual(whole.map((s) => Array.from(s)));
    };
    same();
    // A NaN or an infinite weight (a diverged fine-tune): the ranks' sort places them otherwise than argsort, so their
    // order is not handed on (NaN) or LAMP's own check sorts (Infinity); either way the scores are whole features'.
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const odd = w.slice();
      odd[1] = bad;
      const t = tf.tensor(odd, k.shape);
      model.layers[0].setWeights([t, model.layers[0].getWeights()[1]]);
      t.dispose();
      same();
    }
    pm.dispose();
    model.dispose();
    x.dispose();
    expect(numTensors()).toBe(before);
  }, 60_000);
});
