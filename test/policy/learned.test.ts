import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { loadMnist10k } from '../../src/data/mnist.js';
import { PolicyError } from '../../src/errors.js';
import { extractFeatures } from '../../src/features/extract.js';
import { FEATURE_SCHEMA, featureIndex } from '../../src/features/schema.js';
import type { ConnectionFeatures } from '../../src/features/types.js';
import { buildModel } from '../../src/models/families.js';
import { train } from '../../src/models/train.js';
import { columnsToRows } from '../../src/policy/cart-train.js';
import { CartPolicy, trainCartPolicy } from '../../src/policy/cart-policy.js';
import { loadPolicy, policyFromJSON, resolveScorer, savePolicy } from '../../src/policy/io.js';
import { NetPolicy, trainNetPolicy } from '../../src/policy/net-policy.js';
import { LinearPolicy, trainLinearPolicy } from '../../src/policy/linear-policy.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { Rng } from '../../src/util/random.js';

/**
 * Real-ish meta-data: features of a small MLP trained briefly on MNIST-10k, labelled 1 (prune) for
 * connections whose Wanda score is in the bottom 60 % of their layer, with 10 % of labels flipped.
 */
interface Rows { columns: Float32Array[]; labels: Float32Array }
let features: ConnectionFeatures;
let trainRows: Rows;
let valRows: Rows;

function split(columns: Float32Array[], labels: Float32Array, take: (i: number) => boolean): Rows {
  const keep = Array.from(labels.keys()).filter(take);
  return { columns: columns.map((c) => Float32Array.from(keep, (i) => c[i])), labels: Float32Array.from(keep, (i) => labels[i]) };
}

function accuracy(pred: Float32Array, labels: Float32Array): number {
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if ((pred[i] > 0.5 ? 1 : 0) === labels[i]) ok++;
  return ok / labels.length;
}

beforeAll(() => {
  const data = loadMnist10k({ limitPerDigit: 40 });
  const model = buildModel({ family: 'mlp', inputShape: [784], hidden: [24], numClasses: 10, seed: 1 });
  train(model, data.train, { epochs: 2, batchSize: 64, seed: 0 });
  const pm = new PrunableModel(model);
  features = extractFeatures(pm, data.val, { maxSamples: 200 });
  const wanda = featureIndex(FEATURE_SCHEMA, 'wanda');
  const rng = new Rng(5);
  const cols = FEATURE_SCHEMA.names.map((_, f) => Float32Array.from(features.layers.flatMap((l) => Array.from(l.columns[f]))));
  const labels = Float32Array.from(features.layers.flatMap((l) => {
    const w = l.columns[wanda];
    const cut = Float32Array.from(w).sort()[Math.floor(0.6 * w.length)];
    return Array.from(w, (v) => ((v < cut) !== rng.next() < 0.1 ? 1 : 0));
  }));
  const which = new Rng(6);
  const isTrain = Array.from(labels, () => which.next() < 0.7);
  trainRows = split(cols, labels, (i) => isTrain[i]);
  valRows = split(cols, labels, (i) => !isTrain[i]);
  pm.dispose();
  model.dispose();
  data.dispose();
});

describe('CART policy', () => {
  let policy: CartPolicy;
  const dir = mkdtempSync(join(tmpdir(), 'autoprune-policy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('learns the labelling rule from real-ish features (validation accuracy ≥ 0.85)', () => {
    policy = trainCartPolicy(trainRows.columns, trainRows.labels, {
      maxDepth: 8, name: 'test-cart', provenance: { families: ['mlp'], models: ['mlp-24-seed1'], command: 'vitest' },
    });
    expect(trainRows.labels.length).toBeGreaterThan(10000);
    expect(policy.kind).toBe('cart');
    expect(policy.depth).toBeLessThanOrEqual(8);
    const acc = accuracy(policy.compiled.evaluate(valRows.columns), valRows.labels);
    expect(acc).toBeGreaterThanOrEqual(0.85);
    // The rule is about Wanda-type information: those features dominate the importance.
    const imp = policy.info.importance;
    const wandaLike = ['wanda', 'log_wanda', 'wanda_rel_layer', 'abs_w', 'log_abs_w', 'abs_w_rel_layer', 'abs_w_z_layer', 'abs_w_pct_layer', 'in_norm']
      .reduce((s, n) => s + (imp[n] ?? 0), 0);
    expect(wandaLike).toBeGreaterThan(0.5);
    expect(policy.metrics.trainRows).toBe(trainRows.labels.length);
    expect(policy.provenance.rows).toBe(trainRows.labels.length);
  });

  it('compiled tree and ml-cart give the same prediction on every validation row', () => {
    const mine = policy.compiled.evaluate(valRows.columns);
    const theirs = policy.toMlCart().predict(columnsToRows(valRows.columns));
    expect(theirs.length).toBe(mine.length);
    for (let i = 0; i < mine.length; i++) expect(mine[i]).toBe(theirs[i]);
  });

  it('score() orders leaves as predict() does and breaks ties by layer percentile of |w|', () => {
    const pred = policy.predict(features);
    const score = policy.score(features);
    const pct = featureIndex(FEATURE_SCHEMA, 'abs_w_pct_layer');
    const all = pred.flatMap((p, l) => Array.from(p, (v, i) => ({ v, s: score[l][i], pct: features.layers[l].columns[pct][i] })));
    let distinct = 0;
    for (let a = 0; a < 2000; a++) {
      const x = all[(a * 7919) % all.length], y = all[(a * 104729 + 13) % all.length];
      if (x.v > y.v) expect(x.s).toBeGreaterThan(y.s);
      if (x.v === y.v && x.pct < y.pct) { expect(x.s).toBeGreaterThanOrEqual(y.s); distinct++; }
    }
    expect(distinct).toBeGreaterThan(0);
    expect(policy.info.tieBreak.epsilon).toBeGreaterThan(0);
  });

  it('round-trips through a policy file with identical scores', () => {
    const path = savePolicy(policy, join(dir, 'sub', 'test-cart.json'));
    const text = readFileSync(path, 'utf8');
    const json = JSON.parse(text);
    expect(json.format).toBe('autoprune-policy');
    expect(json.version).toBe(1);
    expect(json.kind).toBe('cart');
    expect(json.featureSchema).toEqual({ version: FEATURE_SCHEMA.version, names: [...FEATURE_SCHEMA.names] });
    expect(json.provenance).toMatchObject({ families: ['mlp'], models: ['mlp-24-seed1'], command: 'vitest' });
    expect(text.split('\n').every((l) => l.length <= 110)).toBe(true); // diffable: no giant lines
    const loaded = loadPolicy(path);
    expect(loaded).toBeInstanceOf(CartPolicy);
    expect(loaded.toJSON()).toEqual(policy.toJSON());
    expect(loaded.score(features)).toEqual(policy.score(features));
    // by name from a policy folder
    expect(loadPolicy('test-cart', { dirs: [join(dir, 'sub')] }).name).toBe('test-cart');
    expect(resolveScorer('test-cart', { dirs: [join(dir, 'sub')] }).name).toBe('test-cart');
    expect(resolveScorer('lamp').name).toBe('lamp');
  });

  it('refuses features of another schema with a PolicyError naming both schemas', () => {
    const v2 = { version: 2, names: [...FEATURE_SCHEMA.names.slice(0, -1), 'new_feature'] };
    const other: ConnectionFeatures = { schema: v2, layers: features.layers };
    expect(() => policy.score(other)).toThrow(PolicyError);
    expect(() => policy.score(other)).toThrow(/policy 'test-cart' was trained on feature schema v1 \[abs_w, .*\] but the extractor produces v2 \[.*new_feature\]/);
  });

  it('gives PolicyErrors for corrupt, foreign, unknown-kind and malformed files', () => {
    const good = policy.toJSON();
    const write = (name: string, content: string) => { const p = join(dir, name); writeFileSync(p, content); return p; };
    const corrupt = write('corrupt.json', JSON.stringify(good).slice(0, 200));
    expect(() => loadPolicy(corrupt)).toThrow(PolicyError);
    expect(() => loadPolicy(corrupt)).toThrow(new RegExp(`policy file ${corrupt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON`));
    expect(() => loadPolicy(join(dir, 'missing.json'))).toThrow(/does not exist/);
    // A device (read until memory runs out) or a FIFO (an open that blocks, deaf to SIGTERM) is refused before any read.
    const zero = join(dir, 'zero.json');
    symlinkSync('/dev/zero', zero);
    expect(() => loadPolicy(zero)).toThrow(/^policy file '.*zero\.json' is not a regular file \(a device, pipe or folder\)$/);
    const fifo = join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    expect(() => loadPolicy(fifo)).toThrow(/^policy file '.*fifo\.json' is not a regular file/);
    expect(() => loadPolicy('no-such-policy', { dirs: [join(dir, 'sub')] })).toThrow(/no policy 'no-such-policy'.*available policies: test-cart/);
    // A file there that does not load is not offered as available, and is named apart.
    writeFileSync(join(dir, 'sub', 'broken.json'), '{"format": "autoprune-policy",');
    expect(() => loadPolicy('no-such-policy', { dirs: [join(dir, 'sub')] })).toThrow(/available policies: test-cart; not loadable as policies: .*sub\/broken\.json$/);
    const cases: [unknown, RegExp][] = [
      [{ ...good, format: 'something-else' }, /not an autoprune policy file/],
      [{ ...good, version: 2 }, /format version 2; this autoprune reads version 1/],
      [{ ...good, kind: 'forest' }, /unknown kind "forest"; known kinds: cart, net/],
      [{ ...good, featureSchema: { version: 1 } }, /malformed: featureSchema.names/],
      [{ ...good, model: { ...good.model, nodes: { ...good.model.nodes, left: good.model.nodes.left.map((l, i) => (i === 0 ? 9999 : l)) } } }, /malformed 'cart' tree: node 0 has invalid children/],
      [{ ...good, model: { ...good.model, nodes: { ...good.model.nodes, value: good.model.nodes.value.slice(1) } } }, /entries/],
      [{ ...good, model: { ...good.model, nodes: { ...good.model.nodes, feature: good.model.nodes.feature.map(() => 99) } } }, /feature 99, outside/],
      [{ ...good, model: { ...good.model, engine: 'xgboost' } }, /invalid 'cart' model: engine/],
      // Unknown keys are typos or another tool's fields: refused, not dropped without a word.
      [{ ...good, model: { ...good.model, threshold: 'x' } }, /invalid 'cart' model: \(root\): Unrecognized key\(s\) in object: 'threshold'/],
      [{ ...good, thresh: 1 }, /malformed: \(root\): Unrecognized key\(s\) in object: 'thresh'/],
      [[1, 2], /does not hold a JSON object/],
      [{ ...good, model: { ...good.model, tieBreak: { feature: 'nonexistent', epsilon: 1e-6 } } }, /tie-break feature 'nonexistent' is not in the policy's feature schema/],
    ];
    for (const [json, re] of cases) {
      expect(() => policyFromJSON(json, 'x.json')).toThrow(PolicyError);
      expect(() => policyFromJSON(json, 'x.json')).toThrow(re);
    }
  });
});

describe('policy net', () => {
  it('trains, beats chance clearly, round-trips with identical scores, and leaks no tensors', () => {
    const before = tf.memory().numTensors;
    const net = trainNetPolicy(trainRows.columns, trainRows.labels, { epochs: 4, batchSize: 1024, learningRate: 5e-3, seed: 3, name: 'test-net' });
    expect(tf.memory().numTensors).toBe(before + net.params.weights.length + 2);
    const valFeatures: ConnectionFeatures = {
      schema: FEATURE_SCHEMA,
      layers: [{ layer: 0, name: 'val', count: valRows.labels.length, indices: Int32Array.from(valRows.labels.keys()), columns: valRows.columns }],
    };
    const acc = accuracy(net.predict(valFeatures)[0], valRows.labels);
    expect(acc).toBeGreaterThanOrEqual(0.8);
    const inScore = tf.memory().numTensors;
    const s1 = net.score(features);
    expect(tf.memory().numTensors).toBe(inScore);

    const dir = mkdtempSync(join(tmpdir(), 'autoprune-net-'));
    try {
      const path = savePolicy(net, join(dir, 'test-net.json'));
      const loaded = loadPolicy(path) as NetPolicy;
      expect(loaded).toBeInstanceOf(NetPolicy);
      expect(loaded.kind).toBe('net');
      expect(loaded.toJSON()).toEqual(net.toJSON());
      expect(loaded.score(features)).toEqual(s1);
      const bad = net.toJSON();
      bad.model.weights[0].shape = [3, 3];
      expect(() => policyFromJSON(bad, 'bad-net.json')).toThrow(/malformed 'net' model: layer 0 kernel has shape \[3,3\]/);
      loaded.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Same seed, same net.
    const again = trainNetPolicy(trainRows.columns, trainRows.labels, { epochs: 4, batchSize: 1024, learningRate: 5e-3, seed: 3, name: 'test-net' });
    expect(again.toJSON().model).toEqual(net.toJSON().model);
    again.dispose();
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('linear policy (logistic regression, fitted with ml-matrix)', () => {
  it('learns the labelling rule, round-trips with identical scores, counts a row of weight 2 as two rows, uses no tensors', () => {
    const before = tf.memory().numTensors;
    const lin = trainLinearPolicy(trainRows.columns, trainRows.labels, { name: 'test-linear' });
    expect(tf.memory().numTensors).toBe(before);
    expect(lin.params.training.converged).toBe(true);
    const valFeatures: ConnectionFeatures = {
      schema: FEATURE_SCHEMA,
      layers: [{ layer: 0, name: 'val', count: valRows.labels.length, indices: Int32Array.from(valRows.labels.keys()), columns: valRows.columns }],
    };
    expect(accuracy(lin.predict(valFeatures)[0], valRows.labels)).toBeGreaterThanOrEqual(0.8);
    const s1 = lin.score(features);
    const dir = mkdtempSync(join(tmpdir(), 'autoprune-linear-'));
    try {
      const path = savePolicy(lin, join(dir, 'test-linear.json'));
      const loaded = loadPolicy(path) as LinearPolicy;
      expect(loaded).toBeInstanceOf(LinearPolicy);
      expect(loaded.kind).toBe('linear');
      expect(loaded.toJSON()).toEqual(lin.toJSON());
      expect(loaded.score(features)).toEqual(s1);
      const bad = lin.toJSON();
      bad.model.coef = bad.model.coef.slice(1);
      expect(() => policyFromJSON(bad, 'bad-linear.json')).toThrow(/malformed 'linear' model: mean\/std\/coef have/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // A row of weight 2 counts as the row twice.
    const n = trainRows.labels.length;
    const twice = trainLinearPolicy(trainRows.columns.map((c) => Float32Array.from([...c, ...c.subarray(0, 100)])),
      Float32Array.from([...trainRows.labels, ...trainRows.labels.subarray(0, 100)]), { name: 'twice' });
    const weighted = trainLinearPolicy(trainRows.columns, trainRows.labels, { name: 'weighted', weights: Float32Array.from({ length: n }, (_, i) => (i < 100 ? 2 : 1)) });
    weighted.params.coef.forEach((c, j) => expect(c).toBeCloseTo(twice.params.coef[j], 6));
  });

  it('recovers the coefficients of a known logistic model, per standard deviation, largest first', () => {
    const rng = new Rng(11);
    const n = 20000;
    const normal = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    const cols = [0, 1, 2].map(() => Float32Array.from({ length: n }, normal));
    // a and b in units of 2 and 0.5: the fitted weights are per standard deviation (2·1.5 = 3, 0.5·−2 = −1).
    cols[0] = cols[0].map((v) => 2 * v);
    cols[1] = cols[1].map((v) => 0.5 * v);
    const labels = Float32Array.from({ length: n }, (_, i) => (rng.next() < 1 / (1 + Math.exp(-(0.5 + 1.5 * cols[0][i] - 2 * cols[1][i]))) ? 1 : 0));
    const schema = { version: 0, names: ['a', 'b', 'c'] };
    const lin = trainLinearPolicy(cols, labels, { schema, l2: 0 });
    const w = lin.weights();
    expect(w.map((x) => x.feature)).toEqual(['a', 'b', 'c']);
    expect(w[0].coef).toBeCloseTo(3, 0);
    expect(w[1].coef).toBeCloseTo(-1, 0);
    expect(Math.abs(w[2].coef)).toBeLessThan(0.1);
  });
});
