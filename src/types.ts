/**
 * Injection tokens of the composition root (src/container.ts). Only interfaces cross these seams, so a
 * test or an AutoML integration can rebind any of them (e.g. a data source reading from a feature store).
 */
export const TOKENS = Object.freeze({
  DataSource: Symbol.for('autoprune.DataSource'),
  ModelSource: Symbol.for('autoprune.ModelSource'),
  PolicySource: Symbol.for('autoprune.PolicySource'),
  FeatureExtractor: Symbol.for('autoprune.FeatureExtractor'),
  OutputWriter: Symbol.for('autoprune.OutputWriter'),
  Pruner: Symbol.for('autoprune.Pruner'),
});
