/**
 * How much to prune next. Steps are sized as a fraction `rate` of the *remaining* live weights, so the
 * same rate means smaller absolute steps as the model gets sparser (the regime where damage grows).
 * The rate grows while the guard has slack and shrinks after a rollback.
 */
export interface PlannerOptions {
  /** First step's rate (fraction of live weights removed). Default 0.75: the first three quarters of a trained network's weights are nearly free, and fine-tuning spent there is fine-tuning missing at the target. */
  initialRate?: number;
  /** Largest rate. Default 0.75. */
  maxRate?: number;
  /** Below this rate the agent gives up on going further. Default 0.02. */
  minRate?: number;
}

export const PLANNER_DEFAULTS = Object.freeze({ initialRate: 0.75, maxRate: 0.75, minRate: 0.02 });

export interface PlannerState {
  rate: number;
}

/** Next sparsity from `current` at `rate`, capped at the target (and snapped to it when close). */
export function nextSparsity(current: number, target: number, rate: number, oneWeight = 0): number {
  const next = current + rate * (1 - current);
  // Snap: a leftover step smaller than a fifth of this one is not worth its own fine-tune; nor one of at most one weight
  // (`oneWeight`: the fraction one weight is), which the run would count as the target reached one weight short of it.
  if (next >= target || target - next < 0.2 * (next - current) || target - next <= oneWeight) return target;
  return next;
}

/**
 * Adapts the rate after an accepted step: more slack left → bigger steps. `slack` is the accuracy
 * left above the floor as a fraction of the allowed drop (1 = no loss at all, 0 = at the floor).
 */
export function afterAccept(rate: number, slack: number, o: Required<PlannerOptions>): number {
  const factor = slack > 0.75 ? 1.5 : slack > 0.4 ? 1.15 : slack > 0.15 ? 0.85 : 0.6;
  return Math.min(o.maxRate, Math.max(o.minRate, rate * factor));
}

/** Halves the rate after a rollback. */
export function afterRollback(rate: number): number {
  return rate * 0.5;
}
