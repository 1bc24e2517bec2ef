/**
 * Validation metrics of a prunability predictor against oracle labels. Labels are binarised at
 * `threshold` (label ≥ 0.5: the oracle removed the connection at at least half of the later targets).
 * Rows carry weights (a sampled row stands for live/sampled connections of its layer and stage), so
 * every metric is weighted and estimates its value over all live connections.
 */

/** Weighted ROC AUC of `score` (higher = more prunable) for positives `label ≥ threshold`; ties count half. NaN without both classes. */
export function weightedAuc(score: ArrayLike<number>, label: ArrayLike<number>, weight?: ArrayLike<number>, threshold = 0.5): number {
  const n = score.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => score[a] - score[b]);
  let pos = 0, neg = 0, auc = 0;
  for (let i = 0; i < n;) {
    // A block of tied scores: its positives beat all earlier negatives, and tie half the block's negatives.
    let j = i, bp = 0, bn = 0;
    while (j < n && score[order[j]] === score[order[i]]) {
      const r = order[j];
      const w = weight ? weight[r] : 1;
      if (label[r] >= threshold) bp += w; else bn += w;
      j++;
    }
    auc += bp * (neg + bn / 2);
    pos += bp; neg += bn;
    i = j;
  }
  return pos > 0 && neg > 0 ? auc / (pos * neg) : NaN;
}

/**
 * Weighted precision of the top-k prunable set: k = the (weighted) number of oracle positives; the
 * rows with the highest scores (ties by row order) are taken until their weight reaches k, and the
 * positive share of that set is returned. NaN when there are no positives.
 */
export function topKPrecision(score: ArrayLike<number>, label: ArrayLike<number>, weight?: ArrayLike<number>, threshold = 0.5): number {
  const n = score.length;
  let k = 0;
  for (let i = 0; i < n; i++) if (label[i] >= threshold) k += weight ? weight[i] : 1;
  if (k === 0) return NaN;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => (score[b] - score[a]) || (a - b));
  let taken = 0, hit = 0;
  for (let r = 0; r < n && taken < k; r++) {
    const i = order[r];
    const w = Math.min(weight ? weight[i] : 1, k - taken);
    taken += w;
    if (label[i] >= threshold) hit += w;
  }
  return hit / taken;
}

/** Mean of the finite values (NaN if none). */
export function meanFinite(xs: number[]): number {
  const f = xs.filter(Number.isFinite);
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
}
