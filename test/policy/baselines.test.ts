import { describe, expect, it } from 'vitest';
import { PolicyError } from '../../src/errors.js';
import { FEATURE_SCHEMA } from '../../src/features/schema.js';
import type { ConnectionFeatures } from '../../src/features/types.js';
import { createScorer, lampPruneOrdered, lampPruneScores, lampScores, SCORER_NAMES, SCORERS } from '../../src/policy/baselines.js';
import { argsort } from '../../src/util/argsort.js';

/** Two layers; only the columns the baselines read are filled, the rest are zeros. */
function tinyFeatures(): ConnectionFeatures {
  const layer = (layer: number, indices: number[], cols: Record<string, number[]>) => ({
    layer, name: `l${layer}`, count: indices.length, indices: Int32Array.from(indices),
    columns: FEATURE_SCHEMA.names.map((n) => Float32Array.from(cols[n] ?? indices.map(() => 0))),
  });
  return {
    schema: FEATURE_SCHEMA,
    layers: [
      layer(0, [0, 1, 2, 5], {
        abs_w: [0.5, 0.1, 0.3, 0.2], abs_w_pct_layer: [1, 0.25, 0.75, 0.5],
        taylor: [0.05, 0.2, 0.01, 0.1], wanda: [0.5, 0.3, 0.03, 0.4],
      }),
      layer(1, [0, 3, 4], {
        abs_w: [0.25, 0.05, 0.3], abs_w_pct_layer: [2 / 3, 1 / 3, 1],
        taylor: [0.02, 0.3, 0.15], wanda: [0.1, 0.02, 0.6],
      }),
    ],
  };
}

/** Connections as 'layer:position', highest score first; ties by layer, then position (the consumer's rule). */
function order(scores: Float32Array[]): string[] {
  const all = scores.flatMap((s, l) => Array.from(s, (v, i) => ({ v, l, i })));
  all.sort((a, b) => b.v - a.v || a.l - b.l || a.i - b.i);
  return all.map((e) => `${e.l}:${e.i}`);
}

describe('baseline scorers', () => {
  const feats = tinyFeatures();

  it('global magnitude prunes the smallest |w| first, across layers', () => {
    const s = createScorer('global-magnitude').score(feats);
    expect(order(s)).toEqual(['1:1', '0:1', '0:3', '1:0', '0:2', '1:2', '0:0']);
    expect(Array.from(s[0])).toEqual(Array.from(Float32Array.from([-0.5, -0.1, -0.3, -0.2])));
  });

  it('layer-uniform magnitude interleaves layers by within-layer percentile', () => {
    const s = createScorer('uniform-magnitude').score(feats);
    // scores 1 − pct: l0 [0, .75, .25, .5], l1 [1/3, 2/3, 0]
    expect(order(s)).toEqual(['0:1', '1:1', '0:3', '1:0', '0:2', '0:0', '1:2']);
  });

  it('Taylor and Wanda prune the smallest saliency first', () => {
    expect(order(createScorer('taylor').score(feats))).toEqual(['0:2', '1:0', '0:0', '0:3', '1:2', '0:1', '1:1']);
    expect(order(createScorer('wanda').score(feats))).toEqual(['1:1', '0:2', '1:0', '0:1', '0:3', '0:0', '1:2']);
  });

  it('LAMP matches the hand-computed scores and order', () => {
    // Layer 0 |w| ascending 0.1, 0.2, 0.3, 0.5; squares .01 .04 .09 .25; suffix sums .39 .38 .34 .25.
    const l0 = lampScores(Float32Array.from([0.5, 0.1, 0.3, 0.2]));
    [1, 0.01 / 0.39, 0.09 / 0.34, 0.04 / 0.38].forEach((v, i) => expect(l0[i]).toBeCloseTo(v, 6));
    // Layer 1 |w| ascending 0.05, 0.25, 0.3; suffix sums of squares .155 .1525 .09.
    const l1 = lampScores(Float32Array.from([0.25, 0.05, 0.3]));
    [0.0625 / 0.1525, 0.0025 / 0.155, 1].forEach((v, i) => expect(l1[i]).toBeCloseTo(v, 6));
    // Equal weights share the denominator Σ_{|w_j| ≥ |w_i|} w_j².
    const tie = lampScores(Float32Array.from([0.2, 0.2, 0.1]));
    expect(tie[0]).toBeCloseTo(0.04 / 0.08, 6);
    expect(tie[1]).toBe(tie[0]);
    expect(tie[2]).toBeCloseTo(0.01 / 0.09, 6);
    const s = createScorer('lamp').score(feats);
    // LAMP keeps l1's 0.25 (lamp .41) over l0's 0.3 (lamp .26), unlike global magnitude.
    expect(order(s)).toEqual(['1:1', '0:1', '0:3', '0:2', '1:0', '0:0', '1:2']);
  });

  it('LAMP\'s order from |w|\'s is the argsort of its scores: ties by position, zeros, runs of equal scores, NaN', () => {
    const cases = [
      Float32Array.from([0.5, 0.1, 0.3, 0.2]),
      Float32Array.from([0.2, 0.2, 0.1, 0, 0, 0.2, 0.1]),
      Float32Array.from([0, 0, 0]),
      Float32Array.from({ length: 5000 }, (_, i) => Math.fround(((i * 7919) % 97) / 1e3)),
      // Scores equal in float32 although the weights differ: tiny weights under a large one.
      Float32Array.from([1e3, 1e-20, 2e-20, 3e-20, 1e-20]),
      Float32Array.from([0.3, Number.NaN, 0.1]),
      Float32Array.from([0.3, Number.POSITIVE_INFINITY, 0.1]),
      new Float32Array(0),
    ];
    for (const absW of cases) {
      const { scores, up } = lampPruneOrdered(absW);
      expect(Array.from(scores)).toEqual(Array.from(lampPruneScores(absW)));
      expect(Array.from(up)).toEqual(Array.from(argsort(scores)));
      // An order given that is not |w|'s ascending one with ties by position (a custom extractor's absOrder) is not
      // trusted: reversed, ties out of position order, a repeated position, out of range, too short.
      const right = argsort(absW);
      const wrong = [right.slice().reverse(), right.map((p) => (p + 1) % Math.max(1, absW.length)), right.map(() => 0), right.map((p) => p + absW.length), right.slice(1)];
      for (const given of wrong) {
        if (absW.length < 2) continue;
        const got = lampPruneOrdered(absW, given);
        expect(Array.from(got.scores)).toEqual(Array.from(scores));
        expect(Array.from(got.up)).toEqual(Array.from(up));
        expect(Array.from(lampScores(absW, given))).toEqual(Array.from(lampScores(absW)));
      }
    }
  });

  it('random is seeded, stable per connection, and in [0, 1)', () => {
    const a = createScorer('random', { seed: 7 }).score(feats);
    const b = createScorer('random', { seed: 7 }).score(feats);
    const c = createScorer('random', { seed: 8 }).score(feats);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    for (const s of a) for (const v of s) { expect(v).toBeGreaterThanOrEqual(0); expect(v).toBeLessThan(1); }
    // Removing a connection leaves the others' scores unchanged.
    const fewer: ConnectionFeatures = {
      schema: feats.schema,
      layers: [{ ...feats.layers[0], count: 3, indices: Int32Array.from([0, 2, 5]), columns: feats.layers[0].columns.map((col) => col.filter((_, i) => i !== 1)) }, feats.layers[1]],
    };
    const d = createScorer('random', { seed: 7 }).score(fewer);
    expect(Array.from(d[0])).toEqual([a[0][0], a[0][2], a[0][3]]);
    // Roughly uniform over many connections.
    const many: ConnectionFeatures = {
      schema: feats.schema,
      layers: [{ layer: 0, name: 'big', count: 10000, indices: Int32Array.from({ length: 10000 }, (_, i) => i), columns: FEATURE_SCHEMA.names.map(() => new Float32Array(10000)) }],
    };
    const r = createScorer('random').score(many)[0];
    const mean = r.reduce((x, y) => x + y, 0) / r.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
  });

  it('has a frozen registry; an unknown name lists the valid ones', () => {
    expect(Object.isFrozen(SCORERS)).toBe(true);
    expect(SCORER_NAMES).toEqual(['random', 'uniform-magnitude', 'global-magnitude', 'taylor', 'wanda', 'lamp']);
    for (const n of SCORER_NAMES) expect(createScorer(n).name).toBe(n);
    expect(() => createScorer('magnitude')).toThrow(PolicyError);
    expect(() => createScorer('magnitude')).toThrow(/unknown scorer 'magnitude'; valid scorers: random, uniform-magnitude, global-magnitude, taylor, wanda, lamp/);
    expect(() => createScorer('toString')).toThrow(PolicyError);
  });

  it('names a missing feature column', () => {
    const other = { ...feats, schema: { version: 9, names: ['x'] } };
    expect(() => createScorer('wanda').score(other)).toThrow(/scorer 'wanda' needs feature\(s\) wanda/);
  });
});
