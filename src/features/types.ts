/**
 * Contract between feature extraction, policies and the agent. Implementations live beside this file
 * (schema.ts: the ordered feature names and version; extract.ts: vectorised extraction).
 */

/** Ordered feature names plus a version. A policy stores the schema it was trained on. */
export interface FeatureSchema {
  /** Bumped whenever a feature's meaning or order changes. */
  version: number;
  names: readonly string[];
}

/** Features of the live connections of one prunable layer, column-wise. */
export interface LayerFeatures {
  /** Index of the layer in PrunableModel.layers. */
  layer: number;
  name: string;
  /** Number of live (unpruned) connections described. */
  count: number;
  /** Flat (row-major) kernel index of each live connection. */
  indices: Int32Array;
  /** One Float32Array (length `count`) per schema feature, in schema order. */
  columns: Float32Array[];
  /**
   * Positions 0…count−1 in ascending order of |w| (`abs_w`), ties by position, where extraction sorted them anyway
   * (the magnitude ranks): a scorer that needs that order (LAMP) reads it here instead of sorting again. Absent when
   * not sorted (and never given where a weight is NaN, which the sort of |w| and argsort would place differently).
   */
  absOrder?: Int32Array;
}

/** Features of every live connection of a model. */
export interface ConnectionFeatures {
  schema: FeatureSchema;
  layers: LayerFeatures[];
}
