import type { ConnectionFeatures, FeatureSchema } from '../features/types.js';

/**
 * Anything that ranks live connections for removal: a learned policy or a baseline criterion.
 * `score` returns, per layer of `features`, a prunability score per live connection (same order as
 * LayerFeatures.indices): HIGHER = PRUNE FIRST. Scores are compared globally across layers, so the
 * scorer also decides how sparsity spreads over layers. Ties must be broken deterministically.
 */
export interface Scorer {
  /** Registry name, e.g. 'global-magnitude', 'cart'. */
  readonly name: string;
  /** Features the scorer needs (checked against the extracted schema); undefined = any. */
  readonly schema?: FeatureSchema;
  /**
   * Whether each connection's score depends on its own feature row only (learned policies, magnitude,
   * Taylor, Wanda, random), so that a large layer can be scored in chunks; false/absent when a score
   * needs the whole layer (LAMP).
   */
  readonly rowwise?: boolean;
  /**
   * The feature columns the scores read (names of the schema); extraction for scoring may leave the others
   * out (the magnitude ranks' sort, the logarithms). Undefined = every column.
   */
  readonly needs?: readonly string[];
  score(features: ConnectionFeatures): Float32Array[];
}
