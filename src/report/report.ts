/**
 * The report.json written next to every pruned model: what was asked, what ran, and what came out.
 *
 * Units, everywhere in the report: accuracies and sparsities are fractions in [0, 1]; `config.maxDrop`
 * is in accuracy *points* (1 = one percentage point), as on the command line; times are seconds. For
 * tasks other than classification, "accuracy" fields hold the task's metric (see `task`).
 * Bump REPORT_SCHEMA_VERSION when a field changes meaning or disappears; adding a field does not.
 */

/** The `format` tag of every report.json. */
export const REPORT_FORMAT = 'autoprune-report' as const;

/** The report.json schema version this code writes and reads. */
export const REPORT_SCHEMA_VERSION = 1 as const;

/** The run's settings, as resolved from CLI flags / API options and defaults. */
export interface RunConfig {
  /** Target global sparsity, a fraction of the prunable weights (0.9 = 90 % pruned). */
  target: number;
  /** Largest allowed drop of validation accuracy below the dense model, in accuracy points. */
  maxDrop: number;
  /** Policy name or path as given by the user. */
  policy: string;
  /** Pruning granularity (e.g. 'connection'). */
  granularity: string;
  /** Kernel-name patterns left unpruned (exclude option), when any. */
  exclude?: string[];
  /** Random seed of the run. */
  seed: number;
  /** Model as given by the user (family name or path). */
  model: string;
  /** Data set as given by the user (builtin name or path). */
  data: string;
  /** Whether --force was passed. */
  force: boolean;
  /** CSV label column(s) as given (--label), when set. */
  label?: string | string[];
  /** CSV columns left out of the inputs (--ignore-columns), when any. */
  ignoreColumns?: string[];
  /** The label names in output order as given (--label-order), when set. */
  labelOrder?: string[];
  /** The task as given (--task), when set; `task.kind` below is the one the run used. */
  task?: string;
  /** Folder of the TensorBoard event files (--logdir), absolute. */
  logdir?: string;
  /**
   * Knowledge distillation in the fine-tunes (unit granularity): targets = (1 − weight)·labels + weight·the given model's
   * probabilities at `temperature`; false when off or when the task has no class probabilities.
   */
  distill?: false | { weight: number; temperature: number };
  /**
   * Class weights (`--class-weight`), when given: 'balanced' or each class's weight by name. Fine-tuning drew its batches
   * by them, and every accuracy figure of the report weighs its split's rows by them (task.metric names the figure).
   */
  classWeight?: 'balanced' | Record<string, number>;
  /** What the target counts: 'params' (prunable kernel weights), 'flops' (their multiply-accumulates) or 'latency' (predicted serving time, final.latency). */
  objective?: string;
  /** `--serving-batch`: the samples per call `--objective latency` timed at and `--compact` rewrote for (absent: 32, the default). */
  servingBatch?: number;
  /** The data split's seed (--split-seed; --seed where not given). */
  splitSeed?: number;
  /** The fine-tuning budget used, in optimizer steps (rolled-back steps included; an extension included). */
  budgetSteps?: number;
  /** The same budget in passes over the training split. */
  budgetEpochs?: number;
  /** How the budget was set: the user's epochs or steps, or the default rule (sized to the data). */
  budgetSource?: 'epochs' | 'steps' | 'default';
  /** Times a default budget was extended because it ran out while steps were still accepted (absent: none). */
  budgetExtensions?: number;
  /** Fine-tuning batch size used (--batch-size, or the default from the training split's size). */
  batchSize?: number;
  /** Optimizer steps between validation rounds (one epoch, at least 50). */
  roundSteps?: number;
  /** Whether the run continued from a checkpoint (--resume). */
  resumed?: boolean;
  /** Lower targets recorded on the way (--targets / frontier), when any. */
  frontier?: number[];
  /** The train/validation/test fractions as given (--split), when set. */
  split?: number[];
  /** Validation / test CSV files as given (--val-data, --test-data), when set. */
  valData?: string;
  testData?: string;
  /** Whether the CSV's inputs were standardized (--standardize / --no-standardize, or what the run chose). */
  standardize?: boolean;
  /** The factor every CSV input value was multiplied by (--input-scale): the pruned model expects inputs so scaled. */
  inputScale?: number;
  /** Any further settings the run recorded. */
  [k: string]: unknown;
}

/** The TensorFlow.js backend the run used. */
export interface ReportBackend {
  /** tfjs backend name ('tensorflow', 'wasm', 'cpu'). */
  name: string;
  /** Whether it is a native (libtensorflow) backend. */
  native: boolean;
  /** Why / from where it was chosen (e.g. 'tfjs-node', 'fallback: wasm'). */
  source: string;
}

/** The policy that scored connections. */
export interface ReportPolicy {
  /** Policy name. */
  name: string;
  /** What the scorer is: a learned policy's kind ('cart', 'net', 'linear'), 'baseline' (magnitude, LAMP, …), 'combined' (an 'X+Y' / 'X@a+Y' combination, named by `name`), or 'custom' (a Scorer object of the caller's, named by its `name`). */
  kind: string;
  /** The policy file it was loaded from, if any. */
  file?: string;
  /** A combination's parts ('X@a+Y': X orders inside each layer, the prior Y's allocation is kept), each with its kind and file. */
  parts?: { role: 'order' | 'prior'; name: string; kind: string; file?: string }[];
  /** X's weight a in an 'X@a+Y' combination. */
  weight?: number;
  /**
   * Set where the model has layers outside the learned policy's domain (the layers it was trained on: src/policy/domain.ts):
   * what the run scored with instead ('X@0.25+lamp': LAMP's allocation across layers, the policy's ranks mixed into LAMP's
   * at weight 0.25 inside each), and those layers with why.
   */
  outsideDomain?: { scoredAs: string; outside: { layer: string; why: string }[] };
}

/** The model before pruning. */
export interface ReportDense {
  /** Validation accuracy, fraction in [0, 1]. */
  valAccuracy: number;
  /** Test accuracy, fraction in [0, 1]. */
  testAccuracy: number;
  /** All the model's parameters (kernels, biases, normalisation and its moving statistics, frozen layers: countParams()). */
  params: number;
  /** Prunable weights (every kernel a layer handler prunes: Dense, Conv, recurrent, embedding, …). */
  prunable: number;
  /** prunable / params, and every layer with weights left dense, with why (absent in older reports). */
  prunableFraction?: number;
  untouched?: { name: string; className: string; params: number; reason: string }[];
  /** Batch norms `autoprune compact` folds for serving (right after a linear conv or Dense layer); absent in older reports. */
  foldableBatchNorms?: number;
  /**
   * Where the model as given was pruned before: the fraction of its prunable kernel weights that were zero (they stay
   * zero; every "dense" figure is that model's). Absent for an unpruned model.
   */
  sparsity?: number;
  /** Where the input model's file stored its weights quantized: the dtypes and its weights' bytes (`compact` of the run shows them). */
  stored?: { dtypes: string[]; weightBytes: number };
}

/** The model as written out. */
export interface ReportFinal {
  /** Validation accuracy, fraction in [0, 1]. */
  valAccuracy: number;
  /** Test accuracy, fraction in [0, 1]. */
  testAccuracy: number;
  /** Global sparsity reached, fraction of the prunable weights. */
  sparsity: number;
  /** Pruned weights as a fraction of all the model's parameters (dense.prunableFraction says how much can be pruned). */
  sparsityOfAllParams?: number;
  /**
   * Multiply-accumulates per sample of the prunable kernels, dense and live, and the fraction removed
   * (pruned, not what serving saves: scattered zeros still run in a dense kernel; `compact.macs` is what the compact model runs). With `config.objective` 'flops', the target counts `reduction`. `allKernels`: the
   * same over every kernel, the frozen and excluded ones included (never pruned), where the model has such kernels.
   */
  compute?: { dense: number; live: number; reduction: number; allKernels?: { dense: number; live: number; reduction: number } };
  /**
   * `--objective latency`: the model's time per `predict` call of `batch` samples measured at the start (`denseMs`), the
   * time the cost table predicts for the pruned model (`predictedMs`) and the fraction removed (what the target counts;
   * a prediction: `--compact` times the compact model). `profile`: per kernel its dense MACs per sample and the ms per call
   * they cost; the probes the table was fitted from (one layer's units half, 7/8 or all but its floor removed, the time that saved).
   */
  latency?: {
    batch: number; denseMs: number; predictedMs: number; reduction: number;
    profile: { kernels: { kernel: string; denseMacs: number; ms: number }[]; probes: { layer: string; savedMs: number; macs: number[] }[] };
  };
  /** Whole-unit pruning (unit granularity or `--objective flops`): the layers whose units it cannot remove, and why. */
  unitsKept?: { layer: string; reason: string }[];
  /**
   * Regression with several target columns: each target's test R², dense and pruned (testAccuracy is their
   * average, each target weighted alike), so that a target that got worse is not hidden by the average.
   */
  targets?: { name: string; denseTestR2: number; testR2: number }[];
  /**
   * Regression and autoencoders: the test error in the targets' own units, dense and pruned — `rmse`: one entry per
   * target column (its root mean squared error); `mse`: one entry, the mean squared error per output value (what a
   * reconstruction loss reads). R² (testAccuracy) is the same error relative to the targets' variance.
   */
  testErrors?: { metric: 'rmse' | 'mse'; values: { name: string; dense: number; pruned: number }[] };
  /**
   * Classification: each class's test recall (share of its rows predicted as it) and precision (share of the rows
   * predicted as it that are), dense and pruned, with its test rows (null where there is nothing to divide by), so
   * that a rare class the pruned model stopped predicting, or now predicts on many rows it should not, shows.
   */
  classes?: ReportClass[];
  /**
   * Multi-label: each label's test recall (of the rows where it is 1, the share predicted 1), dense and pruned, with its
   * positive test rows (recall null where it has none): exact-match accuracy hides a rare label the pruned model stopped predicting.
   */
  labels?: { name: string; testPositives: number; denseRecall: number | null; recall: number | null }[];
  /** Whether the target sparsity was reached within the accuracy guard. */
  targetReached: boolean;
  /** Why the run ended where it did (absent in reports written before it was recorded). */
  stopReason?: StopReason;
  /** The process exit code of the run (0 reached, 3 stopped at the best the guard allows). */
  exitCode: number;
  /** With exit 3: what to do about it (a flag and value to rerun with). */
  advice?: string;
  /**
   * With exit 3: the advice's first suggestion as the options to set on the same call (`options`, autoprune()'s names)
   * or command (`flags`); absent where nothing a rerun can be given helps (every layer at its floor).
   */
  retry?: { options: { budgetSteps?: number; maxDrop?: number; force?: true }; flags: string[] };
}

/**
 * Why the agent stopped: 'target' reached within the guard; 'forced' to the target by --force; before the
 * target, 'guard' (every smaller step broke the accuracy guard), 'budget' (the fine-tuning budget ran
 * out) or 'stalled' (no more weights could be removed: every layer is at its floor).
 */
export type StopReason = 'target' | 'forced' | 'guard' | 'budget' | 'stalled';

/** One line on where the run ended, for the console and report.html. */
export function describeStop(final: Pick<ReportFinal, 'targetReached' | 'stopReason' | 'exitCode'>, guardHeld?: boolean): string {
  switch (final.stopReason ?? (final.targetReached ? 'target' : 'guard')) {
    // (Counted in weights, a target is reached at the whole number of weights it needs: never "a weight short".)
    case 'target': return 'target reached';
    case 'forced': return guardHeld
      ? 'target reached with --force (a step broke the guard on the way; the final model holds it)'
      : 'target reached with --force (the guard did not hold; the drop is reported)';
    case 'budget': return `target NOT reached: the fine-tuning budget ran out first (exit ${final.exitCode}; the advice below says what to rerun with; or --force takes the target anyway)`;
    case 'stalled': return `target NOT reached: no more weights can be removed, every layer is at its floor (exit ${final.exitCode})`;
    default: return `target NOT reached: stopped at the last sparsity the guard accepted, the steps beyond it refused after their fine-tunes (exit ${final.exitCode}; --force takes the target anyway)`;
  }
}

/** Sparsity of one prunable kernel in the final model (the shape of pruning's LayerSparsity). */
export interface ReportLayer {
  /** Keras layer name. */
  name: string;
  /** Layer family: 'dense', 'conv2d', 'conv1d', 'lstm', 'embedding', … (pruning/layer-kinds.ts). */
  kind: string;
  /** Kernel shape. */
  shape: number[];
  /** Number of kernel weights. */
  size: number;
  /** Number of pruned (zero, masked) weights. */
  pruned: number;
  /** pruned / size. */
  sparsity: number;
}

/** One pruning attempt of the agent loop, accepted or rolled back. */
export interface ReportStep {
  /** 1-based attempt number (rolled-back attempts count too). */
  step: number;
  /** Global sparsity before the attempt (compute removed with config.objective 'flops', predicted time removed with 'latency'). */
  fromSparsity: number;
  /** Global sparsity the attempt pruned to. */
  toSparsity: number;
  /** Validation accuracy after the attempt's fine-tuning, fraction in [0, 1]. */
  valAccuracy: number;
  /** Whether the guard held and the attempt was kept. */
  accepted: boolean;
  /** Fine-tuning epochs spent on the attempt (optimizer steps / steps per epoch). */
  fineTuneEpochs: number;
  /** Optimizer steps spent on the attempt. */
  fineTuneSteps?: number;
  /**
   * The guard's paired estimate of the validation-accuracy drop below its reference (fraction): the lower-scoring of the
   * dense model and the fine-tuned dense control (`guard.reference` says which), not always the dense model.
   */
  drop?: number;
  /** The drop the guard allowed for this attempt: maxDrop + Z standard errors (fraction). */
  allowedDrop?: number;
  /** Set when the attempt was refused because the classifier fell to the majority class (its share of the validation rows). */
  collapsedTo?: number;
  /** Wall time of the attempt. */
  seconds: number;
  /** Why it was rolled back (or any note on an accepted step). */
  reason?: string;
}

/** Sums over the steps. */
export interface ReportTotals {
  /** Fine-tuning epochs over all attempts, rolled-back ones included (steps / steps per epoch). */
  fineTuneEpochs: number;
  /** Fine-tuning optimizer steps over all attempts, rolled-back ones included. */
  fineTuneSteps?: number;
  /** Accepted attempts. */
  accepted: number;
  /** Rolled-back attempts. */
  rolledBack: number;
  /** Feature + policy scoring passes over the live connections (a gradual step prunes in several re-scored increments). */
  scoringPasses?: number;
  /** Whether a step's later increments were re-scored: below 1 M prunable weights; above, one scoring pass per step. */
  rescored?: boolean;
  /**
   * Scoring passes that pruned by the policy's scores / by plain magnitude: magnitude when its per-row losses on
   * the calibration rows right after pruning are clearly lower (docs/agent.md).
   */
  criteria?: { policy: number; magnitude: number; lampAllocation?: number };
  /** Of fineTuneSteps, those of a frontier run's branches to its lower targets: on top of the budget (absent without --targets). */
  frontierSteps?: number;
  /**
   * Optimizer steps of the guard's control (the dense model fine-tuned like one step, unpruned, as the guard's reference; its
   * weights are put back): not in fineTuneSteps and not taken from the budget, which is the pruned model's (absent in
   * reports of runs before it was recorded).
   */
  controlSteps?: number;
}

/** The accuracy guard: its rule, the validation split's resolution, and the final paired comparison. */
export interface ReportGuard {
  /** The decision rule in words. */
  rule: string;
  /** Validation rows the guard compares on. */
  valRows: number;
  /** What one validation row is worth, in accuracy points (right/wrong metrics only: absent for R²). */
  pointsPerRow?: number;
  /** --max-drop, in points. */
  maxDrop: number;
  /** Standard errors allowed on top of maxDrop. */
  z: number;
  /** The most, in points, that those standard errors may add to maxDrop: two validation rows for right/wrong rows, maxDrop for continuous scores. */
  noiseCap?: number;
  /** True when --max-drop is finer than one validation row (the split cannot show it). */
  finerThanData: boolean;
  /** Validation accuracy of the reference (see `reference`): the control's where it is the reference, else the dense model's. */
  controlValAccuracy?: number;
  /** Validation accuracy of the fine-tuned dense control itself, whichever was the reference (absent in reports before 2026-12-07). */
  fineTunedControlValAccuracy?: number;
  /**
   * The guard's reference: 'control' (the dense model fine-tuned like one pruning step, unpruned) or 'dense' (the
   * model as given), whichever scores lower on the validation rows.
   */
  reference?: 'control' | 'dense';
  /** The final model's paired validation drop below the reference (fraction), its standard error, and the drop allowed. */
  finalDrop: number;
  finalStandardError: number;
  finalAllowedDrop?: number;
}

/**
 * `predict` timed on the machine of the run at `batch` samples a call: the pruned model at full shape and the compact
 * model, median ms of `runs` calls each (a measurement, not a claim); `sameRewrites`: the pruned model got the compact
 * one's serving rewrites, so the speed-up is pruning's, not the folding's.
 */
export interface CompactLatency {
  batch: number; runs: number; denseMs: number; compactMs: number; sameRewrites?: true;
  /**
   * The speed-up's lowest and highest over the timing's turns (each turn a block of calls of either model, alternating:
   * the ratio of their medians), where there were two turns or more: how much one machine's load moves the figure (a
   * new user's 2.43× came out 1.5–1.7× when timed again on a loaded machine).
   */
  speedUpRange?: { low: number; high: number; turns: number };
}

/**
 * Whether some turn of the timing found the compact model no faster (its speed-up ≤ 1×): the median's speed-up is then
 * within what the machine's load moved (a new user's 1.23×, turns 0.56–1.91×, was 1.00× timed like for like).
 */
export function speedUpInNoise(l: CompactLatency): boolean {
  return l.speedUpRange != null && l.speedUpRange.low <= 1;
}

/**
 * '2.43×, 1.90–2.60× over 5 turns': the measured speed-up, with its spread over the timing's turns where there were
 * several, and 'within the timing's noise' where a turn found no speed-up (speedUpInNoise), whatever the median (a
 * flat 1.00×, turns 0.89–1.12×, said nothing in report.html).
 */
export function speedUpText(l: CompactLatency): string {
  const x = l.denseMs / Math.max(1e-9, l.compactMs);
  const spread = l.speedUpRange ? `, ${l.speedUpRange.low.toFixed(2)}–${l.speedUpRange.high.toFixed(2)}× over ${l.speedUpRange.turns} turns` : '';
  return `${x.toFixed(2)}×${spread}${speedUpInNoise(l) ? ': within the timing\'s noise' : ''}`;
}

/** One target of a frontier run. */
/**
 * One class of a single-label classifier on the test rows: its rows, recall (of its rows, the share predicted as it) and
 * precision (of the rows predicted as it, the share that are), dense and pruned; null where there is nothing to divide by
 * (no row of the class; none predicted as it).
 */
export interface ReportClass {
  name: string; testRows: number; denseRecall: number | null; recall: number | null;
  /** Absent in reports written before 2026-12-08. */
  densePrecision?: number | null;
  precision?: number | null;
}

export interface ReportFrontierRow {
  target: number;
  /** Whether a step landed on it (a run that stops early, or jumps to the target with --force, skips the rest). */
  reached: boolean;
  /** Fraction of the prunable kernel weights zeroed, and of all the model's parameters. */
  sparsity?: number;
  sparsityOfAllParams?: number;
  valAccuracy?: number;
  testAccuracy?: number;
  /** Multiply-accumulates per sample of the prunable kernels, dense and live. */
  compute?: { dense: number; live: number; reduction: number; allKernels?: { dense: number; live: number; reduction: number } };
  /**
   * Fine-tuning optimizer steps that made this model: for a lower target, the run's steps before the branch that
   * reached it plus the branch's (docs/agent.md); for the final row, the run's own (its totals less the branches',
   * `totals.frontierSteps`, which made the lower targets' models).
   */
  fineTuneSteps?: number;
  /** Where its model/ and masks.json are, relative to the output folder ('' for the final row: the folder itself); absent when no folder was written. */
  path?: string;
  /** A lower target's model, single-label classification: each class's test recall and precision, dense and of this model (as `final.classes`). */
  classes?: ReportClass[];
  /**
   * Where the guard rejected the lower target's branch: this row is the nearest accepted model beyond the target — a higher
   * target's branch of the same step, else the crossing step's own state (`sparsity`, `compute` say how far) — and this
   * says what the branch lost and whose model the row is.
   */
  beyond?: string;
  /**
   * With `--compact`: what this row's compact model (`<path>compact/`, its `path` relative to the run folder as report.json's `compact.path`)
   * runs; the final row repeats report.json's `compact`. Each row's `predict` times are measured in a session of their own
   * (the same full-shape model timed 5.16 and 4.25 ms in two rows of a new user's run): each row's speed-up holds against
   * its own dense time; across rows compare MACs, and time the models side by side (scripts/compact-latency.mjs) for speed.
   */
  compact?: RunReport['compact'];
}

/** Contents of report.json. */
export interface RunReport {
  /** Always 'autoprune-report'. */
  format: typeof REPORT_FORMAT;
  /** Always REPORT_SCHEMA_VERSION. */
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  /** ISO 8601 time the run finished. */
  createdAt: string;
  /** autoprune package version that wrote the report. */
  autopruneVersion: string;
  /** Resolved run settings. */
  config: RunConfig;
  /**
   * What the model was trained for, and the metric every "accuracy" field of this report holds for it:
   * accuracy (classification), exact-match accuracy (multi-label: every label right), or R² (regression,
   * autoencoders: 1 − MSE / variance of the targets). Every run fills it; autoprune's own readers of a report.json
   * written before the field existed take its absence as classification.
   */
  /**
   * The task, and for a classifier the class name of each output in order (`classNames[i]` is output i: the
   * sorted label names, or `--label-order`), so the pruned model's outputs can be read.
   */
  /** `fineTuneLoss`: regression and autoencoders, the loss the fine-tunes minimised ('mse', or the model's own 'mae' / 'huber'). */
  /** `loss`: what the fine-tunes minimised and every "loss" figure of the run holds, in words (e.g. softmax outputs: the sum of binary log-losses, not Keras's cross-entropy). */
  task: { kind: string; metric: string; evidence: string; fineTuneLoss?: string; loss?: string; classNames?: string[] };
  /** Samples in each split of the data the run used (the guard reads val, the final figure test). */
  samples?: { train: number; val: number; test: number };
  /**
   * CSV data: the validation and test rows, as the file and the 1-based line of each row in it (the split's order), so
   * that the guard's and the test figures can be recomputed from the written model (README: "Your own model and data").
   */
  rows?: { val: { file: string; lines: number[] }; test: { file: string; lines: number[] } };
  /** A CSV: the columns fed to the model (in order) and the target column(s) it was judged on — header names, or 'column J' (0-based file index) for a file without a header row. */
  columns?: { inputs: string[]; targets: string[] };
  /**
   * The standardization the inputs got (--standardize): the pruned model expects (value − mean) / std per input
   * column (std 0: a constant column, fed as 0), the training rows' figures.
   */
  standardization?: { columns: string[]; mean: number[]; std: number[] };
  /** Backend used. */
  backend: ReportBackend;
  /** Policy used. */
  policy: ReportPolicy;
  /** The unpruned model. */
  dense: ReportDense;
  /** The pruned model. */
  final: ReportFinal;
  /** Per-layer sparsity of the final model, input side first. */
  layers: ReportLayer[];
  /** Every pruning attempt, in order. */
  steps: ReportStep[];
  /** Sums over the steps. */
  totals: ReportTotals;
  /** How the accuracy guard judged (absent in reports written before it was recorded). */
  guard?: ReportGuard;
  /**
   * The accuracy–sparsity frontier of a run with lower targets (`frontier` option, `--targets`): one row per
   * target, ascending, the last the run's own final state. Lower targets are the accepted state the run
   * reached on its way (fine-tuned by their step, not polished); their files are under `frontier/<target>/`.
   */
  frontier?: ReportFrontierRow[];
  /**
   * With `--compact` (API `compact: true`): what the compact model written to `compact/` runs, next to the masked model's
   * live-weight count of `final.compute`. Only whole units leave the model: at connection or hierarchical granularity the
   * zeros inside kept units still cost their multiply-accumulates, so `macs.compact` is what serving it saves. The figures
   * count the prunable kernels; `macs.allKernels` (where the run left kernels out: frozen, `--exclude`d) counts every kernel.
   */
  compact?: {
    /** The compact model's folder relative to the run folder: 'compact/' (a frontier row's 'frontier/<t>/compact/'); the `compact` event gives it absolute. */
    path: string; paramsBefore: number; paramsAfter: number; macs: { dense: number; live: number; compact: number; reduction: number; allKernels?: { dense: number; compact: number; reduction: number } };
    /** `predict` timed at `batch` samples a call on the machine of the run: the pruned model at full shape and the compact model, median ms (a measurement, not a claim). */
    latency?: CompactLatency;
  };
  /**
   * The polish (the fine-tune at the final sparsity with the rest of the budget), where one ran: `kept` its best
   * round, or undone (the final model is the last accepted step's), with the losses compared and why (`message`).
   * Its optimizer steps count in `totals` either way.
   */
  polish?: { kept: boolean; steps: number; valLossBefore: number; bestValLoss: number | null; bestRound: number | null; message: string };
  /** Every warning the run gave (the console's "warning:" lines), in order. */
  warnings?: string[];
  /**
   * Wall seconds per phase, by key: `load` (model and data), `denseTraining` (the built-in model's first training, a
   * cache miss only), `control` (the guard's fine-tuned dense control), `features`
   * (feature extraction and the policy's scores; `scoring` separately only for a custom extractor that does not score),
   * `prune` (choosing and masking connections), `evaluate` (validation, test and the criterion checks' forward passes),
   * `fineTune`, `checkpoint` (saving the resumable state), `write` (the output folder; absent without `out`), `compact`
   * (with `--compact`: the compact models, their checks against the pruned model and their timing), `latency` (with
   * `--objective latency`: timing the model and its probes for the cost table) and
   * `total` (the run's wall time, not the sum: the phases leave small gaps). A resumed run counts
   * its earlier sessions' work up to the checkpoint it resumed from as well (total: their agent time plus this
   * session's), so the figures are the run's cost, not only the last session's.
   */
  phases: Record<string, number>;
}

/** Whether the final model holds the guard (its paired drop within what is allowed); true without a guard record. */
export function guardHeld(r: Pick<RunReport, 'guard'>): boolean {
  const g = r.guard;
  return !g || g.finalAllowedDrop == null || g.finalDrop <= g.finalAllowedDrop + 1e-9;
}

/** The lowest validation accuracy the guard accepts, as a fraction: dense − maxDrop points. */
export function guardAccuracy(report: Pick<RunReport, 'dense' | 'config' | 'guard'>): number {
  // The guard is paired against a control: for a chart line, the control's accuracy less the drop allowed at the end.
  const g = report.guard;
  if (g?.controlValAccuracy != null && g.finalAllowedDrop != null) return g.controlValAccuracy - g.finalAllowedDrop;
  return report.dense.valAccuracy - report.config.maxDrop / 100;
}

/** A relative change in percent, signed: +25.2 %, −3.0 %, ±0.0 % (one decimal below 100 %, none from there); — where not finite. */
export function relativeChange(r: number): string {
  if (!Number.isFinite(r)) return '—';
  const p = 100 * r;
  // The decimals from the rounded figure: −99.96 % is −100 %, as −100 % is.
  const text = Math.abs(p) >= 99.95 ? Math.abs(p).toFixed(0) : Math.abs(p).toFixed(1);
  return `${/^0(\.0)?$/.test(text) ? '±' : p > 0 ? '+' : '−'}${text} %`;
}
