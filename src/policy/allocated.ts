import type { ConnectionFeatures } from '../features/types.js';
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
      return own.map((s, l) => {
        const a = ranks01(s);
        const b = ranks01(base[l]);
        return Float32Array.from(a, (v, i) => alpha * v + (1 - alpha) * b[i]);
      });
    },
  };
}

/** The weight of a policy's ranks in the bounded correction of LAMP (ONE_SHOT_POLICY, and the agent outside a policy's domain). */
export const CORRECTION_WEIGHT = 0.25;

/**
 * The policy as a bounded correction of a prior: its ranks mixed into the prior's at weight `alpha` inside each layer
 * (blendedOrder), the prior's allocation across layers (allocatedBy). What `--policy X@a+Y` builds.
 */
export function correctedPrior(policy: Scorer, prior: Scorer, alpha: number, name = `${policy.name}@${alpha}+${prior.name}`): Scorer {
  return allocatedBy(blendedOrder(policy, prior, alpha), prior, name);
}

/** Rank of each value in ascending order, scaled to [0, 1] (ties by index). */
function ranks01(v: Float32Array): Float32Array {
  const n = v.length;
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  idx.sort((a, b) => v[a] - v[b] || a - b);
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

/** out[i] = the prior's r-th highest value, where r is i's rank (descending) in `order`. */
export function transplant(order: Float32Array, prior: Float32Array): Float32Array {
  const n = order.length;
  const values = Float32Array.from(prior).sort().reverse();
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  idx.sort((a, b) => order[b] - order[a] || a - b);
  const out = new Float32Array(n);
  for (let r = 0; r < n; r++) out[idx[r]] = values[r];
  return out;
}
