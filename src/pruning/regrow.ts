import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import type { PrunableModel } from './prunable-model.js';

/**
 * Regrowth during fine-tuning (RigL, Evci et al. 2020): at a fixed sparsity, each prunable kernel gives up its
 * `fraction` × live weights of smallest magnitude and takes back as many pruned connections whose gradient on
 * the current batch is largest — connections the loss says matter come back, the least useful live ones go.
 * Each layer keeps its count of live weights (the allocation is unchanged), regrown weights start at 0 (and,
 * with FlatAdam's zero moments for pruned weights, from a fresh optimizer state). Selection runs on the device
 * (top-k), no host copy of a kernel.
 */
export interface RegrowSchedule {
  /** Optimizer steps between swaps. */
  every: number;
  /** No swap before this step (e.g. while scheduled pruning increments still run). Default 0. */
  from?: number;
  /** No swap at or after this step (the rest of the fine-tune settles the final masks). */
  until: number;
  /** The swapped fraction of each layer's live weights at step `s` (RigL: α/2 · (1 + cos(π s / until))). */
  fraction: (step: number) => number;
}

/** RigL's cosine-decayed swap fraction, `alpha` at step `from`, reaching 0 at `until`. */
export function cosineFraction(alpha: number, until: number, from = 0): (step: number) => number {
  return (s) => (s >= until || s < from ? 0 : (alpha / 2) * (1 + Math.cos((Math.PI * (s - from)) / (until - from))));
}

/**
 * One swap: for every prunable kernel with a gradient in `grads` (by variable name), drops the k live weights of
 * smallest |w| and revives the k pruned ones of largest |gradient|, k = round(fraction × live) capped by the
 * pruned count. Returns how many connections moved (0: masks unchanged).
 */
export function regrowMasks(pm: PrunableModel, grads: Readonly<Record<string, TF.Tensor | undefined>>, fraction: number): number {
  let moved = 0;
  pm.layers.forEach((l, i) => {
    const g = grads[l.kernel.name];
    if (!g || fraction <= 0) return;
    const mask = pm.mask(i);
    const live = Math.round(tf.tidy(() => tf.sum(mask).dataSync()[0]));
    const k = Math.min(Math.round(fraction * live), l.size - live);
    if (k < 1) return;
    const next = tf.tidy(() => {
      const m = tf.reshape(mask, [-1]);
      const liveBool = tf.greater(m, 0.5);
      // Live weights by −|w| (pruned ones at −∞: never chosen), pruned ones by |g| (live ones at −∞).
      const dropScore = tf.where(liveBool, tf.neg(tf.abs(tf.reshape(l.kernel, [-1]))), tf.fill([l.size], -Infinity));
      const growScore = tf.where(liveBool, tf.fill([l.size], -Infinity), tf.abs(tf.reshape(g, [-1])));
      const drop = tf.topk(dropScore, k).indices;
      const grow = tf.topk(growScore, k).indices;
      const delta = tf.scatterND(tf.concat([drop, grow]).reshape([2 * k, 1]),
        tf.concat([tf.fill([k], -1), tf.fill([k], 1)]), [l.size]);
      return tf.reshape(tf.add(m, delta), l.shape);
    });
    pm.setMask(i, next);
    moved += k;
  });
  return moved;
}
