/** The policy component: baseline scorers, learned policies (CART, net, linear), policy files, fast scoring. */
export type { Scorer } from './types.js';
export * from './policy.js';
export * from './baselines.js';
export { CART_DEFAULTS, fitCart, toMlCart, toMlCartJSON, fromMlCartNode, nodeStats, columnsToRows } from './cart-train.js';
export type { CartEngine, CartOptions, FittedTree, MlCartNode, MlCartRegressionJSON, MlCartRegressor } from './cart-train.js';
export { CompiledTree, ceilFloat32, treeDepth, validateTree } from './compiled-tree.js';
export type { TieBreak, TreeArrays } from './compiled-tree.js';
export { CartPolicy, trainCartPolicy } from './cart-policy.js';
export type { CartModelJSON, TrainCartPolicyOptions } from './cart-policy.js';
export { NET_DEFAULTS, NetPolicy, trainNetPolicy } from './net-policy.js';
export type { NetModelJSON, TrainNetPolicyOptions } from './net-policy.js';
export { LINEAR_DEFAULTS, LinearPolicy, trainLinearPolicy } from './linear-policy.js';
export type { LinearModelJSON, TrainLinearPolicyOptions } from './linear-policy.js';
export * from './io.js';
export { benchScoring } from './bench-scoring.js';
export type { BenchScoringOptions, BenchScoringResult } from './bench-scoring.js';
