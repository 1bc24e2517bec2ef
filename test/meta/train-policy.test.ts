import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FEATURE_SCHEMA } from '../../src/features/schema.js';
import { META_COLUMNS, writeMeta, type MetaModelInfo } from '../../src/meta/format.js';
import { topKPrecision, weightedAuc } from '../../src/meta/metrics.js';
import { trainPolicy } from '../../src/meta/train-policy.js';
import { policyFromJSON } from '../../src/policy/io.js';
import { Rng } from '../../src/util/random.js';
import { tempDir } from '../helpers.js';

/**
 * A synthetic meta-dataset where prunability depends on |w| AND on the layer (the last layer is never
 * prunable whatever its magnitude): a learned policy should beat magnitude on it.
 */
function syntheticMeta(dir: string, family: string, models: number, seed: number): string {
  const F = FEATURE_SCHEMA.names.length;
  const W = F + META_COLUMNS.length;
  const absW = FEATURE_SCHEMA.names.indexOf('abs_w');
  const depth = FEATURE_SCHEMA.names.indexOf('depth_rel');
  const rng = new Rng(seed);
  const perModel = 600;
  const data = new Float32Array(models * perModel * W);
  const infos: MetaModelInfo[] = [];
  for (let m = 0; m < models; m++) {
    for (let i = 0; i < perModel; i++) {
      const o = (m * perModel + i) * W;
      for (let c = 0; c < F; c++) data[o + c] = rng.normal();
      const layer = i % 3;
      const w = Math.abs(rng.normal()) * (layer === 2 ? 0.3 : 1);
      data[o + absW] = w;
      data[o + depth] = layer / 2;
      data[o + F] = layer === 2 ? 0 : w < 0.7 ? 1 : w < 1.2 ? 0.5 : 0;
      data[o + F + 1] = layer === 0 ? 10 : 1;
      data[o + F + 2] = m;
      data[o + F + 3] = layer;
      data[o + F + 4] = i % 2 ? 0.5 : 0;
    }
    infos.push({ index: m, id: `${family}-${m}`, family, args: {}, epochs: 1, cacheKey: `key-${family}-${m}`, denseValAccuracy: 0.9, oracle: [], layers: [], rows: perModel, seconds: 0 });
  }
  const path = join(dir, `meta-${family}.json`);
  writeMeta(path, {
    family, featureSchema: { version: FEATURE_SCHEMA.version, names: [...FEATURE_SCHEMA.names] }, columns: [...FEATURE_SCHEMA.names, ...META_COLUMNS],
    targets: [0.5, 0.9], stages: [0, 0.5], sampling: { maxRowsPerLayerPerStage: 1, seed: 1 }, oracle: {}, models: infos, command: 'synthetic', createdAt: 'now',
  }, data);
  return path;
}

describe('metrics', () => {
  it('computes weighted AUC with ties and top-k precision', () => {
    expect(weightedAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75);
    expect(weightedAuc([1, 1], [0, 1])).toBeCloseTo(0.5);
    expect(weightedAuc([1, 2], [1, 1])).toBeNaN();
    expect(topKPrecision([0.9, 0.8, 0.1, 0.2], [1, 0, 1, 0])).toBeCloseTo(0.5);
    expect(topKPrecision([0.9, 0.8, 0.1], [1, 0, 0], [1, 5, 1])).toBeCloseTo(1);
  });
});

describe('trainPolicy', () => {
  it('one model: says there is no held-out check, and the file says so beside its training figures', () => {
    const dir = tempDir();
    const a = syntheticMeta(dir, 'mlp', 1, 1);
    const out = join(dir, 'one.json');
    const notes: string[] = [];
    trainPolicy({ meta: [a], kind: 'cart', out, onProgress: (e) => { if (e.type === 'note') notes.push(e.message); } });
    const file = JSON.parse(readFileSync(out, 'utf8'));
    expect(notes).toEqual([expect.stringMatching(/^no held-out check: leave-one-model-out needs rows of at least 2 models \(these have 1\)/)]);
    expect(file.metrics.validation).toBe(notes[0]);
    expect(file.metrics.leaveOneModelOut).toBeUndefined();
    expect(file.metrics.train).toBeDefined();
  });

  it('writes a policy file with provenance and leave-one-out metrics that beat magnitude on layer-dependent labels', () => {
    const dir = tempDir();
    const a = syntheticMeta(dir, 'mlp', 3, 1);
    const b = syntheticMeta(dir, 'cnn', 2, 2);
    const out = join(dir, 'policies', 'p.json');
    const events: string[] = [];
    trainPolicy({ meta: [a, b], kind: 'cart', out, command: 'autoprune train-policy test', onProgress: (e) => events.push(e.type) });
    const file = JSON.parse(readFileSync(out, 'utf8'));
    expect(file.format).toBe('autoprune-policy');
    expect(file.kind).toBe('cart');
    expect(file.name).toBe('p');
    expect(file.featureSchema.names).toEqual([...FEATURE_SCHEMA.names]);
    expect(file.provenance).toEqual({ families: ['mlp', 'cnn'], models: ['mlp/mlp-0', 'mlp/mlp-1', 'mlp/mlp-2', 'cnn/cnn-0', 'cnn/cnn-1'], rows: 3000, command: 'autoprune train-policy test', layerKinds: ['convolution', 'other'],
      domain: { other: expect.any(Object), convolution: expect.any(Object) }, sources: expect.any(Array) });
    // Each meta-dataset it was trained on, by path, contents (sha256 of header and rows), the command that built it and its models.
    const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
    expect(file.provenance.sources).toEqual([a, b].map((m, i) => ({
      meta: m, sha256: { header: sha(m), rows: sha(m.replace(/\.json$/, '.bin')) }, family: ['mlp', 'cnn'][i], command: expect.any(String), createdAt: expect.any(String),
      models: Array.from({ length: [3, 2][i] }, (_, k) => ({ id: `${['mlp', 'cnn'][i]}-${k}`, args: expect.anything() as unknown })),
    })));
    expect(file.metrics.leaveOneModelOut.folds).toHaveLength(5);
    expect(file.metrics.leaveOneFamilyOut.folds.map((f: { heldOut: string }) => f.heldOut)).toEqual(['mlp', 'cnn']);
    const lomo = file.metrics.leaveOneModelOut.mean;
    expect(lomo.auc).toBeGreaterThan(0.9);
    expect(lomo.precisionAtK).toBeGreaterThan(lomo.magnitudePrecisionAtK);
    expect(events).toContain('written');
    // The file loads back as a policy of the feature schema it was trained on.
    const p = policyFromJSON(file, out);
    expect(p.kind).toBe('cart');
    expect(p.schema.names).toEqual([...FEATURE_SCHEMA.names]);
  });

  it('refuses a meta-dataset of another feature schema than pruning runs extract (its policy could not score them)', () => {
    const dir = tempDir();
    const a = syntheticMeta(dir, 'mlp', 2, 1);
    const header = JSON.parse(readFileSync(a, 'utf8'));
    header.featureSchema.version = FEATURE_SCHEMA.version + 1;
    writeFileSync(a, JSON.stringify(header));
    const out = join(dir, 'p.json');
    expect(() => trainPolicy({ meta: [a], out })).toThrow(new RegExp(`uses feature schema v${FEATURE_SCHEMA.version + 1} .*pruning runs extract v${FEATURE_SCHEMA.version} .*rebuild the meta-dataset`));
    expect(existsSync(out)).toBe(false);
  });

  it('balanceFamilies gives each family the same total weight, which changes the tree when families differ in size', () => {
    const dir = tempDir();
    const a = syntheticMeta(dir, 'mlp', 3, 4);
    const b = syntheticMeta(dir, 'cnn', 1, 5);
    const plain = join(dir, 'plain.json'), balanced = join(dir, 'balanced.json');
    trainPolicy({ meta: [a, b], kind: 'cart', out: plain, validate: false });
    trainPolicy({ meta: [a, b], kind: 'cart', out: balanced, validate: false, balanceFamilies: true });
    const tree = (f: string) => JSON.stringify(JSON.parse(readFileSync(f, 'utf8')).model);
    expect(tree(balanced)).not.toEqual(tree(plain));
    expect(JSON.parse(readFileSync(balanced, 'utf8')).provenance.rows).toBe(2400);
  });

  it('trains the policy-net kind too', () => {
    const dir = tempDir();
    const a = syntheticMeta(dir, 'mlp', 2, 3);
    const out = join(dir, 'net.json');
    trainPolicy({ meta: [a], kind: 'net', out, net: { epochs: 2 } });
    const file = JSON.parse(readFileSync(out, 'utf8'));
    expect(file.kind).toBe('net');
    expect(file.metrics.leaveOneModelOut.folds).toHaveLength(2);
    expect(file.metrics.leaveOneFamilyOut).toBeUndefined();
  });
});
