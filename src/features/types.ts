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
}

/** Features of every live connection of a model. */
export interface ConnectionFeatures {
  schema: FeatureSchema;
  layers: LayerFeatures[];
}
