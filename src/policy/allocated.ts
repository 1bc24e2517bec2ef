import { argsort } from '../util/argsort.js';
import type { ConnectionFeatures, LayerFeatures } from '../features/types.js';
import { FEATURE_SCHEMA } from '../features/schema.js';
import type { Scorer } from './types.js';

/**
 * A bounded correction of a prior's order inside each layer: a connection's score is (1 − a)·its rank under the
 * prior + a·its rank under the policy (ranks within the layer, 0…1, higher = prune first). With a small, the
 * policy only reorders connections the prior ranks close together; a = 0 is the prior's order.
 */
export function blendedOrder(policy: Scorer, prior: Scorer, alpha: number): Scorer {
  return {
    name: `${prior.name}~${policy.name}@${alpha}`,
    schema: policy.schema,
    score(features: ConnectionFeatures): Float32Array[] {
      const own = policy.score(features);
      const base = prior.score(features);
      return own.map((s, l) => blend(s, base[l], alpha));
    },
  };
}

/**
 * (1 − a)·the prior's rank + a·the policy's rank of each connection (ranks 0…1 within the layer); `baseUp`: the prior's
 * ascending argsort where the caller has it.
 */
function blend(own: Float32Array, base: Float32Array, alpha: number, baseUp = argsort(base)): Float32Array {
  const a = ranks01(own);
  const b = ranksOf(baseUp);
  for (let i = 0; i < a.length; i++) a[i] = alpha * a[i] + (1 - alpha) * b[i];
  return a;
}

/** The weight of a policy's ranks in the bounded correction of LAMP (ONE_SHOT_POLICY, and the agent outside a policy's domain). */
export const CORRECTION_WEIGHT = 0.25;

/**
 * The policy as a bounded correction of a prior: its ranks mixed into the prior's at weight `alpha` inside each layer
 * (blendedOrder), the prior's allocation across layers (allocatedBy). What `--policy X@a+Y` builds.
 */
export function correctedPrior(policy: Scorer, prior: Scorer, alpha: number, name = `${policy.name}@${alpha}+${prior.name}`): Scorer {
  // allocatedBy(blendedOrder(policy, prior, alpha), prior), with the prior scored once a pass (not once for each).
  // The prior's argsort done once, for its ranks and for its values (or given by the prior: Scorer.orderedLayer).
  const finish = (own: Float32Array, base: Float32Array, baseUp = argsort(base)) => transplant(blend(own, base, alpha, baseUp), base, baseUp);
  const priorOfLayer = (layer: LayerFeatures): { scores: Float32Array; up?: Int32Array } => (prior.orderedLayer
    ? prior.orderedLayer(layer, FEATURE_SCHEMA)
    : { scores: prior.score({ schema: FEATURE_SCHEMA, layers: [layer] })[0] });
  const needs = policy.needs && prior.needs ? [...new Set([...policy.needs, ...prior.needs])] : undefined;
  return {
    name,
    schema: policy.schema,
    ...(needs ? { needs } : {}),
    // A row-wise policy's scores in chunks, the prior's (whole-layer: LAMP) from its own columns only, then the ranks.
    ...(policy.rowwise && prior.needs ? {
      staged: {
        rows: policy, needs: prior.needs,
        finish: (rowScores: Float32Array, layer: LayerFeatures) => {
          const p = priorOfLayer(layer);
          // The layer's columns and |w| order are read: let go for the rank mixing's sorts (Scorer.staged: the object is the stage's).
          layer.columns = [];
          delete layer.absOrder;
          return finish(rowScores, p.scores, p.up);
        },
      },
    } : {}),
    score(features: ConnectionFeatures): Float32Array[] {
      const own = policy.score(features);
      const base = prior.score(features);
      return own.map((s, l) => finish(s, base[l]));
    },
  };
}

/** Rank of each value in ascending order, scaled to [0, 1] (ties by index). */
function ranks01(v: Float32Array): Float32Array {
  return ranksOf(argsort(v));
}

/** The ranks 0…1 of an argsort's order (idx[r] is the r-th lowest). */
function ranksOf(idx: Int32Array): Float32Array {
  const n = idx.length;
  const out = new Float32Array(n);
  for (let r = 0; r < n; r++) out[idx[r]] = n > 1 ? r / (n - 1) : 0;
  return out;
}

/**
 * A policy's order inside each layer with a prior's allocation across layers: within every layer, the
 * connection the policy ranks k-th most prunable gets the prior's k-th highest score of that layer. Each
 * layer's multiset of scores is then exactly the prior's, so a global threshold removes from every layer
 * exactly as many connections as the prior would (its allocation), and the policy decides which ones.
 * Ties in the policy's scores keep index order (deterministic).
 */
export function allocatedBy(policy: Scorer, prior: Scorer, name = `${policy.name}+${prior.name}-allocation`): Scorer {
  return {
    name,
    schema: policy.schema,
    score(features: ConnectionFeatures): Float32Array[] {
      const own = policy.score(features);
      const base = prior.score(features);
      return own.map((s, l) => transplant(s, base[l]));
    },
  };
}

/**
 * out[i] = the prior's r-th highest value, where r is i's rank (descending) in `order`. `priorUp`: the prior's ascending
 * argsort where the caller has it (equal values are interchangeable, so its ties' order does not matter).
 */
export function transplant(order: Float32Array, prior: Float32Array, priorUp = argsort(prior)): Float32Array {
  const n = order.length;
  const idx = argsort(order, true);
  const out = new Float32Array(n);
  for (let r = 0; r < n; r++) out[idx[r]] = prior[priorUp[n - 1 - r]];
  return out;
}
