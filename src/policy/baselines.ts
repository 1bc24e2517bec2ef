import { PolicyError } from '../errors.js';
import type { ConnectionFeatures } from '../features/types.js';
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
 * pruning"): lamp_i = w_i² / Σ_{j: |w_j| ≥ |w_i|} w_j² over the layer's live weights. O(n log n):
 * sort, suffix sums of squares, and a binary search for each weight's first equal value, so equal
 * weights share one score.
 */
export function lampScores(absW: Float32Array): Float64Array {
  const n = absW.length;
  const sorted = Float32Array.from(absW).sort();
  const suffix = new Float64Array(n + 1);
  for (let j = n - 1; j >= 0; j--) suffix[j] = suffix[j + 1] + sorted[j] * sorted[j];
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = absW[i];
    let lo = 0, hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    const denom = suffix[lo];
    out[i] = denom > 0 ? (v * v) / denom : 0;
  }
  return out;
}

/** LAMP as a Scorer's scores of one layer's |w|: −lamp (lowest LAMP score pruned first). */
export function lampPruneScores(absW: Float32Array): Float32Array {
  return Float32Array.from(lampScores(absW), (v) => -v);
}

/** LAMP: −lamp (lowest LAMP score pruned first; each layer's largest weight has LAMP 1). */
export function lampScorer(): Scorer {
  return {
    name: 'lamp',
    needs: ['abs_w'],
    score(features: ConnectionFeatures): Float32Array[] {
      const [f] = requireFeatures('lamp', features.schema, ['abs_w']);
      return features.layers.map((lf) => lampPruneScores(lf.columns[f]));
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
