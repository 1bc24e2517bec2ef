/**
 * Differences between two methods run on the same seeds (same dense weights, same test rows), as the page states
 * them: their mean and its standard error, in points, and whether the mean is within two standard errors of 0 —
 * how far a "met" or "NOT met" is from the fine-tuning's own noise.
 */
export interface Paired { mean: number; se: number; n: number }

/**
 * Below this, two mean accuracies (fractions) are equal: a mean of per-seed differences that sum to 0 comes out ±1e-16
 * by the order of the sums (a tie read as "NOT met" at -0.00 and as "met" at +1e-16 on the same page). One test row is
 * at least 1e-4 of the splits here.
 */
export const TIE = 1e-9;
/** a ≥ b, ties (within TIE) included. */
export const atLeast = (a: number, b: number): boolean => a >= b - TIE;
/** a > b by more than a tie. */
export const above = (a: number, b: number): boolean => a > b + TIE;

/** Mean and standard error of `diffs` (fractions; se NaN below two values). */
export function paired(diffs: readonly number[]): Paired {
  const n = diffs.length;
  const mean = diffs.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const se = n > 1 ? Math.sqrt(diffs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1) / n) : NaN;
  return { mean, se, n };
}

/** "+0.15 ± 0.34 points" and, where it is, ": within two standard errors of no difference". */
export function pairedText(p: Paired): { value: string; noise: string } {
  const pts = (v: number) => (100 * v).toFixed(2);
  return {
    // A mean that rounds to 0.00 gets no sign.
    value: `${pts(Math.abs(p.mean)) === '0.00' ? '' : p.mean > 0 ? '+' : '−'}${pts(Math.abs(p.mean))} ± ${pts(p.se)} points`,
    noise: Number.isFinite(p.se) && Math.abs(p.mean) < 2 * p.se ? ': within two standard errors of no difference' : '',
  };
}
