import type { FeatureSchema } from './types.js';

/**
 * Per-connection features, version 1, in column order. One line each: what the value is.
 * "live" = mask 1; every within-layer statistic (mean, z-score, rank) is taken over live weights only.
 * "unit" = the output unit the connection feeds (Dense column / Conv filter); "input" = the input
 * feature / channel it reads (Dense row / Conv input channel). Logs are log10(x + 1e-12), so exact
 * zeros land at −12 instead of −∞. Activation statistics are over calibration samples (and, for Conv,
 * every spatial position).
 */
export const FEATURE_DOCS = Object.freeze({
  abs_w: '|w|',
  log_abs_w: 'log10(|w| + 1e-12)',
  abs_w_rel_layer: '|w| / mean |w| of the live weights of the layer',
  abs_w_z_layer: '(|w| − mean) / std of |w| over the live weights of the layer (0 when std is 0)',
  abs_w_pct_layer: 'percentile rank of |w| among the live weights of the layer, (rank + 1) / n in (0, 1]; 1 = largest',
  abs_w_pct_unit: 'percentile rank of |w| among the live weights feeding the same output unit',
  abs_w_pct_input: 'percentile rank of |w| among the live weights reading the same input feature / channel',
  grad_abs_mean: 'mean over calibration batches of |dL/dw| (batch-mean gradient)',
  log_grad_abs_mean: 'log10(grad_abs_mean + 1e-12)',
  taylor: 'first-order Taylor |w · mean gradient|',
  log_taylor: 'log10(taylor + 1e-12)',
  taylor_rel_layer: 'taylor / mean taylor of the live weights of the layer',
  fisher: 'OBD / Fisher saliency w² · E[g²] (E over calibration batches)',
  log_fisher: 'log10(fisher + 1e-12)',
  fisher_rel_layer: 'fisher / mean fisher of the live weights of the layer',
  in_mean: 'mean of the input the connection reads',
  in_norm: 'RMS of that input, ‖x‖₂ / √count (count = samples, × positions for Conv)',
  in_var: 'variance of that input',
  in_zero_frac: 'fraction of exact zeros in that input',
  wanda: 'Wanda-style |w| · in_norm',
  log_wanda: 'log10(wanda + 1e-12)',
  wanda_rel_layer: 'wanda / mean wanda of the live weights of the layer',
  out_mean: 'mean post-activation output of the unit the connection feeds',
  out_zero_frac: 'fraction of exact zeros in that output (dead ReLUs)',
  unit_live_frac: 'live fraction of the output unit\'s fan-in',
  input_live_frac: 'live fraction of the weights reading the same input feature / channel',
  depth_rel: 'prunable-layer index / (L − 1); 0 for a single layer',
  log_fan_in: 'ln(fan-in of one unit): in for Dense, kh·kw·cin for Conv2D',
  log_fan_out: 'ln(units): Dense columns / Conv filters',
  is_conv: '1 for any convolution (Conv1D/2D/3D, depthwise, separable, transposed), 0 otherwise',
  layer_param_share: 'layer kernel size / all prunable weights',
  layer_sparsity: 'pruned fraction of the layer before this step',
  global_sparsity: 'pruned fraction of all prunable weights before this step',
} as const);

export type FeatureName = keyof typeof FEATURE_DOCS;

/** The schema this extractor produces. Bump `version` whenever a feature's meaning or order changes. */
export const FEATURE_SCHEMA: FeatureSchema = Object.freeze({
  version: 1,
  names: Object.freeze(Object.keys(FEATURE_DOCS)) as readonly string[],
});

/** Column index of a feature in `schema`, or -1. */
export function featureIndex(schema: FeatureSchema, name: string): number {
  return schema.names.indexOf(name);
}

/** True when two schemas have the same version and the same names in the same order. */
export function sameSchema(a: FeatureSchema, b: FeatureSchema): boolean {
  return a.version === b.version && a.names.length === b.names.length && a.names.every((n, i) => n === b.names[i]);
}

/** Short human form for messages: `v1 [abs_w, log_abs_w, …] (33 features)`. */
export function describeSchema(s: FeatureSchema, show = 6): string {
  const head = s.names.slice(0, show).join(', ');
  const more = s.names.length > show ? ', …' : '';
  return `v${s.version} [${head}${more}] (${s.names.length} features)`;
}
