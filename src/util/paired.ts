/**
 * True when the paired per-row values `a` are lower than `b` (the same rows) by more than `z` standard errors of the
 * mean difference. Used where two states of a model are compared on the same rows: the agent's policy-or-magnitude
 * check (losses right after pruning) and the fine-tunes' ties (a round's validation losses against the best round's).
 */
export function clearlyLower(a: ArrayLike<number>, b: ArrayLike<number>, z: number): boolean {
  const n = a.length;
  if (n < 2) return false;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += b[i] - a[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (b[i] - a[i] - mean) ** 2;
  const se = Math.sqrt(ss / (n - 1) / n);
  return mean > z * se && mean > 0;
}
