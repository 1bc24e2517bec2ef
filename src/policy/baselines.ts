import { argsort } from '../util/argsort.js';
import { PolicyError } from '../errors.js';
import type { ConnectionFeatures, FeatureSchema, LayerFeatures } from '../features/types.js';
import { requireFeatures } from './policy.js';
import type { Scorer } from './types.js';

/**
 * Baseline pruning criteria of the benchmark protocol, as Scorers (higher = prune first, compared
 * globally). Each reads one or two columns of the extracted features and returns a new array per layer.
 */

export interface ScorerOptions {
  /** Seed of the 'random' scorer. Default 0. */
  seed?: number;
}

function columnScorer(name: string, feature: string, map: (v: number) => number): Scorer {
  return {
    name,
    rowwise: true,
    needs: [feature],
    score(features: ConnectionFeatures): Float32Array[] {
      const [f] = requireFeatures(name, features.schema, [feature]);
      return features.layers.map((lf) => {
        const c = lf.columns[f];
        const out = new Float32Array(lf.count);
        for (let i = 0; i < out.length; i++) out[i] = map(c[i]);
        return out;
      });
    },
  };
}

/** Global magnitude (PyTorch global_unstructured with L1): −|w|. */
export const globalMagnitudeScorer = (): Scorer => columnScorer('global-magnitude', 'abs_w', (v) => -v);

/**
 * Layer-uniform magnitude: 1 − within-layer percentile of |w|. A global threshold on it removes the
 * same fraction of every layer's live weights (± one weight), smallest |w| first.
 */
export const uniformMagnitudeScorer = (): Scorer => columnScorer('uniform-magnitude', 'abs_w_pct_layer', (v) => 1 - v);

/** First-order Taylor: −|w · ḡ| (ḡ = mean calibration gradient). */
export const taylorScorer = (): Scorer => columnScorer('taylor', 'taylor', (v) => -v);

/** Wanda-style: −|w| · ‖x‖ (RMS of the input the connection reads), compared globally. */
export const wandaScorer = (): Scorer => columnScorer('wanda', 'wanda', (v) => -v);

/** 32-bit avalanche mix (lowbias32). */
function mix(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15; h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Random: a uniform score per connection from a hash of (seed, layer, flat kernel index), so a
 * connection keeps its score across steps and calls (a consistent random order), independent of
 * which other connections are still live.
 */
export function randomScorer(options: ScorerOptions = {}): Scorer {
  const seed = (options.seed ?? 0) >>> 0;
  return {
    name: 'random',
    rowwise: true,
    needs: [],
    score(features: ConnectionFeatures): Float32Array[] {
      return features.layers.map((lf) => {
        const salt = mix(mix(seed ^ 0x9e3779b9) ^ (lf.layer + 1));
        const out = new Float32Array(lf.count);
        for (let i = 0; i < out.length; i++) out[i] = mix(salt ^ mix(lf.indices[i])) / 4294967296;
        return out;
      });
    },
  };
}

/**
 * LAMP scores of one layer's |w| (Lee et al. 2021, "Layer-adaptive sparsity for the magnitude-based
 * pruning"): lamp_i = w_i² / Σ_{j: |w_j| ≥ |w_i|} w_j² over the layer's live weights. The weights walked
 * from the largest down in sorted order (a linear-time argsort), the squares summed as they come, so equal
 * weights share one score: their sum includes them all. (A binary search per weight over the sorted values
 * did the same in 7 s for a 9 M-weight layer, its memory reads all cache misses; this takes under one.)
 * `absUp`: |w|'s ascending argsort (ties by position) where the caller has it (LayerFeatures.absOrder).
 */
export function lampScores(absW: Float32Array, absUp?: Int32Array): Float64Array {
  const byRank = new Float64Array(absW.length);
  return scatter(byRank, lampInRankOrder(absW, absUp, byRank, 1), new Float64Array(absW.length));
}

/**
 * `sign`·lamp of the r-th smallest |w| at r of `byRank`; returns the order used (`absUp` where it is |w|'s ascending
 * order, ties by position, else argsort's: an order a custom extractor gave is checked as it is read, not trusted). The
 * values are gathered once in sorted order, then every pass is sequential (walking positions in sorted order read and
 * wrote memory at random: 0.45 s a pass for 9 M weights, most of LAMP's time).
 */
function lampInRankOrder(absW: Float32Array, absUp: Int32Array | undefined, byRank: Float32Array | Float64Array, sign: 1 | -1): Int32Array {
  const n = absW.length;
  let up = absUp && gathersAscending(absW, absUp, byRank) ? absUp : undefined;
  if (!up) {
    up = argsort(absW);
    for (let r = 0; r < n; r++) byRank[r] = absW[up[r]];
  }
  let suffix = 0;
  // From the largest down; a run of equal values is summed whole before it is scored (j === i: a NaN, unequal to
  // itself, still advances). Each run is overwritten by its score once read; the values below it are still |w|.
  for (let i = n - 1; i >= 0;) {
    const v = byRank[i];
    let j = i;
    for (; j >= 0 && (j === i || byRank[j] === v); j--) suffix += v * v;
    const score = suffix > 0 ? (v * v) / suffix : 0;
    for (let k = j + 1; k <= i; k++) byRank[k] = sign * score;
    i = j;
  }
  return up;
}

/**
 * Gathers absW in the order `up` into `into`; false unless `up` is absW's ascending order with ties by position (then
 * also a permutation: positions in range, each once).
 */
function gathersAscending(absW: Float32Array, up: Int32Array, into: Float32Array | Float64Array): boolean {
  const n = absW.length;
  if (up.length !== n) return false;
  for (let r = 0; r < n; r++) {
    const p = up[r];
    if (!(p >= 0 && p < n)) return false;
    const v = absW[p];
    into[r] = v;
    if (r > 0 && !(v > into[r - 1] || (v === into[r - 1] && p > up[r - 1]))) return false;
  }
  return true;
}

/** out[order[r]] = byRank[r]. */
function scatter<T extends Float32Array | Float64Array>(byRank: T, order: Int32Array, out: T): T {
  for (let r = 0; r < order.length; r++) out[order[r]] = byRank[r];
  return out;
}

/** LAMP as a Scorer's scores of one layer's |w|: −lamp (lowest LAMP score pruned first). `absUp` as lampScores'. */
export function lampPruneScores(absW: Float32Array, absUp?: Int32Array): Float32Array {
  const byRank = new Float32Array(absW.length);
  return scatter(byRank, lampInRankOrder(absW, absUp, byRank, -1), new Float32Array(absW.length));
}

/**
 * lampPruneScores and their ascending argsort (ties by position), without a sort of the scores: −lamp never rises as
 * |w| does (w² grows, the sum of the squares at least as large shrinks; float rounding keeps that order), so its
 * ascending order is |w|'s descending one, each run of equal scores put back in position order. Where that does not
 * hold (NaN or infinite weights), the scores are sorted.
 */
export function lampPruneOrdered(absW: Float32Array, absUp?: Int32Array): { scores: Float32Array; up: Int32Array } {
  const n = absW.length;
  const byRank = new Float32Array(n);
  const order = lampInRankOrder(absW, absUp, byRank, -1);
  const scores = scatter(byRank, order, new Float32Array(n));
  const up = new Int32Array(n);
  let start = 0;
  for (let k = 0; k < n; k++) {
    up[k] = order[n - 1 - k];
    if (k > 0) {
      const v = byRank[n - 1 - k];
      const prev = byRank[n - k];
      if (!(v >= prev)) return { scores, up: argsort(scores) }; // not ascending (NaN included)
      if (v === prev) continue;
    }
    if (k - start > 1) up.subarray(start, k).sort();
    start = k;
  }
  if (n - start > 1) up.subarray(start, n).sort();
  return { scores, up };
}

/** LAMP: −lamp (lowest LAMP score pruned first; each layer's largest weight has LAMP 1). */
export function lampScorer(): Scorer {
  return {
    name: 'lamp',
    needs: ['abs_w'],
    score(features: ConnectionFeatures): Float32Array[] {
      const [f] = requireFeatures('lamp', features.schema, ['abs_w']);
      return features.layers.map((lf) => lampPruneScores(lf.columns[f], lf.absOrder));
    },
    orderedLayer(layer: LayerFeatures, schema: FeatureSchema) {
      const [f] = requireFeatures('lamp', schema, ['abs_w']);
      return lampPruneOrdered(layer.columns[f], layer.absOrder);
    },
  };
}

export type ScorerFactory = (options?: ScorerOptions) => Scorer;

/** Baseline scorers by registry name. */
export const SCORERS: Readonly<Record<string, ScorerFactory>> = Object.freeze({
  random: randomScorer,
  'uniform-magnitude': uniformMagnitudeScorer,
  'global-magnitude': globalMagnitudeScorer,
  taylor: taylorScorer,
  wanda: wandaScorer,
  lamp: lampScorer,
});

export const SCORER_NAMES: readonly string[] = Object.freeze(Object.keys(SCORERS));

/** A baseline scorer by name; PolicyError listing the valid names otherwise. */
export function createScorer(name: string, options: ScorerOptions = {}): Scorer {
  const factory = Object.prototype.hasOwnProperty.call(SCORERS, name) ? SCORERS[name] : undefined;
  if (!factory) throw new PolicyError(`unknown scorer '${name}'; valid scorers: ${SCORER_NAMES.join(', ')}`);
  return factory(options);
}
