/**
 * Events of a pruning run. The same objects reach `onEvent` callbacks and the CLI's `--json` lines.
 */
import type { CompactLatency, StopReason } from '../report/report.js';
import type { Rewrite } from '../pruning/rewrite.js';
import type { Objective } from '../pruning/prunable-model.js';
import type { Granularity } from './granularity.js';
export type AgentEvent =
  | StartEvent
  | StepEvent
  | RollbackEvent
  | CheckpointEvent
  | EpochEvent
  | PhaseEvent
  | CompactEvent
  | DoneEvent
  | WarningEvent
  | BudgetEvent
  | PolishEvent
  | FrontierEvent
  | ErrorEvent;

/** Something the user should know that does not stop the run (e.g. labels that may be in another order). */
export interface WarningEvent {
  type: 'warning';
  message: string;
}

/**
 * A frontier run (`--targets`, API `frontier`) reached one of its lower targets and kept that state (written to
 * `frontier/<target>/` at the end, and a row of report.json `frontier`).
 */
export interface FrontierEvent {
  type: 'frontier';
  target: number;
  /** Fraction of the prunable kernel weights removed in the kept state. */
  sparsity: number;
  /** Fraction of the prunable kernels' multiply-accumulates removed in the kept state: what the target counts with objective 'flops'. */
  computeRemoved?: number;
  valAccuracy: number;
  testAccuracy: number;
  /** Optimizer steps that made this state: the run's before the branch that reached it, plus the branch's. */
  fineTuneSteps: number;
  /**
   * Set where the guard rejected the target's branch: the state kept is then the crossing step's own, beyond the target
   * (`sparsity` / `computeRemoved` say how far), and `fineTuneSteps` the run's up to that step. What the branch lost and
   * what the guard allowed, as fractions; `branch`: the state kept is instead a higher target's branch of the same step, the
   * nearest accepted model beyond this target.
   */
  beyond?: { drop: number; allowed: number; branch?: number };
}

/**
 * The polish (the fine-tune at the final sparsity with the rest of the budget) ended: its best validation round
 * kept, or the polish undone, the model being as the last accepted step left it (its steps count in the totals
 * either way). Also report.json `polish`.
 */
export interface PolishEvent {
  type: 'polish';
  kept: boolean;
  /** Optimizer steps it ran. */
  steps: number;
  /** Validation loss before it, and of its best round (null: no round was judged). */
  valLossBefore: number;
  bestValLoss: number | null;
  /** The round whose weights the polish ended with (0-based, as the epoch events' `epoch`), or null. */
  bestRound: number | null;
  /** Why, in words: the losses compared, or the guard it broke. */
  message: string;
}

/**
 * The default fine-tuning budget was extended (src/agent/budget.ts extendBudget; docs/agent.md "Budget"): it ran out short
 * of the target after an accepted step (once, on small data again), or, on small data, a fine-tune at the target (the
 * polish, the last try) was still improving when it ran out. `message` says which. A budget the user set is never extended.
 */
export interface BudgetEvent {
  type: 'budget';
  /** The whole run's budget now, in optimizer steps (what report.json `config.budgetSteps` will say). */
  budgetSteps: number;
  /** Extensions so far (1, 2, …: docs/agent.md, "Budget"). */
  extensions: number;
  /** Sparsity reached when the budget ran out. */
  sparsity: number;
  /** Optimizer steps used so far. */
  totalSteps: number;
  message: string;
}

export interface StartEvent {
  type: 'start';
  target: number;
  /** What target and sparsities count: 'params' (weights), 'flops' (multiply-accumulates) or 'latency' (predicted serving time). */
  objective: Objective;
  /** What a step removes: single connections, whole units, or both (`--granularity`). */
  granularity?: Granularity;
  /** Objective 'latency': the model's time per predict call of `batch` samples, timed at the start (the target's 100 %). */
  latency?: { batch: number; denseMs: number };
  /** Largest accepted validation-accuracy drop, in percentage points. */
  maxDrop: number;
  /** The policy's name (a policy file's own, from inside it). */
  policy: string;
  /** The file it was read from, where the policy was given by a path (its name alone did not say which file). */
  policyFile?: string;
  /**
   * Where the model has layers outside the policy's domain (the layers it was trained on; src/policy/domain.ts): what the
   * run scores with instead ('X@0.25+lamp': LAMP's allocation, the policy's order as a bounded correction), and those layers.
   */
  scoredAs?: string;
  outsideDomain?: { layer: string; why: string }[];
  backend: string;
  native: boolean;
  prunable: number;
  /** What every accuracy field of the run's events holds: 'accuracy', 'exact-match accuracy' or 'R²' (models/task.ts). */
  metric?: string;
  /** What every loss field of the run's events holds (the loss fine-tuning minimises), in words (lossName). */
  loss?: string;
  denseValAccuracy: number;
  /**
   * Dense validation accuracy − maxDrop: indicative only. The guard is paired, row for row, against its reference (the
   * dense model or a fine-tuned control) with a noise allowance (docs/agent.md, "Guard"), so an accepted run can end
   * below this figure; `rollback` events give the guard's own `drop` and `allowedDrop`.
   */
  floor: number;
  /** Sparsity the run starts from (> 0 when resuming, or where the model as given was pruned before). */
  sparsity: number;
  /**
   * Where the model as given was pruned before (its own zeros, which stay zero): its sparsity in the target's measure
   * (compute removed for 'flops'), also on a resume, whose `sparsity` is the checkpoint's. "Dense" figures are that model's.
   */
  given?: number;
  resumed: boolean;
  /** Validation rows the guard compares on, and what one row is worth in accuracy points. */
  valRows?: number;
  pointsPerRow?: number;
  /** All the model's parameters, and the layers with weights that are left dense (what `prunable` is a part of). */
  params?: number;
  untouched?: { name: string; className: string; params: number; reason: string }[];
  /** With `--objective flops`: the layers whose units cannot be removed (compaction could not take them out), and why. */
  unitsKept?: { layer: string; reason: string }[];
  /** Fine-tuning budget of the run in optimizer steps, and the batch size. */
  budgetSteps?: number;
  batchSize?: number;
  /**
   * Where the budget came from: 'default' (sized to the data; extended while a run still improves, each extension a
   * `budget` event), or the caller's 'steps' / 'epochs' (a limit, never extended).
   */
  budgetSource?: 'epochs' | 'steps' | 'default';
  /** Distillation from the model as given in every fine-tune (AgentOptions.distill), when on. */
  distill?: { weight: number; temperature: number };
  /**
   * Class weights (AgentOptions.classWeight), when given: as given ('balanced' or each class's weight by name) and the
   * weight each class's training rows get (mean 1 over the rows), by class name. `metric` then names the weighted figure.
   */
  classWeight?: { given: 'balanced' | Record<string, number>; training: Record<string, number> };
}

/** An accepted step. */
export interface StepEvent {
  type: 'step';
  step: number;
  fromSparsity: number;
  toSparsity: number;
  valAccuracy: number;
  fineTuneEpochs: number;
  /** Fine-tuning epochs used so far in the run (accepted and rolled-back steps). */
  totalEpochs: number;
  /** Optimizer steps of this step's fine-tune. */
  fineTuneSteps?: number;
  /** Optimizer steps used so far in the run (the budget's unit). */
  totalSteps?: number;
  seconds: number;
  /** Why this step is not an ordinary one, when it is not (e.g. the last try at the target once the budget ran out). */
  reason?: string;
}

/** A step whose fine-tuned accuracy broke the guard; the model is back at its last checkpoint. */
export interface RollbackEvent {
  type: 'rollback';
  step: number;
  fromSparsity: number;
  toSparsity: number;
  valAccuracy: number;
  /** The control's validation accuracy minus the allowed drop (the guard is paired, so this is indicative). */
  floor: number;
  /** The guard's paired drop below its reference, and what it allowed (fractions). */
  drop?: number;
  allowedDrop?: number;
  /** Validation accuracy of the guard's reference (see `reference`). */
  controlValAccuracy?: number;
  /**
   * The guard's reference: 'control' (the dense model fine-tuned like one step, unpruned) or 'dense' (the
   * model as given), whichever scores lower on validation.
   */
  reference?: 'control' | 'dense';
  /**
   * Set when the step was refused because the pruned classifier scored no better than always answering the most
   * common class (this share of the validation rows), however small its drop: it had stopped predicting the others.
   */
  collapsedTo?: number;
  fineTuneEpochs: number;
  /** Optimizer steps of this step's fine-tune, as on `step`. */
  fineTuneSteps?: number;
  totalEpochs: number;
  /** Optimizer steps used so far in the run, this step's included. */
  totalSteps?: number;
  /** What the agent tries next. */
  next: string;
  /** Why the guard refused it (its drop against the allowance, or the collapse to one class), as report.json's step record says, and any note on the step (the run's first step; a longer fine-tune before the verdict). */
  reason: string;
  seconds: number;
}

export interface CheckpointEvent {
  type: 'checkpoint';
  step: number;
  sparsity: number;
  path: string;
}

/** `--compact`: the physically smaller model written beside the pruned one. */
export interface CompactEvent {
  type: 'compact';
  /** Folder of the compact model. */
  path: string;
  /** With --targets: the lower target whose folder (frontier/<target>/) this compacted; absent for the run's own model. */
  target?: number;
  /** All weights before and after compaction. */
  paramsBefore: number;
  paramsAfter: number;
  /** Units/filters removed per prunable layer, input side first, and how many each layer had. */
  unitsRemoved: number[];
  unitsBefore?: number[];
  /** The layers `unitsRemoved` counts for, in the same order (paths through nested models). */
  layers?: string[];
  /** Layers compaction left intact (branches, shared layers, unsupported types), and why. */
  skipped: { layer: string; reason: string }[];
  /** The serving rewrites made to the compact model (same outputs; src/pruning/rewrite.ts: batch norms folded, one-channel maps), with the MACs per sample of the layers replaced and of their replacement. */
  rewrites?: Rewrite[];
  /**
   * Largest |difference| of each stored form's outputs (the compact model; model.sparse; model.int8.sparse) to the
   * pruned model's, on `probeInputs` (the run's validation rows, up to 256).
   */
  maxAbsDiff?: { compact: number; sparse: number; sparseInt8?: number };
  /** Probe rows whose predicted class (highest output) the int8 file changes, for a single-label classifier. */
  int8ClassChanges?: { rows: number; of: number };
  /** One-channel maps `autoprune compact --serving-batch 256` would also rewrite (they pay from 128 samples a call). */
  largeBatchRewrites?: number;
  probeInputs?: string;
  /** Multiply-accumulates per sample of the kernels the compact model runs (its own shapes, zeros inside kept units included), and the dense model's. */
  compactMacs?: number;
  denseMacs?: number;
  /** Where kernels were left out (frozen, excluded): every kernel's MACs, the dense model's and the compact model's. */
  allKernelsMacs?: { dense: number; compact: number };
  /** `predict` timed on this machine at `batch` samples a call, the pruned model at full shape and the compact model: median ms (report.json `compact.latency`). */
  latency?: CompactLatency;
}

/**
 * One validation round of a training (for progress displays): of a pruning step's fine-tune, of the final
 * polish, or an epoch of the default dense model. A fine-tune's round is `roundSteps` optimizer steps (one pass
 * over the training split, at least 50 steps): on small tables a round is several epochs.
 */
export interface EpochEvent {
  type: 'epoch';
  /** 'fine-tune': a pruning step's (`step`); 'polish': the last fine-tune at the final sparsity (`step` is the last step taken); 'dense': training the built-in default model on first use (cached afterwards; one round = one epoch on MNIST-10k, on a CSV a round of the fine-tuning budget's rule: see defaultModelTraining); 'control': the dense model fine-tuned like one step, unpruned, before `start` (the guard's reference; `step` 0; its weights are put back after). */
  phase?: 'fine-tune' | 'polish' | 'dense' | 'control';
  /** Planned rounds of this training (at most: fine-tunes and the polish stop early when validation loss stops falling). */
  epochs?: number;
  step: number;
  /** The round's index in this training, from 0 (for 'dense': the epoch). */
  epoch: number;
  /** Optimizer steps of a full round (fine-tune and polish); the last round of a training runs what is left of `steps`, which may be fewer. */
  roundSteps?: number;
  /**
   * Planned optimizer steps of this training (fine-tune, polish, and the built-in model's on a CSV; a fine-tune continued for a step still recovering
   * counts its first part too): a progress display's denominator. At most: trainings stop early when validation loss stops falling.
   */
  steps?: number;
  /**
   * A frontier run's branch (`--targets`): the lower target this fine-tune reaches from the state before step
   * `step`, on top of the budget; absent on the run's own path.
   */
  branch?: number;
  loss: number;
  valAccuracy?: number;
  /** The round's validation loss (fine-tunes and the polish keep the round with the lowest). */
  valLoss?: number;
}

/**
 * A phase of work begins: 'control' before the run's `start` (the dense model fine-tuned like one step, unpruned, for the
 * guard's reference; not on a resume: the checkpoint has it), 'step' as each pruning step begins its scoring (its `step`
 * or `rollback` event comes at its end), 'polish' as the final fine-tune begins. Training phases' rounds follow as `epoch`
 * events. (A large model's step began with half a minute of silence: scoring and its first round.)
 */
export interface PhaseEvent {
  type: 'phase';
  phase: 'control' | 'step' | 'polish';
  /** Planned optimizer steps (at most: training stops early when validation loss stops falling) and their batch; a step's are known once it is scored (absent). */
  steps?: number;
  batchSize: number;
  /** 'step': its number, and what it prunes to in the run's objective (sparsity, or the fraction of compute or time removed). */
  step?: number;
  to?: number;
  /** 'step' of a frontier run's branch (`--targets`): the lower target it prunes to, from the state before step `step` (as its `epoch` events say). */
  branch?: number;
}

export interface DoneEvent {
  type: 'done';
  /** Fraction of the prunable kernel weights removed. */
  sparsity: number;
  /** Fraction of all the model's parameters removed (the prunable kernels are `prunableFraction` of them). */
  sparsityOfAllParams?: number;
  prunableFraction?: number;
  valAccuracy: number;
  testAccuracy: number;
  denseTestAccuracy: number;
  targetReached: boolean;
  /** Why the run ended where it did: target, forced, guard, budget or stalled (see StopReason). */
  stopReason?: StopReason;
  exitCode: number;
  /** With exit 3: what to do about it (report.json `final.advice`). */
  advice?: string;
  /** With exit 3: the advice's first suggestion as options and flags (report.json `final.retry`). */
  retry?: { options: { budgetSteps?: number; maxDrop?: number; force?: true }; flags: string[] };
  /** Multiply-accumulates per sample of the prunable kernels, dense and live (report.json `final.compute`). */
  compute?: { dense: number; live: number; reduction: number; allKernels?: { dense: number; live: number; reduction: number } };
  /** Regression and autoencoders: the test error in the targets' own units, dense and pruned (report.json `final.testErrors`). */
  testErrors?: { metric: 'rmse' | 'mse'; values: { name: string; dense: number; pruned: number }[] };
  /** Classification: each class's test recall, dense and pruned (report.json `final.classes`). */
  classes?: { name: string; testRows: number; denseRecall: number | null; recall: number | null }[];
  /** Multi-label: each label's test recall of its positive rows, dense and pruned (report.json `final.labels`). */
  labels?: { name: string; testPositives: number; denseRecall: number | null; recall: number | null }[];
  /** Several regression targets: each one's test R², dense and pruned (report.json `final.targets`). */
  targets?: { name: string; denseTestR2: number; testR2: number }[];
  totalEpochs: number;
  seconds: number;
  /** Output folder, when outputs were written. */
  out?: string;
}

export interface ErrorEvent {
  type: 'error';
  message: string;
  exitCode: number;
}

export type EventSink = (e: AgentEvent) => void;
