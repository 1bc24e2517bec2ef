import type { ConnectionFeatures, FeatureSchema, LayerFeatures } from '../features/types.js';

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
  /**
   * A scorer whose work is row-wise, then per layer (a learned correction of a prior, `X@a+Y`): extraction streams a
   * large layer's rows through `rows` in chunks, as for a row-wise scorer, then calls `finish` with the whole layer's
   * row scores and a LayerFeatures of its `needs` columns alone (LAMP's |w|: one column, where every column of a 9 M-weight
   * layer at once took over a gigabyte), handed over: `finish` may drop its columns once read. `score` gives the same
   * scores from whole features.
   */
  readonly staged?: {
    readonly rows: Scorer;
    readonly needs: readonly string[];
    finish(rowScores: Float32Array, layer: LayerFeatures): Float32Array;
  };
  /**
   * One layer's scores (as `score` gives them) and their ascending argsort (ties by position), where the scorer has that
   * order cheaper than a sort of its scores (LAMP: from |w|'s order, LayerFeatures.absOrder). A learned correction of
   * the scorer (`X@a+Y`) reads both.
   */
  orderedLayer?(layer: LayerFeatures, schema: FeatureSchema): { scores: Float32Array; up: Int32Array };
  score(features: ConnectionFeatures): Float32Array[];
}
