import type { ConnectionFeatures } from '../features/types.js';
import { resolveScorer } from './io.js';
import type { Scorer } from './types.js';

/** A scorer named as the experiment scripts take it: a policy or baseline name, or "X+Y" = allocatedBy(X, Y). */
export function resolveScorerSpec(spec: string): Scorer {
  const [own, prior] = spec.split('+');
  return prior ? allocatedBy(resolveScorer(own), resolveScorer(prior)) : resolveScorer(own);
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
