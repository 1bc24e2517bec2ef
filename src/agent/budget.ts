/**
 * The fine-tuning budget, counted in optimizer steps (batches), and the batch size, both chosen from the size
 * of the training split where the user did not set them. Epochs are the wrong unit across data sizes: 15
 * epochs of MNIST-10k are 945 Adam steps, 15 epochs of a 1,100-row table at batch 128 are 135, too few for
 * a pruned network to recover (docs/agent.md, "Budget").
 */

/** Fewest optimizer steps a run gets by default, whatever the data size (MNIST-10k's 15 epochs are 945). */
export const MIN_BUDGET_STEPS = 900;
/** Default budget in epochs on large data (the benchmark protocol's dense training). */
export const DEFAULT_BUDGET_EPOCHS = 15;
/** Small data gets more passes: samples seen by default, within [15, 60] epochs. */
export const DEFAULT_BUDGET_SAMPLES = 60_000;
export const MAX_DEFAULT_EPOCHS = 60;
/** Shortest validation round: early stopping, best weights and lr decay are judged every round. */
export const MIN_ROUND_STEPS = 50;
/** Largest default batch (large data); small data gets smaller batches, so an epoch has ~32 steps. */
export const MAX_BATCH = 128;
export const MIN_BATCH = 16;

export interface FineTuneBudget {
  batchSize: number;
  /** Optimizer steps in one pass over the training split. */
  stepsPerEpoch: number;
  /** Optimizer steps between validation checks: one epoch, at least MIN_ROUND_STEPS. */
  roundSteps: number;
  /** Optimizer steps of the whole run (every fine-tune, rolled-back steps included). */
  budgetSteps: number;
  /** How the budget was set: the user's epochs or steps, or the default rule. */
  source: 'epochs' | 'steps' | 'default';
  /**
   * Times the run granted itself the default budget once more (0 or 1; only a default budget is extended,
   * see extendBudget). budgetSteps includes them.
   */
  extensions?: number;
}

/** How many times a run may grant itself its default budget again when it runs out short of the target. */
export const MAX_BUDGET_EXTENSIONS = 7;
/** Beyond the first extension, a default budget grows only while the whole run sees at most this many samples (small data). */
export const EXTENSION_SAMPLES = 500_000;

/**
 * The budget with the default rule's steps once more, or undefined where none may be added: the user set the
 * budget (theirs is a limit), or the extensions are used up. The agent extends a default budget that ran out
 * while its steps were still being accepted (a step accepted since the last extension): the advice at that point
 * used to be "rerun with twice the budget", measured to reach the target on the coverage GRU (docs/agent.md,
 * "Budget"). The first extension is always granted; later ones only while the whole run sees at most
 * EXTENSION_SAMPLES samples, so that small tables, whose steps are cheap and whose models may need several times the
 * default to recover (zipcodes-state at 0.9), get them, and large data no more than twice its default.
 */
export function extendBudget(b: FineTuneBudget, base: number): FineTuneBudget | undefined {
  const n = b.extensions ?? 0;
  if (b.source !== 'default' || n >= MAX_BUDGET_EXTENSIONS) return undefined;
  if (n >= 1 && (b.budgetSteps + base) * b.batchSize > EXTENSION_SAMPLES) return undefined;
  return { ...b, budgetSteps: b.budgetSteps + base, extensions: n + 1 };
}

/** Default batch size for `n` training rows: a power of two giving ~32 steps per epoch, in [16, 128]. */
export function defaultBatchSize(n: number): number {
  const b = 2 ** Math.floor(Math.log2(Math.max(1, n / 32)));
  return Math.min(MAX_BATCH, Math.max(MIN_BATCH, b));
}

/**
 * Default passes over `n` training rows: 60,000 samples seen, within [15, 60] epochs. Large data keeps the
 * protocol's 15 epochs (MNIST-10k: 8,000 rows → 15); a 1,100-row table gets ~54, a few hundred rows 60.
 */
export function defaultBudgetEpochs(n: number): number {
  return Math.min(MAX_DEFAULT_EPOCHS, Math.max(DEFAULT_BUDGET_EPOCHS, DEFAULT_BUDGET_SAMPLES / Math.max(1, n)));
}

/**
 * Resolves the budget for `trainRows` rows. `budgetSteps` wins over `budgetEpochs`; with neither the budget
 * is defaultBudgetEpochs(rows) passes, at least 900 optimizer steps. Undefined means "default" for every field.
 */
export function resolveBudget(trainRows: number, o: { budgetEpochs?: number | undefined; budgetSteps?: number | undefined; batchSize?: number | undefined }): FineTuneBudget {
  const batchSize = o.batchSize ?? defaultBatchSize(trainRows);
  const stepsPerEpoch = Math.max(1, Math.ceil(trainRows / batchSize));
  const roundSteps = Math.max(stepsPerEpoch, MIN_ROUND_STEPS);
  if (o.budgetSteps != null) return { batchSize, stepsPerEpoch, roundSteps, budgetSteps: o.budgetSteps, source: 'steps' };
  if (o.budgetEpochs != null) return { batchSize, stepsPerEpoch, roundSteps, budgetSteps: o.budgetEpochs * stepsPerEpoch, source: 'epochs' };
  const steps = Math.round(defaultBudgetEpochs(trainRows) * stepsPerEpoch);
  return { batchSize, stepsPerEpoch, roundSteps, budgetSteps: Math.max(steps, MIN_BUDGET_STEPS), source: 'default' };
}
