import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { activationBatch } from './activation-batch.js';

/** Every BatchNormalization layer of a model, nested models (a Sequential or Functional used as a layer) included. */
export function batchNormLayers(model: TF.LayersModel): TF.layers.Layer[] {
  const out: TF.layers.Layer[] = [];
  const visit = (layers: TF.layers.Layer[]) => {
    for (const l of layers) {
      if (l.getClassName() === 'BatchNormalization') out.push(l);
      const inner = (l as unknown as { layers?: TF.layers.Layer[] }).layers;
      if (Array.isArray(inner)) visit(inner);
    }
  };
  visit(model.layers);
  return out;
}

/**
 * Re-estimates every BatchNormalization layer's moving mean and variance on `x` (adaptive BN, Li et al. 2020,
 * "EagleEye"): after pruning, the statistics the model was trained with no longer describe the activations, and
 * a model evaluated in inference mode is judged with stale ones. Forward passes in training mode over `x` in
 * batches, with each layer's momentum set so that the moving statistics become the mean of the batches'
 * (k/(k+1) for batch k); no weight changes and no optimizer step. The momenta are put back. No-op without
 * BatchNormalization.
 */
export function recalibrateBatchNorm(model: TF.LayersModel, x: TF.Tensor, batchSize = activationBatch(model, 256, 2)): void {
  const layers = batchNormLayers(model) as unknown as { momentum: number }[];
  if (layers.length === 0) return;
  const saved = layers.map((l) => l.momentum);
  const n = x.shape[0];
  try {
    for (let k = 0, start = 0; start < n; k++, start += batchSize) {
      for (const l of layers) l.momentum = k / (k + 1);
      tf.tidy(() => { model.apply(tf.slice(x, start, Math.min(batchSize, n - start)), { training: true }); });
    }
  } finally {
    layers.forEach((l, i) => { l.momentum = saved[i]; });
  }
}

/**
 * How far the activations of `x` at the model's first BatchNormalization layer lie from the statistics it was trained
 * with: the median over its channels of |ln((var_x + ε) / (var_moving + ε))|, var_x the variance of `x`'s activations
 * there, ε the layer's epsilon (what its normalization divides by). About 0 for inputs scaled as in training, ln(255²) ≈ 11
 * for inputs 255 times off in either direction: a trained network's own record of its inputs' scale, which its outputs'
 * confidence is not (docs/reliability.md, "Inputs scaled as in training"). Undefined without BatchNormalization. The
 * model's weights are as before (the statistics are re-estimated on `x` and put back). Undefined too where the first
 * layer's statistics were never updated (mean 0, variance 1) or the layers cannot run in training mode.
 */
export function batchNormMismatch(model: TF.LayersModel, x: TF.Tensor): number | undefined {
  const layers = batchNormLayers(model);
  if (layers.length === 0) return undefined;
  const saved = layers.map((l) => tf.tidy(() => l.getWeights().map((w) => tf.keep(w.clone()))));
  try {
    const first = layers[0];
    const epsilon = (first as unknown as { epsilon: number }).epsilon;
    const k = saved[0].length;
    const mean = saved[0][k - 2].dataSync();
    const before = saved[0][k - 1].dataSync();
    // Statistics no training updated (mean 0, variance 1: a custom loop that trained through predict, a frozen layer)
    // record no scale.
    if (mean.every((v) => v === 0) && before.every((v) => v === 1)) return undefined;
    try {
      recalibrateBatchNorm(model, x);
    } catch {
      // A layer tfjs cannot run in training mode (scale or center off: its training call reads gamma and beta): no figure.
      return undefined;
    }
    const after = first.getWeights()[k - 1].dataSync();
    const logs = Array.from(before, (v, c) => Math.abs(Math.log((after[c] + epsilon) / (v + epsilon)))).sort((a, b) => a - b);
    const median = logs[Math.floor(logs.length / 2)];
    return Number.isFinite(median) ? median : undefined;
  } finally {
    layers.forEach((l, i) => l.setWeights(saved[i]));
    tf.dispose(saved.flat());
  }
}
