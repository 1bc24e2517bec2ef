/**
 * A user's own Scorer (the API's `policy` option, PruningCallback, pruneOnce) is code autoprune did not write: its
 * scores are checked at every call before a selection reads them. Scores for too few layers, of the wrong length, or
 * NaN would otherwise prune by whatever order the selection happens to see (and the agent's magnitude check then
 * quietly prunes by magnitude instead), so they are refused in one line naming the scorer.
 */
import { PolicyError } from '../errors.js';
import type { ConnectionFeatures } from '../features/types.js';
import type { Scorer } from './types.js';

/** `scorer` with its output checked: one Float32Array per layer given, one finite-or-±Infinity score per connection. */
export function checkedScorer(scorer: Scorer): Scorer {
  const name = typeof scorer.name === 'string' && scorer.name ? scorer.name : 'the given Scorer';
  const check = (features: ConnectionFeatures, scores: unknown): Float32Array[] => {
    const layers = features.layers;
    if (scores != null && typeof (scores as { then?: unknown }).then === 'function') {
      // (Its rejection handled: an unhandled one would end the caller's process.)
      Promise.resolve(scores).catch(() => undefined);
      throw new PolicyError(`policy '${name}': score() returned a Promise; it must be synchronous and return one Float32Array per layer of the features`);
    }
    if (!Array.isArray(scores) || scores.length !== layers.length) {
      throw new PolicyError(`policy '${name}': score() returned ${Array.isArray(scores) ? `${scores.length} score arrays` : `'${typeof scores}'`} for ${layers.length} layer(s); it must return one Float32Array per layer of the features, in their order`);
    }
    scores.forEach((s: unknown, i) => {
      const lf = layers[i];
      if (!(s instanceof Float32Array) || s.length !== lf.count) {
        throw new PolicyError(`policy '${name}': score() returned ${s instanceof Float32Array ? `${s.length} scores` : `a ${s == null ? String(s) : (s as object).constructor?.name ?? typeof s}`} for layer '${lf.name}', which has ${lf.count} live connection(s); it must return a Float32Array of one score per connection`);
      }
      const bad = s.findIndex((v) => Number.isNaN(v));
      if (bad >= 0) throw new PolicyError(`policy '${name}': score() returned NaN for connection ${bad} of layer '${lf.name}'; scores must be numbers (higher = prune first)`);
    });
    return scores as Float32Array[];
  };
  const checked: Scorer = {
    // (A Scorer from plain JavaScript without a name: the start event and report.json name it as the messages do.)
    name,
    ...(scorer.schema ? { schema: scorer.schema } : {}),
    ...(scorer.rowwise != null ? { rowwise: scorer.rowwise } : {}),
    ...(scorer.needs ? { needs: scorer.needs } : {}),
    score: (features) => check(features, scorer.score(features)),
  };
  return checked;
}
