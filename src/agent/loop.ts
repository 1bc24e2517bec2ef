import { lossName, metricName, taskOf } from '../models/task.js';
import { tf } from '../backend/tf.js';
import { collectGarbage } from '../util/gc.js';
import type * as TF from '@tensorflow/tfjs';
import { disposeSplit, headOf, type Dataset } from '../data/dataset.js';
import { classWeightsForTask, classWeightsOf, describeClassWeights, weightedMetricName, withClassWeights, type ClassWeights, type ClassWeightSpec } from '../data/class-weight.js';
import { abortedError, UsageError } from '../errors.js';
import { extractScored, scoreLayerWith } from '../features/extract.js';
import type { ConnectionFeatures } from '../features/types.js';
import type { Scorer } from '../policy/types.js';
import { correctedPrior, CORRECTION_WEIGHT, transplant } from '../policy/allocated.js';
import { lampPruneOrdered, lampScorer } from '../policy/baselines.js';
import { domainOf, outsideDomain } from '../policy/domain.js';
import type { ReportStep, StopReason } from '../report/report.js';
import type { FeatureExtractor } from '../services.js';
import { cloneSnapshot, disposeSnapshot, progressName, prunesCompute, PrunableModel, type ComputeReport, type LatencyProfile, type LatencyReport, type Objective, type Snapshot, type SparsityReport } from '../pruning/prunable-model.js';
import { measureLatencyProfile } from '../pruning/latency-profile.js';
import { defaultKeepFraction, mostByConnections, PRUNE_BY_SCORES_DEFAULTS } from '../pruning/select.js';
import { cosineFraction, type RegrowSchedule } from '../pruning/regrow.js';
import { checkObjective, checkUnitsRemovable, checkZerosInsideUnits, pruneStep, SCATTERED_ZEROS_MAX, unitsKeptFor, zerosCompactionKeeps, type Granularity } from './granularity.js';
import { accuracy, evaluate, rowLosses, stillImproving, teacherTargets, trainAsync, withDefaults, type TrainOptions, type TrainResult } from '../models/train.js';
import { EXTENSION_SAMPLES, extendBudget, resolveBudget, type FineTuneBudget } from './budget.js';
import { clearlyLower as pairedClearlyLower } from '../util/paired.js';
import { GUARD_Z, judge, majorityShare, resolution, withCollapseCheck, withinReach, type GuardVerdict } from './guard.js';
import { Checkpointer, type AgentState, type RunIdentity } from './checkpoint.js';
import type { AgentEvent, PolishEvent } from './events.js';
import { afterAccept, afterRollback, nextSparsity, PLANNER_DEFAULTS, type PlannerOptions } from './planner.js';

export interface AgentOptions {
  /** Target global sparsity in (0, 1). */
  target: number;
  /** Largest accepted drop of validation accuracy below the dense model, in percentage points. Default 1. */
  maxDrop?: number;
  /** Reach the target even when the guard cannot be held (the drop is reported). Default false. */
  force?: boolean;
  /** Seed of fine-tuning batch order and calibration. Default 0. */
  seed?: number;
  /**
   * Fine-tuning budget of the whole run in passes over the training split (rolled-back steps count);
   * converted to optimizer steps. Default: see `budgetSteps`.
   */
  budgetEpochs?: number;
  /**
   * Fine-tuning budget of the whole run in optimizer steps (wins over `budgetEpochs`). Default: 60,000
   * samples seen within 15–60 epochs, at least 900 steps (resolveBudget).
   */
  budgetSteps?: number;
  /** Fine-tuning batch size. Default: from the training split's size (16–128, ~32 steps per epoch). */
  batchSize?: number;
  /**
   * Share of the budget kept for the fine-tune at the final sparsity (where accuracy is decided);
   * the steps spend the rest. Default 0.3.
   */
  finalReserve?: number;
  /**
   * Most fine-tuning rounds after one pruning step (a round is an epoch, at least 50 optimizer steps);
   * fewer when validation stops improving. Default 2.
   */
  maxStepEpochs?: number;
  /**
   * A step the guard refuses by no more than its noise cap (two validation rows; maxDrop for continuous metrics)
   * while its fine-tune's last round was still its best (validation loss still falling) gets up to this many more
   * rounds (patience 1) before the verdict, from the steps' budget. 0: none. Default 2 (docs/agent.md, "A step still
   * recovering is judged after more rounds").
   */
  recoverRounds?: number;
  /** Samples of the training split used to compute features. Default 1024. */
  calibrationSamples?: number;
  /**
   * Re-scored increments in which one step's connections are pruned, on a cubic schedule over the first half of
   * its fine-tune (gradual pruning inside the step). 1 prunes the step at once. Default 4.
   */
  increments?: number;
  /**
   * Each scoring pass prunes by plain magnitude instead of the policy's scores when magnitude leaves clearly
   * lower per-row losses on the calibration rows right after pruning (paired, > GUARD_Z standard errors; two
   * forward passes, no optimizer step). Default true.
   */
  magnitudeCheck?: boolean;
  /**
   * Experimental (docs/oracle.md, "order + allocation"): the per-pass check also tries the policy's order inside
   * each layer with LAMP's allocation across layers, taken when its calibration losses are clearly lower than
   * the policy's own. Default false: +0.2 points on MNIST on average, −0.2 and more exit 3 on the small tables.
   */
  allocationCheck?: boolean;
  /**
   * Whether a learned policy's recorded domain (`provenance.domain`: the kinds, fan-ins and units of the layers it was
   * trained on) decides how it is used: on a model with a layer outside it, LAMP allocates across layers and the policy's
   * ranks are mixed into LAMP's at weight 0.25 inside each, as `X@0.25+lamp` (docs/agent.md, "Outside the policy's
   * domain"). Default true; false scores with the policy as given wherever the model lies.
   */
  policyDomain?: boolean;
  /**
   * Class weights (single-label classification), as the model was trained with Keras' `classWeight` or oversampled rows:
   * every fine-tune draws its batches by them (data/class-weight.ts, train.ts weightedOrder) and every figure of the run
   * — the guard's, the validation and test accuracies — weighs each split's rows by them: with 'balanced' they are
   * balanced accuracy (the mean recall over the classes). Fine-tuning on the plain rows pulls such a model toward its
   * common classes, and accuracy does not show it. Default: none (every row alike).
   */
  classWeight?: ClassWeightSpec;
  /** Where the policy was given by a path, that file: said beside its name in the start event. */
  policyFile?: string;
  /**
   * Re-score every increment (true) or prune the later increments by the step's first scores (false: one scoring
   * pass per step). Default: true below RESCORE_MAX_WEIGHTS prunable weights, false from there on, where a pass
   * costs seconds and four per step would be most of a step's feature work (docs/agent.md, docs/benchmarks.md scale).
   */
  rescore?: boolean;
  /** Step-size adaptation. */
  planner?: PlannerOptions;
  /** Folder for resumable checkpoints (written after every accepted step). */
  checkpointDir?: string;
  /** Continue from the checkpoint in `checkpointDir`. */
  resume?: boolean;
  /** What this run is (settings, input hashes): saved with each checkpoint; a resume of another run is refused. */
  identity?: RunIdentity;
  signal?: AbortSignal;
  onEvent?: (e: AgentEvent) => void;
  /** Feature extraction (default: extractFeatures on `calibrationSamples` training samples). */
  extractor?: FeatureExtractor;
  /** What a step removes: connections (default), whole units/filters, or hierarchical (units, then connections). */
  granularity?: Granularity;
  /** Glob patterns of kernels never to prune (see PrunableModel); they stay dense and are listed as excluded. */
  exclude?: readonly string[];
  /**
   * Lower targets to record on the way (a frontier in one run): a step that crosses one is followed by a branch
   * from the state before it to exactly that target (a step's fine-tune, on top of the budget), and the accepted
   * state there is kept in `AgentResult.milestones` (weights and masks, its validation and test metric).
   */
  milestones?: readonly number[];
  /**
   * What `target` counts: 'params' (fraction of prunable weights, default), 'flops' (fraction of their
   * multiply-accumulates; unit granularity only) or 'latency' (fraction of the model's serving time, predicted from a
   * cost table measured at the start: measureLatencyProfile; unit granularity only). Step records' sparsities then
   * count the same.
   */
  objective?: Objective;
  /** Objective 'latency': the samples per `predict` call to time at (default 32), unless `latencyProfile` is given. */
  servingBatch?: number;
  /** Objective 'latency': a cost table measured earlier on this model (measureLatencyProfile) instead of a new one. */
  latencyProfile?: LatencyProfile;
  /**
   * The polish at the final sparsity multiplies the learning rate by `lrDecay` after each validation round without
   * a gain and stops after `patience` such rounds in a row (reduce on plateau). Default 0.3 and no limit: it runs
   * to the end of the budget, keeping its best round (docs/agent.md). `tieZ` (TrainOptions.tieZ, default GUARD_Z): a
   * round above the best by no more than that many standard errors, paired on the validation rows, is a tie, not a
   * plateau (no learning-rate cut). The last try at the target fine-tunes the same way.
   */
  polish?: { lrDecay: number; patience: number; tieZ?: number };
  /**
   * Regrowth in the fine-tunes at the final sparsity (polish, forced fine-tune; connection granularity): every `every`
   * optimizer steps over the first `until` share of the fine-tune, each kernel swaps a cosine-decaying share (from
   * `alpha`) of its live weights, smallest |w| out, largest |gradient| back in (src/pruning/regrow.ts). `false`: none.
   */
  regrow?: false | { alpha: number; every: number; until: number };
  /**
   * Knowledge distillation in every fine-tune (the control's too), single-label classification only: the targets are
   * `(1 − weight)·labels + weight·teacher`, the teacher being the model as given (its class probabilities on the
   * training split, softened by `temperature`), computed once before pruning. Default: DISTILL_DEFAULT at unit
   * granularity (whole units removed: measured on LeNet-300-100 at 90 % of compute removed, +0.7 points of test accuracy
   * over 3 seeds, docs/agent.md), off at connection and hierarchical granularity (not measured there).
   */
  distill?: false | { weight: number; temperature: number };
  /** Backend name for the start event. */
  backend?: { name: string; native: boolean };
}

/** Distillation at unit granularity (AgentOptions.distill): half labels, half the given model's temperature-4 probabilities. */
export const DISTILL_DEFAULT = Object.freeze({ weight: 0.5, temperature: 4 });

export const AGENT_DEFAULTS = Object.freeze({
  maxDrop: 1, force: false, seed: 0, finalReserve: 0.3, maxStepEpochs: 2, recoverRounds: 2, calibrationSamples: 1024, increments: 4, magnitudeCheck: true,
  polish: Object.freeze({ lrDecay: 0.3, patience: Number.POSITIVE_INFINITY, tieZ: GUARD_Z }),
});

/** What the polish did (AgentResult.polish, report.json `polish`). */
export type PolishRecord = Omit<PolishEvent, 'type'>;

/** One pruning attempt, accepted or rolled back (the report's step record). */
export type StepRecord = ReportStep;

export interface AgentResult {
  sparsity: SparsityReport;
  /** The sparsity of the model as given (a fraction of the prunable kernel weights), where it was pruned before. */
  givenSparsity?: number;
  /** Multiply-accumulates per sample of the prunable kernels, dense and after pruning. */
  compute: ComputeReport;
  /** Objective 'latency': the cost table the run counted with, and the serving time it predicts now (to verify with compaction). */
  latency?: { profile: LatencyProfile; final: LatencyReport };
  /** Whole-unit pruning: the layers whose units it cannot remove (compaction would keep them), and why. */
  unitsKept?: { layer: string; reason: string }[];
  denseValAccuracy: number;
  denseTestAccuracy: number;
  valAccuracy: number;
  testAccuracy: number;
  targetReached: boolean;
  /** Why the loop ended (see StopReason). */
  stopReason: StopReason;
  /** 0 target reached (within the guard, or forced); 3 stopped before it (see stopReason). */
  exitCode: 0 | 3;
  steps: StepRecord[];
  /** Sums over the run; `scoringPasses` counts feature + policy passes (a gradual step has several, see `increments`). */
  totals: {
    fineTuneEpochs: number; fineTuneSteps: number; accepted: number; rolledBack: number; scoringPasses: number;
    /** Whether a step's later increments were re-scored (`rescore`, as resolved for this model's size). */
    rescored: boolean;
    /** Scoring passes that pruned by the policy's scores / by plain magnitude (clearly lower loss right after pruning). */
    criteria: { policy: number; magnitude: number; lampAllocation?: number };
    /** Of fineTuneSteps, the frontier branches' (on top of the budget); only with milestones. */
    frontierSteps?: number;
    /** The guard's control's optimizer steps: not in fineTuneSteps, not from the budget (report.json totals.controlSteps). */
    controlSteps?: number;
  };
  /**
   * Set where the model has layers outside the policy's domain (AgentOptions.policyDomain): the scorer the run pruned with
   * instead of the policy as given ('X@0.25+lamp'), and those layers with why.
   */
  policyDomain?: { scoredAs: string; outside: { layer: string; why: string }[] };
  /** The fine-tuning budget and batch size used. */
  budget: FineTuneBudget;
  /** The distillation the fine-tunes used (AgentOptions.distill), or false (off, or a task without class probabilities). */
  distill: false | { weight: number; temperature: number };
  /** The class weights the run used (AgentOptions.classWeight), as given ('balanced') or each class's by name; absent: none. */
  classWeight?: 'balanced' | Record<string, number>;
  /** The name of the figures' metric: the task's (metricName), or balanced / class-weighted accuracy under class weights. */
  metric: string;
  /** The guard as it judged: validation rows, what one row is worth, and the final paired comparison. */
  /** controlValAccuracy: the reference's (the lower of the dense model and the control); fineTunedControlValAccuracy: the control's own. */
  guard: { valRows: number; pointsPerRow: number; maxDrop: number; z: number; controlValAccuracy: number; fineTunedControlValAccuracy?: number; reference: 'control' | 'dense'; final: GuardVerdict };
  /** Seconds per phase, over every session of a resumed run (see AgentState.phases). */
  phases: Record<string, number>;
  /** Wall seconds of the earlier sessions of a resumed run, up to the checkpoint it resumed from (0 otherwise). */
  earlierSeconds: number;
  masks: PrunableModel;
  /** The states recorded at `milestones` that steps reached (ascending); the caller owns their snapshots. */
  milestones: Milestone[];
  /** The polish at the final sparsity, where one ran: kept or undone, and why (the PolishEvent's fields). */
  polish?: PolishRecord;
}

/** Prunable weights from which the agent collects garbage after every scoring pass (util/gc.ts). */
const LARGE_MODEL_WEIGHTS = 1_000_000;
/**
 * Prunable weights from which a step's later increments are pruned by its first scores (`rescore` left unset):
 * one scoring pass per step instead of `increments`. Every benchmark model of the repo is below it, so their
 * figures are the re-scoring agent's; forcing one pass on LeNet-300-100 cost 0.34 points at 0.98 and nothing at
 * 0.95 (docs/agent.md).
 */
export const RESCORE_MAX_WEIGHTS = 1_000_000;

/** −|w| of the live connections `feats` lists (gathered on the device: no host copy of whole kernels). */
function magnitudeScores(pm: PrunableModel, feats: ConnectionFeatures): Float32Array[] {
  return feats.layers.map((lf) => {
    const t = tf.tidy(() => tf.neg(tf.abs(tf.gather(tf.reshape(pm.layers[lf.layer].kernel, [-1]), tf.tensor1d(lf.indices, 'int32')))));
    const out = t.dataSync() as Float32Array;
    t.dispose();
    return out;
  });
}

/**
 * The first step's rate: the planner's initial rate, halved for a model with recurrent kernels (LSTM, GRU,
 * SimpleRNN), whose pruning damage compounds over the time steps and recovers slowly (docs/agent.md: an
 * Embedding + LSTM classifier rolled back its 80 % first step at −50 points and ran out of budget at 55 %;
 * with the halved first step it reaches 80 %).
 */
function firstRate(pm: PrunableModel, plan: Required<PlannerOptions>): { rate: number; note?: string } {
  const recurrent = [...new Set(pm.layers.filter((l) => l.role === 'recurrent_kernel').map((l) => l.layer.name))];
  if (recurrent.length === 0) return { rate: plan.initialRate };
  const rate = plan.initialRate / 2;
  return { rate, note: `first step at a rate of ${rate} of the live weights (not ${plan.initialRate}): recurrent kernels (${recurrent.join(', ')}) lose more to a deep first step` };
}

/**
 * A scoring pass's features (indices of the connections scored), the scores it gave them, and the criterion
 * its pruning followed (the policy, or plain magnitude where the check found it clearly better).
 */
type Scored = { feats: ConnectionFeatures; scores: Float32Array[]; criterion?: 'policy' | 'magnitude' };

/**
 * The scorer a run prunes with: `given`, or — where `given` records a domain (src/policy/domain.ts) and a prunable layer
 * lies outside it — LAMP's allocation across layers with `given`'s ranks mixed into LAMP's at weight 0.25 inside each
 * layer (ONE_SHOT_POLICY's combination), and the layers outside with why.
 */
export function withinDomain(given: Scorer, pm: PrunableModel, use = true): { scorer: Scorer; outsideDomain?: { layer: string; why: string }[] } {
  const domain = use ? domainOf(given) : undefined;
  if (!domain) return { scorer: given };
  const outside = outsideDomain(domain, pm.layers.map((l) => ({ name: l.name, kind: l.kind, conv: l.conv, fanIn: l.fanIn, fanOut: l.units, gates: l.gates })));
  if (outside.length === 0) return { scorer: given };
  return { scorer: correctedPrior(given, lampScorer(), CORRECTION_WEIGHT), outsideDomain: outside };
}

/** `s` restricted to the connections whose masks are still 1 (indices, scores and any feature columns alike). */
function stillLive(pm: PrunableModel, s: Scored): Scored {
  const masks = pm.maskBytes();
  const scores: Float32Array[] = [];
  const layers = s.feats.layers.map((lf, k) => {
    const m = masks[lf.layer];
    const sc = s.scores[k];
    const all = lf.indices;
    // Positions still live, then each array copied at them in a plain loop (a closure per connection and
    // column cost ~1 s per pass at 11 M weights: docs/benchmarks.md, scale).
    const at = new Int32Array(lf.count);
    let n = 0;
    for (let j = 0; j < lf.count; j++) if (m[all[j]] !== 0) at[n++] = j;
    if (n === lf.count) { scores.push(sc); return lf; }
    const pick = <T extends Int32Array | Float32Array>(src: T, out: T): T => {
      for (let t = 0; t < n; t++) out[t] = src[at[t]];
      return out;
    };
    scores.push(pick(sc, new Float32Array(n)));
    return { ...lf, count: n, indices: pick(all, new Int32Array(n)), columns: lf.columns.map((c) => pick(c, new Float32Array(n))) };
  });
  return { feats: { ...s.feats, layers }, scores };
}

/** A validation R² at which the polish is not extended for a loss still falling: nothing left for the guard's measure to gain. */
export const PERFECT_R2 = 0.999;

/**
 * Whether a polish whose kept round scores `best` has nothing left for the guard's measure to gain, so that a loss still
 * creeping down is no reason to extend the budget: every validation row right (a classifier at 100 %: a new user's Conv1D
 * on easy data was extended four times, 5× the run), or an R² of 0.999 or more and at the guard's reference (`reference`)
 * or above (an autoencoder at val R² 1.000 was extended three times, to 4× the default budget; a model dense at 0.99999
 * is still polished towards it, not stopped at 0.999).
 */
export function nothingToGain(metric: string, best: number | undefined, reference: number): boolean {
  if (best == null) return false;
  return metric !== 'R²' ? best === 1 : best >= Math.max(PERFECT_R2, reference);
}

/** A lower target reached on the way (on a branch of the step that crossed it: docs/agent.md), with its metrics. */
export interface Milestone {
  target: number;
  sparsity: SparsityReport;
  compute: ComputeReport;
  valAccuracy: number;
  testAccuracy: number;
  /** Optimizer steps of fine-tuning that made it: the run's before the branch (or step) that reached it, plus that one's. */
  fineTuneSteps: number;
  /** Weights and masks at that point: restore with PrunableModel.restore; dispose with disposeSnapshot. */
  snapshot: Snapshot;
  /**
   * Set where the guard rejected the target's branch: the row is then the crossing step's own accepted state, beyond the
   * target (what the branch lost and what was allowed). A unit removed on the branch can be one the step kept (a new
   * user's Conv1D forecaster: its branch to 0.8 took the filter the step to 0.865 kept, −57 points of R²). `branch`: the
   * row is instead a higher target's branch of the same step, the nearest accepted model beyond this one.
   */
  beyond?: { drop: number; allowed: number; branch?: number };
}

const EPS = 1e-6;
/** The step taken straight at the target once the steps' budget ran out (docs/agent.md). */
const LAST_TRY_PREFIX = 'last try at the target';
const LAST_TRY = `${LAST_TRY_PREFIX} with half the reserve`;
/** The same, given the other half too because it was still improving when judged. */
const LAST_TRY_EXTENDED = `${LAST_TRY_PREFIX} with the whole reserve (still improving at half)`;
/** The same where the budget held no step of the schedule and no step was accepted: one try with all of it. */
const LAST_TRY_ALL = `${LAST_TRY_PREFIX} with the whole budget left (too small for a step of the schedule)`;
/** The step taken straight at the target when the steps had become too small (the guard stop) with budget left. */
const LAST_TRY_GUARD = `${LAST_TRY_PREFIX} with half the budget left (the steps had become too small to try)`;
/** The same, given the other half too because it was still improving when judged. */
const LAST_TRY_GUARD_EXTENDED = `${LAST_TRY_PREFIX} with the whole budget left (still improving at half)`;
/** The same, given the budget's extension too because it was still improving at the end of the budget (small data). */
const LAST_TRY_GROWN = `${LAST_TRY_PREFIX} with the whole budget left and its extension (still improving when the default budget ran out)`;
/**
 * Whether a rolled-back step lost so much more than allowed that fine-tuning the same units longer will not win it back:
 * over twice the allowance beyond it, and over 2 points (a step 2 points past an allowance of 1.7 was accepted after the
 * longer fine-tune in a new user's run; one 23 points past 2 lost as much again).
 */
const hopeless = (v: GuardVerdict): boolean => v.drop - v.allowed > Math.max(2 * v.allowed, 0.02);

/** A step's note when the guard judged it after a longer fine-tune (AgentOptions.recoverRounds); the console reads it. */
export const RECOVERED = 'judged after a longer fine-tune, as it was refused within the noise cap while still improving';
/** The note on a last try judged by --max-drop alone after a guard stop (the console reads it). */
export const STRICT_TRY_NOTE = '(--max-drop alone: after a guard stop the jump gets no allowance for the validation rows\' noise)';
/** A rollback's reason when the guard refused a classifier that fell to the majority class (guard.ts, withCollapseCheck). */
const collapseReason = (share: number, weighted = false) =>
  `no better than always answering the most common class (${(100 * share).toFixed(2)} % of the validation rows${weighted ? ' by the class weights' : ''}), where the reference scored above it`;
const collapseOf = (v: GuardVerdict) => (v.collapsedTo != null ? { collapsedTo: v.collapsedTo } : {});

/** Whether a step record is the last try at the target (accepted or not, extended or not). */
export function isLastTry(step: Pick<StepRecord, 'reason'>): boolean {
  return step.reason?.startsWith(LAST_TRY_PREFIX) ?? false;
}


/** Validation rows below which R² is called a noisy guard signal. */
export const SMALL_R2_ROWS = 30;

/** What the validation split cannot show, said once at the start (warning events; the console prints them). */
export function guardWarnings(valRows: number, maxDrop: number, metric: string): string[] {
  if (metric === 'R²') {
    return valRows < SMALL_R2_ROWS
      ? [`R² on ${valRows} validation rows is a noisy signal: the guard may accept a real loss or refuse a harmless step (more validation rows: --split or --val-data)`]
      : [];
  }
  const { pointsPerRow, finerThanData } = resolution(valRows, maxDrop);
  return finerThanData
    ? [`--max-drop ${maxDrop} is finer than one validation row (${pointsPerRow.toFixed(2)} points): the data cannot show such a drop; the guard judges by the paired rows it has (more validation rows make a finer guard: --split or --val-data)`]
    : [];
}

/** True when the paired per-row values `a` are lower than `b` by more than GUARD_Z standard errors of the mean difference. */
export function clearlyLower(a: Float32Array, b: Float32Array): boolean {
  return pairedClearlyLower(a, b, GUARD_Z);
}

/**
 * The pruning agent: score → prune the next increment globally → fine-tune with masks enforced →
 * guard on validation accuracy → accept (checkpoint) or roll back with a smaller step. Modifies
 * `model` in place; `data` must already fit the model (see fitDatasetToModel). Test accuracy is
 * computed for the report only, never used for a decision.
 */
export async function runAgent(model: TF.LayersModel, asGiven: Dataset, given: Scorer, options: AgentOptions): Promise<AgentResult> {
  const o = withDefaults(AGENT_DEFAULTS, options);
  // Class weights: the same tensors, each split's rows weighted (every fine-tune and figure below weighs them).
  const classWeights = o.classWeight != null ? classWeightsForTask(o.classWeight, taskOf(model).kind, asGiven.classNames) : undefined;
  const data = classWeights ? withClassWeights(asGiven, classWeights) : asGiven;
  const metric = classWeights ? weightedMetricName(classWeights) : metricName(taskOf(model).kind);
  const plan = withDefaults(PLANNER_DEFAULTS, options.planner ?? {});
  // `let`: a default budget that runs out while steps are still accepted is extended (extendBudget).
  let budget = resolveBudget(data.train.labels.length, o);
  const baseBudgetSteps = budget.budgetSteps;
  const epochsOf = (steps: number) => Math.round((100 * steps) / budget.stepsPerEpoch) / 100;
  const emit = (e: AgentEvent) => o.onEvent?.(e);
  // 'features' includes the policy's scoring (one layer at a time); 'scoring' appears only for an extractor that gives all layers at once.
  const phases: Record<string, number> = { evaluate: 0, features: 0, prune: 0, fineTune: 0, checkpoint: 0 };
  const timed = <T>(phase: string, f: () => T): T => {
    const t = Date.now();
    try { return f(); } finally { phases[phase] = (phases[phase] ?? 0) + (Date.now() - t) / 1000; }
  };
  const checkAbort = () => {
    if (o.signal?.aborted) throw abortedError('interrupted', o.signal);
  };

  const granularity = o.granularity ?? (prunesCompute(o.objective ?? 'params') ? 'unit' : 'connection');
  const objective = checkObjective(o.objective ?? 'params', granularity);
  const distillWith = o.distill ?? (granularity === 'unit' ? DISTILL_DEFAULT : false);
  // Frozen layers stay dense: the fine-tuning below trains only trainable weights, so they could not recover.
  const pm = new PrunableModel(model, { exclude: o.exclude ?? [], frozen: 'exclude' });
  // A learned policy on layers unlike those it was trained on (its recorded domain): LAMP allocates across layers and the
  // policy's ranks only correct LAMP's order inside each (src/policy/domain.ts, docs/agent.md "Outside the policy's domain").
  const { scorer, outsideDomain } = withinDomain(given, pm, o.policyDomain);
  // A target under one weight would prune nothing and still say "target reached" (a new user's --target 1e-9).
  if (objective === 'params' && o.target * pm.totalPrunable < 1) {
    const total = pm.totalPrunable;
    pm.dispose();
    throw new UsageError(`target ${o.target} is less than one of the ${total.toLocaleString('en')} prunable kernel weights (one weight is ${(1 / total).toPrecision(2)}): it would prune nothing; give a larger target`);
  }
  // A target past what the per-layer floors leave (every layer keeps a few weights, so that the model stays connected)
  // would spend the whole budget and stop short, and the advice would offer reruns that cannot reach it either (a new
  // user's AutoML loop: 0.999 on a 1,200-weight MLP whose floors allow 0.99).
  if (objective === 'params' && granularity !== 'unit') {
    const most = mostByConnections(pm, o.target);
    if (o.target > most + 1e-9) {
      const total = pm.totalPrunable;
      // Where most of the model is outside the prunable kernels, the layers holding it are named: the floors are rarely
      // the news there (a new user's stacked-cell RNN: 16 prunable weights of 2,609 parameters, told only of floors).
      const cov = pm.coverage();
      const biggest = [...cov.untouched].sort((a, b) => b.params - a.params).slice(0, 2);
      const outside = cov.prunableFraction < 0.5 && biggest.length > 0
        ? `; besides, the prunable kernels are only ${(100 * cov.prunableFraction).toFixed(1)} % of the model's ${cov.params.toLocaleString('en')} parameters: ` +
          `${biggest.map((u) => `'${u.name}' (${u.className}, ${u.params.toLocaleString('en')} parameters: ${u.reason})`).join(' and ')} ${biggest.length > 1 ? 'are' : 'is'} left dense`
        : '';
      pm.dispose();
      const floors = `every prunable layer keeps at least ${PRUNE_BY_SCORES_DEFAULTS.minKeepWeights} weights (and, at this target, ` +
        `${(100 * defaultKeepFraction(o.target)).toPrecision(2)} % of its own) so that the model stays connected`;
      throw new UsageError(most * total < 1
        ? `target ${o.target} cannot be reached: ${floors}, and this model's ${total.toLocaleString('en')} prunable kernel weights are all within those floors: nothing can be pruned${outside}`
        : `target ${o.target} cannot be reached: ${floors}, which leaves at most ${(Math.floor(1e5 * most) / 1e3).toFixed(3)} % sparsity in this model; use --target ${(Math.floor(1e4 * most) / 1e4).toFixed(4)} or less${outside}`);
    }
  }
  const rescore = o.rescore ?? pm.totalPrunable < RESCORE_MAX_WEIGHTS;
  const allocationCheck = o.allocationCheck ?? false;
  const calib = headOf(data.train, o.calibrationSamples);
  const ckpt = o.checkpointDir ? new Checkpointer(o.checkpointDir) : undefined;
  const milestones: Milestone[] = [];
  /** The distillation targets (AgentOptions.distill), disposed with the run. */
  let teacher: TF.Tensor | undefined;
  let distilled: false | { weight: number; temperature: number } = false;
  let scoringPasses = 0;
  /** Scoring passes whose pruning followed the policy / plain magnitude (magnitudeCheck). */
  const criteria: { policy: number; magnitude: number; lampAllocation?: number } = { policy: 0, magnitude: 0 };
  /** Why the first step is smaller than the planner's initial rate (firstRate), noted on the first step's record and event. */
  let firstNote: string | undefined;
  /** A resumed run's earlier sessions, up to the checkpoint it resumes from (AgentState.phases / seconds). */
  let earlier: { phases: Record<string, number>; seconds: number } = { phases: {}, seconds: 0 };
  const agentT0 = Date.now();
  const runPhases = () => {
    const sum: Record<string, number> = { ...phases };
    for (const [k, v] of Object.entries(earlier.phases)) sum[k] = (sum[k] ?? 0) + v;
    return sum;
  };
  try {
    // Before the latency timing: a model refused for its zeros spends nothing first.
    checkZerosInsideUnits(pm, objective);
    // The model as given, before a resume loads its checkpoint: pruned before where it has zeros (said in the start event
    // and report.json's dense, whose figures are then that model's).
    const givenSparsity = pm.sparsity().global;
    // Whole units on a model pruned connection by connection before: the compute figures count its zeros as removed,
    // which its compact model still runs (said, where --objective flops refuses it).
    if (granularity === 'unit' && objective === 'params' && !o.resume) {
      const kept = zerosCompactionKeeps(pm);
      if (kept > SCATTERED_ZEROS_MAX) {
        emit({ type: 'warning', message: `${(100 * kept).toFixed(1)} % of the prunable kernels' multiply-accumulates are on zero weights the compact model would still run (the model was pruned connection by connection before, inside units that stay): the run's compute figures count them as removed; the compact model's own count (--compact, autoprune compact) is what it runs` });
      }
    }
    if (objective === 'latency') {
      // The cost table: the one a resumed run's checkpoint saved (timings differ from one measurement to the next), else
      // timed on the model as given.
      if ((o.milestones?.length ?? 0) > 0) throw new UsageError('--targets (a frontier) is not available with --objective latency; use --objective flops, or one --target');
      const saved = o.resume ? ckpt?.savedState()?.latency : undefined;
      const kernels = pm.layers.map((l) => l.name).join('\u0000');
      pm.setLatencyProfile(o.latencyProfile ?? (saved && saved.kernels.join('\u0000') === kernels ? saved
        : timed('latency', () => measureLatencyProfile(pm, { batch: o.servingBatch }))));
    }
    checkUnitsRemovable(granularity, objective, pm, o.target, { frontier: (o.milestones?.length ?? 0) > 0 });
    // (In the target's measure: after the latency profile, which 'latency' counts with.)
    const givenProgress = pm.progress(objective);
    let state: AgentState;
    const resumed = Boolean(o.resume && ckpt?.exists());
    // A checkpoint that cannot be resumed (another run's, damaged) is refused before any work or line (the control ran,
    // and the run's warnings were printed, before a new user's refusal).
    if (resumed) ckpt!.check(pm, o.identity);
    // Targets the model as given already meets (it was pruned before): refused, not run (a new user's --target 0.4 on a
    // 50 % sparse model spent its whole budget on a polish it undid; its --targets 0.3,0.5 rows were reported "not reached").
    if (!resumed) {
      const slack = Math.max(EPS, 1 / pm.totalPrunable);
      // Met as the loop judges reaching it: weights counted to ⌈target · N⌉ (params), within one weight otherwise.
      const reach = objective === 'params' ? EPS : slack;
      const met = [...new Set([...(o.milestones ?? []), o.target])].filter((t) => givenProgress >= t - reach).sort((a, b) => a - b);
      if (givenProgress > slack && met.length > 0) {
        const what = objective === 'params' ? 'sparsity' : progressName(objective);
        if (givenProgress >= 1 - slack) throw new UsageError(`every prunable kernel weight of this model is zero already: nothing to prune (is it an untrained model with zero-initialised kernels?)`);
        throw new UsageError(`${met.length === 1 ? `target ${met[0]} is` : `targets ${met.join(', ')} are`} at or below the model's own ${what}, ` +
          `${(100 * givenProgress).toFixed(1)} % (it was pruned before): nothing to prune there; give ${met.length === 1 && met[0] === o.target && !(o.milestones?.length) ? 'a target' : 'targets'} above ${givenProgress.toFixed(3)}`);
      }
    }
    // The guard's reference: the dense model fine-tuned exactly as one pruning step is, without pruning (a
    // control). On small splits fine-tuning alone moves validation accuracy by whole rows (a dense model
    // early-stopped on these rows scores optimistically on them); comparing with the control isolates
    // what pruning costs. Taken on the model as given, before a resume would load the checkpoint's weights (a resume
    // judges with the reference its checkpoint saved, below).
    // The reference is the lower of the two: where fine-tuning alone improves the model (an undertrained
    // one), the drop is still counted from the model the user gave, as --max-drop says.
    // A resume judges with the reference its checkpoint saved (the one the run started with: a CNN's control is not
    // bit-reproducible on oneDNN), rather than fine-tuning the control again (half a minute on a large model, and its time counted twice in the phases).
    const savedRef = resumed ? ckpt!.savedState()?.reference : undefined;
    const refSaved = savedRef != null && savedRef.correct.length === data.val.labels.length;
    // Said before the teacher's pass and the control's first round: a large model's console was silent for 11–20 s.
    // Fine-tuned like the first step: as long, within the budget (a new user's --budget-steps 50 got a 100-step control, twice
    // the whole budget, while the one step got 50).
    const controlSteps = Math.min(o.maxStepEpochs * budget.roundSteps, budget.budgetSteps);
    const controlRounds = Math.ceil(controlSteps / budget.roundSteps);
    if (!refSaved) emit({ type: 'phase', phase: 'control', steps: controlSteps, batchSize: budget.batchSize });
    // The teacher: the model as given, before any pruning or a resume's weights (so a resumed run gets the same targets).
    teacher = distillWith ? teacherTargets(model, data.train.x, distillWith.temperature) : undefined;
    const softTargets = teacher && distillWith ? { probs: teacher, weight: distillWith.weight } : undefined;
    // What the fine-tunes use (none where the task has no class distribution to teach), for the start event and the result.
    distilled = softTargets && distillWith ? { ...distillWith } : false;
    // Its rounds are said (a large model's control took a minute before the first line: a new user's 3.25 M CNN).
    const onControlRound = (e: { epoch: number; loss: number; valAccuracy?: number; valLoss?: number }) => emit({
      type: 'epoch', phase: 'control', epochs: controlRounds, step: 0, epoch: e.epoch, roundSteps: budget.roundSteps, steps: controlSteps, ...roundFigures(e),
    });
    const denseVal = timed('evaluate', () => evaluate(model, data.val));
    /** The classes the control no longer recalls (classesLost): fine-tuning itself, not pruning, lost them. */
    let controlLostClasses: LostClass[] = [];
    const reference: { kind: 'control' | 'dense'; accuracy: number; correct: Float32Array; controlAccuracy?: number; controlSteps?: number } = refSaved
      ? { kind: savedRef.kind, accuracy: savedRef.accuracy, correct: Float32Array.from(savedRef.correct), ...(savedRef.controlAccuracy != null ? { controlAccuracy: savedRef.controlAccuracy } : {}), ...(savedRef.controlSteps != null ? { controlSteps: savedRef.controlSteps } : {}) }
      // A model pruned before is fine-tuned with its zeros kept, as every step is (unmasked, its control regrew ~19 k of
      // a new user's 26 k pruned weights: not the model as given fine-tuned); a dense one as before.
      : await timedAsync(phases, 'control', () => controlReference(model, data, calib.x, budget, controlSteps, o.seed, o.signal, softTargets, onControlRound, givenSparsity > 0 ? pm : undefined))
        .then((control) => {
          if (taskOf(model).kind === 'classification') controlLostClasses = classesLost(data.val.labels, denseVal.correct, control.correct, data.classNames);
          return control;
        })
        .then((control) => (control.accuracy <= denseVal.accuracy
          ? { kind: 'control' as const, accuracy: control.accuracy, correct: control.correct, controlAccuracy: control.accuracy, controlSteps: control.steps }
          : { kind: 'dense' as const, accuracy: denseVal.accuracy, correct: denseVal.correct, controlAccuracy: control.accuracy, controlSteps: control.steps }));
    // (A resume says the control's lost classes again from the saved reference: the control is not fine-tuned again.)
    if (refSaved) controlLostClasses = savedRef.lostClasses ?? [];
    const savedReference = () => ({
      kind: reference.kind, accuracy: reference.accuracy, correct: Array.from(reference.correct), ...(reference.controlAccuracy != null ? { controlAccuracy: reference.controlAccuracy } : {}), ...(reference.controlSteps != null ? { controlSteps: reference.controlSteps } : {}),
      ...(controlLostClasses.length > 0 ? { lostClasses: controlLostClasses } : {}),
    });
    if (resumed) {
      state = await ckpt!.restore(pm, o.identity);
      // (A checkpoint of an earlier version has no reference: the one just measured is saved with the next.)
      state.reference ??= savedReference();
      // The counters as they were at the checkpoint: the resumed run redoes what came after it.
      scoringPasses = state.scoringPasses ?? 0;
      Object.assign(criteria, state.criteria ?? {});
      earlier = { phases: { ...(state.phases ?? {}) }, seconds: state.seconds ?? 0 };
      milestones.push(...ckpt!.restoredMilestones(pm));
      for (let i = 0; i < (state.budgetExtensions ?? 0); i++) budget = extendBudget(budget, baseBudgetSteps) ?? budget;
    } else {
      const first = firstRate(pm, plan);
      firstNote = first.note;
      state = {
        step: 0, sparsity: pm.progress(objective), rate: first.rate, stepsUsed: 0, denseValAccuracy: denseVal.accuracy, steps: [], ...(pm.latencyProfile ? { latency: pm.latencyProfile } : {}),
        reference: savedReference(),
      };
    }
    const coverage = pm.coverage();
    // A classifier must also stay above what always answering the most common class scores (guard.ts, withCollapseCheck).
    const majority = taskOf(model).kind === 'classification' ? majorityShare(data.val.labels, data.val.weights).share : undefined;
    const guard = (e: { correct: ArrayLike<number>; accuracy: number }) => {
      const v = judge(reference.correct, e.correct, o.maxDrop / 100, data.val.weights);
      return majority === undefined ? v : withCollapseCheck(v, e.accuracy, reference.accuracy, majority, data.val.labels.length);
    };
    const denseTest = state.denseTestAccuracy ?? timed('evaluate', () => accuracy(model, data.test));
    state.denseTestAccuracy = denseTest;
    const floor = state.denseValAccuracy - o.maxDrop / 100;
    // Whole-unit pruning (unit granularity, or compute): the layers whose units it cannot remove, and why.
    const unitsKept = prunesCompute(objective) || granularity === 'unit' ? unitsKeptFor(pm) : undefined;
    emit({
      type: 'start', target: o.target, objective, granularity, ...(pm.latencyProfile ? { latency: { batch: pm.latencyProfile.batch, denseMs: pm.latencyProfile.denseMs } } : {}), maxDrop: o.maxDrop, policy: given.name, ...(o.policyFile ? { policyFile: o.policyFile } : {}), ...(outsideDomain ? { scoredAs: scorer.name, outsideDomain } : {}), backend: o.backend?.name ?? 'unknown',
      native: o.backend?.native ?? false, prunable: pm.totalPrunable, metric, loss: lossName(taskOf(model)), denseValAccuracy: state.denseValAccuracy, floor,
      sparsity: state.sparsity, ...(givenProgress > 0 ? { given: givenProgress } : {}), resumed, valRows: data.val.labels.length,
      // A row of R² has no fixed worth: the resolution is a 0/1 metric's (report.json's guard leaves it out too).
      ...(metricName(taskOf(model).kind) === 'R²' ? {} : { pointsPerRow: resolution(data.val.labels.length, o.maxDrop).pointsPerRow }),
      budgetSteps: budget.budgetSteps, batchSize: budget.batchSize, budgetSource: budget.source, params: coverage.params, untouched: coverage.untouched,
      ...(distilled ? { distill: distilled } : {}),
      ...(classWeights ? { classWeight: { given: describeClassWeights(classWeights, data.classNames), training: trainingClassWeights(data, classWeights) } } : {}),
      ...(unitsKept ? { unitsKept } : {}),
    });
    for (const message of guardWarnings(data.val.labels.length, o.maxDrop, metric)) emit({ type: 'warning', message });
    // A control far below the dense model moves the guard's reference down with it: said at the start, with what it
    // means for --max-drop (a new user's gated model lost 9.2 points to plain fine-tuning, and its run ended 2.8 below
    // dense at exit 0, said only by a warning at the end).
    const controlWarning = controlLossWarning(state.denseValAccuracy, reference, o.maxDrop, data.val.labels.length, metric);
    if (controlWarning) emit({ type: 'warning', message: controlWarning });
    if (controlLostClasses.length > 0) emit({ type: 'warning', message: controlLostClassesWarning(controlLostClasses, controlSteps, classWeights != null) });
    const trainRows = data.train.labels.length;
    if (options.batchSize != null && options.batchSize > trainRows) {
      emit({ type: 'warning', message: `--batch-size ${options.batchSize} is larger than the ${trainRows} training rows: every optimizer step is one pass over them all (${budget.budgetSteps} steps = ${budget.budgetSteps} epochs)` });
    }

    // Whole units are coarse: a smaller step can prune exactly what a rolled-back one did. Such a
    // repeat gets a longer fine-tune once (2 × maxStepEpochs rounds, patience 2); after that it is skipped (the step halved again),
    // and at once where the rolled-back step lost more than twice its allowance beyond it (and over 2 points): a longer
    // fine-tune of the same units does not win that back.
    const tried = new Map<string, { steps: number; val: number; verdict: GuardVerdict }>();
    const keyOf = (p: number) => p.toFixed(9);
    type Tune = { steps: number; patience: number; lrDecay?: number; tieZ?: number; regrow?: boolean };
    /** The regrowth schedule of a fine-tune of `steps` at the final sparsity, if regrowth is on. */
    const regrowFor = (steps: number, from = 0): RegrowSchedule | undefined => {
      if (!o.regrow || granularity !== 'connection') return undefined;
      const until = from + Math.floor(o.regrow.until * (steps - from));
      return until - from > o.regrow.every ? { every: o.regrow.every, from, until, fraction: cosineFraction(o.regrow.alpha, until, from) } : undefined;
    };
    const tuneFor = (left: number) => (reached: number): Tune | null => {
      const before = tried.get(keyOf(reached));
      if (before === undefined) return { steps: Math.min(o.maxStepEpochs * budget.roundSteps, left), patience: 1 };
      // A repeat of a step that lost far more than allowed (a new user's 16-filter CNN: 25 points where 2 were allowed,
      // twice, with most of a 300-step budget) is not fine-tuned again: the step is halved at once.
      if (hopeless(before.verdict)) return null;
      const longer = Math.min(left, 2 * o.maxStepEpochs * budget.roundSteps);
      return longer > before.steps ? { steps: longer, patience: 2 } : null;
    };

    // Large models: free a pass's host copies (features, scores, mask reads) now rather than at V8's leisure
    // (util/gc.ts): after each pass, and between the magnitude check's trial prunes.
    const settle = () => { if (pm.totalPrunable >= LARGE_MODEL_WEIGHTS) collectGarbage(); };
    /** Scores the live connections with the policy and prunes up to `to` (at the run's granularity). */
    const pruneTo = (to: number, reuse?: Scored) => {
      if (!reuse) scoringPasses++;
      try {
        return pruneOnce(to, reuse);
      } finally {
        settle();
      }
    };
    const pruneOnce = (to: number, reuse?: Scored): Scored => {
      // One layer's features at a time, scored and dropped (the 'features' phase includes scoring then),
      // unless a custom extractor can only give all layers at once.
      const ex = o.extractor;
      // A custom extractor calls the per-layer function on each layer as the interface says: unless it says it runs a
      // staged scorer's second stage (finish) as autoprune's own does (FeatureExtractor.stagedScoring), it gets such a
      // scorer whole-layer, unstaged. (Autoprune's own extractor once got it so too: 193 instead of 81–87 bytes per weight
      // above model + Adam at 11.4 M weights, the scale bench's W = 3000.)
      const perLayer = ex?.extractScored && !ex.stagedScoring ? scoreLayerWith({ score: (f) => scorer.score(f), rowwise: scorer.staged ? false : scorer.rowwise, needs: scorer.needs }) : scoreLayerWith(scorer);
      let feats: ConnectionFeatures;
      let scores: Float32Array[];
      if (reuse) {
        // The step's first scores, kept to the connections still live (the earlier increments pruned some):
        // selection then walks only candidates, not a long list of positions to skip. The criterion the
        // step's first increment chose is followed without a second check: magnitude is read anew.
        ({ feats, scores } = timed('prune', () => stillLive(pm, reuse)));
        const chosen = reuse.criterion === 'magnitude' ? magnitudeScores(pm, feats) : scores;
        timed('prune', () => pruneStep(granularity, pm, feats, chosen, to, objective));
        return { feats, scores, criterion: reuse.criterion };
      }
      if (ex && !ex.extractScored) {
        feats = timed('features', () => ex.extract(pm, calib));
        checkExtracted(pm, feats);
        scores = timed('scoring', () => scorer.score(feats));
      } else {
        ({ features: feats, scores } = timed('features', () => (ex?.extractScored ? ex.extractScored(pm, calib, perLayer) : extractScored(pm, calib, perLayer, { chunk: perLayer.chunk, needs: perLayer.needs }))));
        if (ex) checkExtracted(pm, feats, scores);
      }
      if (!o.magnitudeCheck || scorer.name === 'global-magnitude') {
        timed('prune', () => pruneStep(granularity, pm, feats, scores, to, objective));
        // Every scoring pass is counted under the criterion that pruned: here the policy's, unchecked.
        criteria.policy++;
        return { feats, scores, criterion: 'policy' as const };
      }
      // Every pass: the policy's choice against plain magnitude's, by the loss right after pruning on the
      // calibration rows (forward passes only, no optimizer step). A policy trained on other families can
      // misjudge this model (docs/agent.md measures when): magnitude prunes when its per-row losses are lower,
      // paired, by more than GUARD_Z standard errors; else the policy. Stateless, so a resumed run prunes as
      // the uninterrupted one.
      const snap = pm.snapshot();
      try {
        // −|w| of the live connections, gathered on the device: no host copy of whole kernels.
        const magnitude = magnitudeScores(pm, feats);
        // Magnitude on trial first: the policy, which wins most passes, then needs no second prune.
        timed('prune', () => pruneStep(granularity, pm, feats, magnitude, to, objective));
        settle();
        const magnitudeLoss = timed('evaluate', () => rowLosses(model, calib));
        pm.restore(snap);
        timed('prune', () => pruneStep(granularity, pm, feats, scores, to, objective));
        settle();
        const policyLoss = timed('evaluate', () => rowLosses(model, calib));
        // The model is now pruned by `pruned`; the choice is re-pruned only where it is another list.
        let pruned = scores;
        let chosen = { scores, loss: policyLoss };
        if (allocationCheck) {
          // The policy's order inside each layer, LAMP's counts per layer (magnitude holds −|w|).
          const allocated = scores.map((sc, l) => {
            const m = magnitude[l];
            const absW = new Float32Array(m.length);
            for (let i = 0; i < m.length; i++) absW[i] = -m[i];
            const lamp = lampPruneOrdered(absW); // (its order given: transplant sorts nothing more for it)
            return transplant(sc, lamp.scores, lamp.up);
          });
          pm.restore(snap);
          timed('prune', () => pruneStep(granularity, pm, feats, allocated, to, objective));
          settle();
          pruned = allocated;
          const allocatedLoss = timed('evaluate', () => rowLosses(model, calib));
          if (clearlyLower(allocatedLoss, policyLoss)) chosen = { scores: allocated, loss: allocatedLoss };
        }
        const criterion = clearlyLower(magnitudeLoss, chosen.loss) ? 'magnitude' : 'policy';
        const take = criterion === 'magnitude' ? magnitude : chosen.scores;
        if (take !== pruned) {
          pm.restore(snap);
          timed('prune', () => pruneStep(granularity, pm, feats, take, to, objective));
        }
        criteria[criterion]++;
        if (criterion === 'policy' && chosen.scores !== scores) criteria.lampAllocation = (criteria.lampAllocation ?? 0) + 1;
        return { feats, scores: chosen.scores, criterion };
      } finally {
        disposeSnapshot(snap);
      }
    };

    /**
     * One prune + fine-tune attempt from the current state; returns the fine-tuned val accuracy.
     * The fine-tune (epochs, patience) may depend on what the prune reached; null skips it (the attempt fails).
     * Connections (and hierarchical steps) are pruned gradually: `o.increments` re-scored increments on a cubic
     * schedule over the first half of the attempt's fine-tune, so the network adapts between them; whole units
     * go at once (a repeat of the same units is recognised before it is fine-tuned again).
     */
    /** The lower target a frontier branch is fine-tuning towards (its epoch events say so), else undefined. */
    let branching: number | undefined;
    const attempt = async (to: number, tune: Tune | ((reached: number) => Tune | null)) => {
      emit({ type: 'phase', phase: 'step', step: state.step, to, batchSize: budget.batchSize, ...(branching != null ? { branch: branching } : {}) });
      const from = pm.progress(objective);
      let nestedSeconds = 0;
      const gradual = granularity !== 'unit' && o.increments > 1;
      let t: Tune | null;
      let schedule: { at: number; run: () => void }[] | undefined;
      if (gradual) {
        t = typeof tune === 'function' ? tune(to) : tune;
        const levels = gradualLevels(from, to, o.increments);
        const span = t === null ? 0 : Math.floor(t.steps / 2);
        const first = pruneTo(levels[0]);
        const reuse = rescore ? undefined : first;
        // The later increments run inside the fine-tune's timer: their features / prune / evaluate time is
        // taken back out of 'fineTune' below, so that the phases add up to the run's time.
        schedule = levels.slice(1).map((level, j) => ({
          at: Math.round(((j + 1) * span) / (levels.length - 1)),
          run: () => {
            const t = Date.now();
            try { pruneTo(level, reuse); } finally { nestedSeconds += (Date.now() - t) / 1000; }
          },
        }));
      } else {
        pruneTo(to);
        t = typeof tune === 'function' ? tune(pm.progress(objective)) : tune;
      }
      if (t === null) {
        for (const e of schedule ?? []) e.run();
        const reached = pm.progress(objective);
        const prev = tried.get(keyOf(reached))!;
        return { valAccuracy: prev.val, verdict: prev.verdict, steps: 0, requested: 0, sparsity: reached, skipped: true, improving: false, recent: false };
      }
      const r = await timedAsync(phases, 'fineTune', () => trainAsync(model, data.train, {
        steps: t.steps, batchSize: budget.batchSize, roundSteps: budget.roundSteps, schedule, regrow: t.regrow ? regrowFor(t.steps, schedule?.length ? Math.floor(t.steps / 2) : 0) : undefined,
        prunable: pm, val: data.val, patience: t.patience, lrDecay: t.lrDecay, tieZ: t.tieZ, seed: o.seed * 1009 + state.step, signal: o.signal, recalibrate: calib.x, softTargets,
        onEpoch: (e) => emit({ type: 'epoch', phase: 'fine-tune', epochs: Math.ceil(t!.steps / budget.roundSteps), step: state.step, epoch: e.epoch, roundSteps: budget.roundSteps, steps: t!.steps, ...(branching != null ? { branch: branching } : {}), ...roundFigures(e) }),
      }));
      phases.fineTune -= nestedSeconds;
      const ev = timed('evaluate', () => evaluate(model, data.val));
      // Still improving: the fine-tune's last validation round was its best (lowest loss).
      const improving = r.bestEpoch !== undefined && r.bestEpoch === r.epochsRun - 1;
      return { valAccuracy: ev.accuracy, verdict: guard(ev), steps: r.stepsRun, requested: t.steps, sparsity: pm.progress(objective), skipped: false, improving, recent: stillImproving(r.valLosses, GUARD_Z) };
    };

    /** An attempt's outcome; `recovered` when the guard judged it after a longer fine-tune (recoverRounds). */
    type Attempt = Awaited<ReturnType<typeof attempt>> & { recovered?: boolean };
    /** attempt(), with the model put back to `snap` (and the snapshot freed) when it throws, e.g. on Ctrl-C. */
    const attemptFrom = async (snap: ReturnType<PrunableModel['snapshot']>, to: number, tune: Tune | ((reached: number) => Tune | null)) => {
      try {
        return await attempt(to, tune);
      } catch (err) {
        pm.restore(snap);
        disposeSnapshot(snap);
        throw err;
      }
    };

    /**
     * The fine-tune of the attempt `r` (made from `snap`) continued for up to `steps` more optimizer steps, its
     * rounds counted on from the attempt's; the model is then judged anew. On a throw the model is put back to
     * `snap` (and the snapshot freed); without one (a frontier branch, whose caller puts the model back) it is left.
     */
    const tuneMore = async <R extends Attempt>(snap: Snapshot | undefined, r: R, steps: number, t: { patience: number; lrDecay?: number; tieZ?: number; seed: number }): Promise<R> => {
      const doneRounds = Math.ceil(r.steps / budget.roundSteps);
      const more = await timedAsync(phases, 'fineTune', () => trainAsync(model, data.train, {
        steps, batchSize: budget.batchSize, roundSteps: budget.roundSteps, prunable: pm, val: data.val,
        patience: t.patience, lrDecay: t.lrDecay, tieZ: t.tieZ, seed: t.seed, signal: o.signal, recalibrate: calib.x, softTargets,
        // Its rounds continue the count of the attempt's (the same step's fine-tune, made longer).
        // (A frontier branch's longer fine-tune is the branch's: its rounds say so, as the attempt's did.)
        onEpoch: (e) => emit({ type: 'epoch', phase: 'fine-tune', epochs: doneRounds + Math.ceil(steps / budget.roundSteps), step: state.step, epoch: doneRounds + e.epoch, roundSteps: budget.roundSteps, steps: r.steps + steps, ...(branching != null ? { branch: branching } : {}), ...roundFigures(e) }),
      })).catch((err: unknown) => {
        if (snap) {
          pm.restore(snap);
          disposeSnapshot(snap);
        }
        throw err;
      });
      const ev = timed('evaluate', () => evaluate(model, data.val));
      // `requested` grows too: a whole-unit repeat of this prune is then not fine-tuned again for no more than this had.
      return { ...r, valAccuracy: ev.accuracy, verdict: guard(ev), steps: r.steps + more.stepsRun, requested: r.requested + steps, improving: more.bestEpoch !== undefined && more.bestEpoch === more.epochsRun - 1, recent: stillImproving(more.valLosses, GUARD_Z) };
    };

    // state.frontierSteps: optimizer steps of the frontier's branches, on top of the budget, added to the totals at the end.
    /** Writes the checkpoint (state, and the frontier targets reached so far; `branchFrom` where state.branchFrom says so). */
    const checkpoint = (branchFrom?: Snapshot) => {
      if (!ckpt) return Promise.resolve();
      state.scoringPasses = scoringPasses;
      state.criteria = { ...criteria };
      state.phases = runPhases();
      state.seconds = earlier.seconds + (Date.now() - agentT0) / 1000;
      return timedAsync(phases, 'checkpoint', () => ckpt.save(pm, state, o.identity, milestones, branchFrom));
    };

    /**
     * A frontier run's lower targets that an accepted step crossed (from `before`, the state the step started
     * from, to beyond them): each is reached on a branch — from `before`, an attempt at the lower target with
     * a step's own fine-tune (gradual increments, `maxStepEpochs` rounds; on top of the budget), judged by the
     * guard — and recorded when the guard holds; then the step's state is put back. The main path never bends
     * towards a lower target: it is the single run's path to the largest one (same steps, same seeds, the same
     * final model), and every lower target costs one step.
     */
    /** Keeps a lower target's state and says so (a `frontier` event: a consumer has the row before the run ends). */
    const record = (m: Milestone) => {
      milestones.push(m);
      emit({ type: 'frontier', target: m.target, sparsity: m.sparsity.global, computeRemoved: m.compute.reduction, valAccuracy: m.valAccuracy, testAccuracy: m.testAccuracy, fineTuneSteps: m.fineTuneSteps, ...(m.beyond ? { beyond: m.beyond } : {}) });
    };
    /** Returns the targets whose branch the guard rejected, with what each lost and what was allowed. */
    const branchMilestones = async (before: Snapshot, crossed: number[], stepsBefore: number) => {
      const after = pm.snapshot();
      const reachedAfter = pm.progress(objective);
      const rejected: { target: number; drop: number; allowed: number }[] = [];
      try {
        for (const target of crossed) {
          checkAbort();
          pm.restore(before);
          branching = target;
          let r: Attempt = await attempt(target, { steps: o.maxStepEpochs * budget.roundSteps, patience: 1 }).finally(() => { branching = undefined; });
          // Refused by no more than noise may excuse while still improving: more rounds before the verdict, as a step of
          // the main path gets (a new user's run missed its 0.5 branch this way while reaching 0.8 and 0.9).
          if (o.recoverRounds > 0 && !r.verdict.accepted && r.improving && r.verdict.collapsedTo == null && r.verdict.drop - r.verdict.allowed <= r.verdict.cap + 1e-9) {
            branching = target;
            r = { ...(await tuneMore(undefined, r, o.recoverRounds * budget.roundSteps, { patience: 1, seed: o.seed * 1009 + state.step + 7933 }).finally(() => { branching = undefined; })), recovered: true };
          }
          state.frontierSteps = (state.frontierSteps ?? 0) + r.steps;
          if (!r.verdict.accepted) {
            // Said, not skipped in silence: the target's row is the step's own model, beyond it (recordCrossed).
            rejected.push({ target, drop: r.verdict.drop, allowed: r.verdict.allowed });
            emit({
              type: 'warning',
              message: `frontier: the branch to ${(100 * target).toFixed(1)} % was rejected by the guard (validation drop ${(100 * r.verdict.drop).toFixed(2)} points > allowed ${(100 * r.verdict.allowed).toFixed(2)}, after ${r.steps} fine-tune steps${r.recovered ? ', a longer fine-tune included' : ''}): ` +
                `the frontier's row for it is the nearest accepted model beyond it: a higher target's branch of this step, else the step's own at ${(100 * reachedAfter).toFixed(1)} % (a run with --target ${target} alone takes its own path there)`,
            });
            continue;
          }
          record({
            target, sparsity: pm.sparsity(), compute: pm.compute(), valAccuracy: r.valAccuracy, testAccuracy: timed('evaluate', () => accuracy(model, data.test)),
            fineTuneSteps: stepsBefore + r.steps, snapshot: pm.snapshot(),
          });
        }
      } finally {
        pm.restore(after);
        disposeSnapshot(after);
      }
      return rejected;
    };

    /**
     * After an accepted step from `before` to `reached` (fine-tuned by `r`): the lower targets it crossed are
     * recorded on branches, and one it landed on exactly (within a weight) as the step's own state — as is one whose
     * branch the guard rejected (`beyond`).
     */
    const recordCrossed = async (before: Snapshot, reached: number, r: { valAccuracy: number; steps: number }) => {
      const crossed: number[] = [];
      let land: number | undefined;
      while (pending.length > 0 && reached >= pending[0] - tol) {
        const target = pending.shift()!;
        if (reached <= target + tol) land = target;
        else crossed.push(target);
      }
      const rejected = crossed.length > 0 ? await branchMilestones(before, crossed, state.stepsUsed - r.steps) : [];
      // A target whose branch the guard rejected gets the nearest accepted model beyond it: a higher target's branch of the
      // same step (the frontier stays monotone), else the step's own state. The frontier then has a model for every target
      // the path crossed.
      const own: { target: number; beyond?: Milestone['beyond'] }[] = land === undefined ? [] : [{ target: land }];
      for (const x of rejected) {
        const beyond = { drop: x.drop, allowed: x.allowed };
        const higher = milestones.filter((m) => m.target > x.target && crossed.includes(m.target) && !m.beyond).sort((a, b) => a.target - b.target)[0];
        if (higher) record({ ...higher, target: x.target, beyond: { ...beyond, branch: higher.target }, snapshot: cloneSnapshot(higher.snapshot) });
        else own.push({ target: x.target, beyond });
      }
      if (own.length === 0) return;
      const testAccuracy = timed('evaluate', () => accuracy(model, data.test));
      for (const m of own) {
        record({ ...m, sparsity: pm.sparsity(), compute: pm.compute(), valAccuracy: r.valAccuracy, testAccuracy, fineTuneSteps: state.stepsUsed, snapshot: pm.snapshot() });
      }
    };

    /**
     * recordCrossed after an accepted step from `from` (its state `before`), with the step checkpointed first where it
     * crossed a lower target: its branches are fine-tunes after the step, and a stop during them (or asked for by the
     * step's event handler) lost the step where a run without lower targets keeps it (its checkpoint comes before the
     * next check for a stop). A resume of that checkpoint runs the branches first, from `before` (AgentState.branchFrom).
     */
    const crossAfterStep = async (before: Snapshot, from: number, r: { sparsity: number; valAccuracy: number; steps: number }) => {
      if (ckpt && pending.length > 0 && r.sparsity > pending[0] + tol) {
        state.branchFrom = { sparsity: from, valAccuracy: r.valAccuracy, steps: r.steps };
        await checkpoint(before);
        emit({ type: 'checkpoint', step: state.step, sparsity: state.sparsity, path: ckpt.dir });
      }
      try {
        await recordCrossed(before, r.sparsity, r);
      } finally {
        delete state.branchFrom;
      }
    };

    // Sparsity moves in steps of one weight: within one weight of a lower target counts as landing on it.
    const tol = Math.max(EPS, 1 / pm.totalPrunable);
    // The target itself, counted in weights, is reached at the count it needs, ⌈target · N⌉ (47 of 96 weights is not 0.5:
    // a new user's autoencoder stopped there, "target reached, within one weight"); counted in compute, within one weight.
    const reachTol = objective === 'params' ? EPS : tol;
    // (From where the last step started where its branches are still to come: a resume runs them first, below.)
    const pending = [...new Set(o.milestones ?? [])].filter((m) => m > (state.branchFrom?.sparsity ?? state.sparsity) + tol && m < o.target - tol).sort((a, b) => a - b);
    /**
     * The steps: prune by the planner's rate, fine-tune, accept or roll back (adapting the rate), extend a default budget
     * while steps are accepted, until the target, the budget or the smallest useful step. Returns why it stopped short (undefined: the target).
     */
    /** Whether a step was accepted since the budget was last extended (since the start where it never was). */
    const progressed = () => state.steps.some((s) => s.accepted && s.step > (state.extendedAtStep ?? 0));
    /** The sparsity reached, in the target's measure, for the budget messages. */
    const at = () => `${(100 * state.sparsity).toFixed(1)} % ${objective === 'params' ? 'sparsity' : `of the ${progressName(objective)}`}`;
    /**
     * Extends a default budget where the run progressed since its last extension (extendBudget's limits), and says so in a
     * `budget` event whose message `say` words around "extended once / again (k× the default budget), to N optimizer
     * steps". Returns whether it was extended.
     */
    const extend = (say: (how: string) => string): boolean => {
      const more = progressed() ? extendBudget(budget, baseBudgetSteps) : undefined;
      if (!more) return false;
      budget = more;
      const n = more.extensions ?? 1;
      state.budgetExtensions = n;
      state.extendedAtStep = state.step;
      emit({ type: 'budget', budgetSteps: more.budgetSteps, extensions: n, sparsity: state.sparsity, totalSteps: state.stepsUsed,
        message: say(`extended ${n === 1 ? 'once' : `again (${n + 1}× the default budget)`}, to ${more.budgetSteps} optimizer steps`) });
      return true;
    };
    /**
     * Extends a default budget for a fine-tune at the target that was still improving when it ran out (stillImproving), within
     * extendBudget's limits, on small data, and says so; `what` names the fine-tune. Returns whether
     * it was extended. A model that needs more steps to recover than the default gives (a small table's at a high target)
     * gets them while they still help, rather than being judged or delivered half-recovered.
     */
    const extendWhileImproving = (what: string): boolean => {
      const more = extendBudget(budget, baseBudgetSteps);
      // Small data only (the whole run within EXTENSION_SAMPLES samples, the first extension included): a large data set's
      // budget is not doubled for a fine-tune that is still creeping down.
      if (!more || more.budgetSteps * more.batchSize > EXTENSION_SAMPLES) return false;
      budget = more;
      const n = more.extensions ?? 1;
      state.budgetExtensions = n;
      emit({ type: 'budget', budgetSteps: more.budgetSteps, extensions: n, sparsity: state.sparsity, totalSteps: state.stepsUsed,
        message: `${what} was still improving when the default fine-tuning budget ran out: extended ${n === 1 ? 'once' : `again (${n + 1}× the default budget)`}, to ${more.budgetSteps} optimizer steps` });
      return true;
    };
    /** --force under a budget the caller set: the first refused step goes straight to the target (see its use). */
    const forcedJump = () => o.force && budget.source !== 'default';
    const takeSteps = async (): Promise<StopReason | undefined> => {
      let stalled = 0;
      let stopped: StopReason | undefined;
      while (state.sparsity < o.target - reachTol) {
        checkAbort();
        if (stalled >= 2) { stopped = 'stalled'; break; }
        const stepBudget = budget.budgetSteps - Math.ceil(o.finalReserve * budget.budgetSteps);
        const left = Math.max(0, stepBudget - state.stepsUsed);
        if (state.rate < plan.minRate) { stopped = 'guard'; break; }
        if (left < Math.min(budget.stepsPerEpoch, budget.roundSteps)) {
          // A default budget that ran out while the run was still getting somewhere (a step accepted since the start, or
          // since the last extension) gets the default rule's steps once more: the user set no budget, and "rerun with
          // twice the budget" would have been the advice (extendBudget: once always, again on small data). A budget the
          // user set is a limit.
          // --force too: it takes the target where the run stops short, and the default budget's extensions are what the run
          // needs to get there within the guard (zipcodes-state @0.9 seed 0 lost 13.0 test points forced at the unextended
          // budget, 2.0 with the extensions; docs/agent.md "Budget").
          const accepted = state.steps.filter((s) => s.accepted).length;
          const extended = extend((how) => `the default fine-tuning budget ran out at ${at()}, short of the target, after ${accepted} accepted step${accepted > 1 ? 's' : ''}: ${how}`);
          if (!extended) { stopped = 'budget'; break; }
          continue;
        }
        const from = state.sparsity;
        // Lower targets still to record do not bend the path: a step that crosses one records it on a branch.
        const to = nextSparsity(from, o.target, state.rate, tol);
        const t0 = Date.now();
        const snap = pm.snapshot();
        state.step++;
        let r: Attempt = await attemptFrom(snap, to, tuneFor(left));
        // Refused by no more than what noise may excuse, while its validation loss was still falling: the step's
        // fine-tune goes on (a few rounds, patience 1) before the verdict, rather than throwing the step away.
        const more = Math.min(o.recoverRounds * budget.roundSteps, stepBudget - state.stepsUsed - r.steps);
        if (!r.verdict.accepted && !r.skipped && r.improving && r.verdict.collapsedTo == null && r.verdict.drop - r.verdict.allowed <= r.verdict.cap + 1e-9 && more >= budget.roundSteps) {
          r = { ...(await tuneMore(snap, r, more, { patience: 1, seed: o.seed * 1009 + state.step + 7901 })), recovered: true };
        }
        state.stepsUsed += r.steps;
        const seconds = (Date.now() - t0) / 1000;
        /** Why the step is not an ordinary one: the run's first step's note, a longer fine-tune before the verdict. */
        const notes = [state.step === 1 && firstNote ? firstNote : '', r.recovered ? RECOVERED : ''].filter(Boolean).join('; ');
        if (r.verdict.accepted) {
          tried.clear();
          // Slack: how much of the allowed drop is left, as a fraction of maxDrop.
          const slack = o.maxDrop > 0 ? (r.verdict.allowed - r.verdict.drop) / r.verdict.allowed : r.verdict.drop <= 0 ? 1 : 0;
          state.rate = afterAccept(state.rate, slack, plan);
          // A step that could not remove anything (the per-layer floors bind) must not loop forever.
          stalled = r.sparsity <= from + EPS ? stalled + 1 : 0;
          state.sparsity = r.sparsity;
          state.steps.push({ step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, accepted: true, fineTuneEpochs: epochsOf(r.steps), fineTuneSteps: r.steps, drop: r.verdict.drop, allowedDrop: r.verdict.allowed, seconds, ...(notes ? { reason: notes } : {}) });
          try {
            // Said before the lower targets it crossed are reached on their branches (their rounds and `frontier` events follow).
            // (Inside the try: a handler that throws on it must not leave the step's snapshot behind.)
            emit({ type: 'step', step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, fineTuneEpochs: epochsOf(r.steps), totalEpochs: epochsOf(state.stepsUsed), fineTuneSteps: r.steps, totalSteps: state.stepsUsed, seconds, ...(notes ? { reason: notes } : {}) });
            await crossAfterStep(snap, from, r);
          } finally {
            disposeSnapshot(snap);
          }
          if (ckpt) {
            await checkpoint();
            emit({ type: 'checkpoint', step: state.step, sparsity: state.sparsity, path: ckpt.dir });
          }
        } else {
          pm.restore(snap);
          disposeSnapshot(snap);
          if (r.skipped && !forcedJump()) {
            // A smaller step that whole units round up to the units of a step already rolled back (and fine-tuned
            // longer): not a step of its own — its record and event would repeat that rollback's figures. The step is
            // halved again, until it prunes other units or falls below the smallest useful step.
            state.step--;
            state.rate = afterRollback(Math.min(state.rate, (r.sparsity - from) / Math.max(EPS, 1 - from)));
            continue;
          }
          const k = keyOf(r.sparsity);
          if (!r.skipped) tried.set(k, { steps: Math.max(tried.get(k)?.steps ?? 0, r.requested), val: r.valAccuracy, verdict: r.verdict });
          const reason = r.skipped
            ? `prunes the same units as a rolled-back step that ${hopeless(r.verdict) ? 'lost too much for a longer fine-tune to win back' : 'had the longer fine-tune'} (val ${(100 * r.valAccuracy).toFixed(2)} %); not fine-tuned again`
            : r.verdict.collapsedTo != null ? collapseReason(r.verdict.collapsedTo, classWeights != null)
            : `val drop ${(100 * r.verdict.drop).toFixed(2)} points${r.verdict.binary ? ` (${r.verdict.lost} rows lost, ${r.verdict.gained} gained)` : ''} > allowed ${(100 * r.verdict.allowed).toFixed(2)} (max drop + ${GUARD_Z} s.e., capped)`;
          // The event says why as the step record does (report.json's steps).
          const why = notes ? `${reason}; ${notes}` : reason;
          state.steps.push({ step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, accepted: false, fineTuneEpochs: epochsOf(r.steps), fineTuneSteps: r.steps, drop: r.verdict.drop, allowedDrop: r.verdict.allowed, ...collapseOf(r.verdict), seconds, reason: why });
          if (forcedJump()) {
            // The target is taken anyway, within a budget the caller set: smaller steps would only spend the budget that
            // the fine-tune at the target needs (measured: at 0.98 it loses ~2 points against jumping straight there).
            // Under the default budget a forced run walks the path an unforced one does, with the default budget's
            // extensions, and takes the target where that stops short (zipcodes-state @0.9: 82.5 % test jumping at the
            // first rollback, 92.1 % walking, mean of seeds 0–2; docs/agent.md "Stopping").
            emit({ type: 'rollback', step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, floor: reference.accuracy - r.verdict.allowed, drop: r.verdict.drop, allowedDrop: r.verdict.allowed, controlValAccuracy: reference.accuracy, reference: reference.kind, ...collapseOf(r.verdict), fineTuneEpochs: epochsOf(r.steps), fineTuneSteps: r.steps, totalEpochs: epochsOf(state.stepsUsed), totalSteps: state.stepsUsed, next: 'forced: go to the target with the remaining budget', seconds, reason: why });
            await checkpoint();
            break;
          }
          // Halve the step that was taken: one capped at the target removed less than the rate, and halving
          // the rate alone could aim at the target again (the same step, only fine-tuned anew).
          state.rate = afterRollback(Math.min(state.rate, (r.sparsity - from) / Math.max(EPS, 1 - from)));
          // The steps' share of the budget spent, and no extension to come: the loop ends here, and the next thing tried
          // is the last try straight at the target (or the polish), not a smaller step.
          const spent = stepBudget - state.stepsUsed < Math.min(budget.stepsPerEpoch, budget.roundSteps) &&
            !(progressed() && extendBudget(budget, baseBudgetSteps));
          const next = state.rate < plan.minRate
            ? 'stop: the step size fell below the smallest useful step (what follows: one last try at the target with half the budget left, or the polish)'
            : spent ? 'stop: the steps\' share of the budget is spent (what follows: one last try at the target with part of the reserve, or the polish)'
            : `retry with a smaller step (${(100 * (nextSparsity(from, o.target, state.rate, tol) - from)).toFixed(1)} points of ${progressName(objective)}${granularity === 'connection' ? '' : '; whole units can round it up to the step just rolled back, which is then halved again'})`;
          emit({ type: 'rollback', step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, floor: reference.accuracy - r.verdict.allowed, drop: r.verdict.drop, allowedDrop: r.verdict.allowed, controlValAccuracy: reference.accuracy, reference: reference.kind, ...collapseOf(r.verdict), fineTuneEpochs: epochsOf(r.steps), fineTuneSteps: r.steps, totalEpochs: epochsOf(state.stepsUsed), totalSteps: state.stepsUsed, next, seconds, reason: why });
          await checkpoint();
        }
      }
      return stopped;
    };
    if (state.branchFrom) {
      // Resumed from a checkpoint written before an accepted step's branches: they come first, from the state the step started from.
      const before = ckpt!.restoredBranchFrom(pm);
      try {
        await recordCrossed(before, state.sparsity, state.branchFrom);
      } finally {
        disposeSnapshot(before);
      }
      delete state.branchFrom;
      await checkpoint();
      emit({ type: 'checkpoint', step: state.step, sparsity: state.sparsity, path: ckpt!.dir });
    }
    const stopped = await takeSteps();


    /** One last try straight at the target where the steps stopped short with budget left (see the comments inside). */
    const lastTryAtTarget = async (): Promise<void> => {
      // A budget too small for even one step of the schedule (one round, say) takes its one try at the target with all of
      // it: with no accepted step there is nothing but the dense model for a polish to fine-tune.
      const noneAccepted = !state.steps.some((s) => s.accepted);
      // Steps too small to try (the guard stop) while the run was still getting somewhere since its default budget was last
      // extended: the last try at the target gets the default rule's steps once more (extendBudget's limits), a longer
      // fine-tune rather than more steps (zipcodes-state seed 0 @0.9: its last try lost 1.6 validation points with 1,134
      // steps and held with the extension; docs/agent.md "Budget").
      // With --force, for the forced step to the target instead.
      if (stopped === 'guard') {
        extend((how) => `the steps became too small to try at ${at()} while the run was still getting somewhere: the default budget ${how}, for the ${o.force ? 'forced step to' : 'last try at'} the target`);
      }
      const room = budget.budgetSteps - state.stepsUsed;
      // The same when the steps had become too small (the guard stop) with budget left: the small steps were refused after a
      // step's short fine-tune, and the budget they did not use would only polish the last accepted sparsity. A try at the
      // target with half of it either holds (the target, guard-approved) or tells what the target costs, which is what a
      // rerun's --max-drop needs (a new user's table: every smaller --max-drop the old advice named stopped short again,
      // while --force lost nothing on the test rows).
      const guardTry = stopped === 'guard' && room >= 2 * budget.roundSteps;
      if ((stopped === 'budget' || guardTry) && !o.force && (room >= 2 * budget.roundSteps || (noneAccepted && room >= Math.min(budget.stepsPerEpoch, budget.roundSteps)))) {
        // The steps' budget ran out short of the target: one last try straight at it with half of the reserve
        // as a polish-like fine-tune, judged by the same guard. Kept if it holds; otherwise rolled back, and the
        // other half polishes the last accepted sparsity.
        checkAbort();
        const from = state.sparsity;
        const t0 = Date.now();
        const snap = pm.snapshot();
        state.step++;
        const all = noneAccepted && room < 2 * budget.roundSteps;
        // After a guard stop the jump is judged by --max-drop alone, without the validation rows' noise allowance: the
        // smaller steps were refused, and on a few dozen validation rows that allowance let a jump of several points of
        // sparsity through at a test loss of 3–4 points (gapminder-cluster @0.9, 68 rows; docs/agent.md "Stopping").
        const strict = (x: Attempt): Attempt => (!guardTry || x.verdict.collapsedTo != null ? x
          : { ...x, verdict: { ...x.verdict, allowed: o.maxDrop / 100, accepted: x.verdict.accepted && x.verdict.drop <= o.maxDrop / 100 + 1e-9 } });
        const lastTune: Tune = { steps: all ? room : Math.floor(room / 2), patience: Number.POSITIVE_INFINITY, lrDecay: o.polish.lrDecay, tieZ: o.polish.tieZ };
        // Whole units can make the jump prune exactly what a step rolled back from here did: not again with no longer a fine-tune.
        let r = strict(await attemptFrom(snap, o.target, guardTry ? (reached) => ((tried.get(keyOf(reached))?.steps ?? 0) >= lastTune.steps ? null : lastTune) : lastTune));
        if (r.skipped) {
          pm.restore(snap);
          disposeSnapshot(snap);
          state.step--;
        } else {
          state.stepsUsed += r.steps;
          const half = guardTry ? LAST_TRY_GUARD : LAST_TRY;
          let how = all ? LAST_TRY_ALL : half;
          const rest = budget.budgetSteps - state.stepsUsed;
          if (!r.verdict.accepted && r.improving && rest >= budget.roundSteps) {
            // Rejected while its last round was still its best: the candidate at the target gets the other half
            // too before the verdict, instead of being thrown away; if the guard still says no, the last accepted
            // sparsity is kept as it was accepted (no budget is left to polish it).
            const before = r.steps;
            r = strict(await tuneMore(snap, r, rest, { patience: Number.POSITIVE_INFINITY, lrDecay: o.polish.lrDecay, tieZ: o.polish.tieZ, seed: o.seed * 1009 + 7907 }));
            state.stepsUsed += r.steps - before;
            how = guardTry ? LAST_TRY_GUARD_EXTENDED : LAST_TRY_EXTENDED;
          }
          // Still refused while still improving at the end of the budget, and within reach (guard.ts withinReach): a default
          // budget grows for it (as for the polish). A try far off is not chased.
          for (let k = 1; !r.verdict.accepted && r.recent && withinReach(r.verdict) && r.verdict.collapsedTo == null && extendWhileImproving('the last try at the target'); k++) {
            const before = r.steps;
            r = strict(await tuneMore(snap, r, budget.budgetSteps - state.stepsUsed, { patience: Number.POSITIVE_INFINITY, lrDecay: o.polish.lrDecay, tieZ: o.polish.tieZ, seed: o.seed * 1009 + 7907 + k }));
            state.stepsUsed += r.steps - before;
            how = LAST_TRY_GROWN;
          }
          const seconds = (Date.now() - t0) / 1000;
          const rec = { step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, fineTuneEpochs: epochsOf(r.steps), fineTuneSteps: r.steps, drop: r.verdict.drop, allowedDrop: r.verdict.allowed, seconds };
          // The snapshot is freed however this ends (a handler that throws on the step's event included).
          try {
            if (r.verdict.accepted) {
              state.sparsity = r.sparsity;
              state.steps.push({ ...rec, accepted: true, reason: how });
              emit({ type: 'step', step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, fineTuneEpochs: epochsOf(r.steps), totalEpochs: epochsOf(state.stepsUsed), fineTuneSteps: r.steps, totalSteps: state.stepsUsed, seconds, reason: how });
              await crossAfterStep(snap, from, r);
            } else {
              pm.restore(snap);
              const extended = how !== half;
              state.steps.push({ ...rec, accepted: false, ...collapseOf(r.verdict), reason: `${extended ? how : LAST_TRY_PREFIX}: ${r.verdict.collapsedTo != null ? collapseReason(r.verdict.collapsedTo, classWeights != null) : `val drop ${(100 * r.verdict.drop).toFixed(2)} points > allowed ${(100 * r.verdict.allowed).toFixed(2)}${guardTry ? ` ${STRICT_TRY_NOTE}` : ''}`}` });
              emit({ type: 'rollback', step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, floor: reference.accuracy - r.verdict.allowed, drop: r.verdict.drop, allowedDrop: r.verdict.allowed, controlValAccuracy: reference.accuracy, reference: reference.kind, ...collapseOf(r.verdict), fineTuneEpochs: epochsOf(r.steps), fineTuneSteps: r.steps, totalEpochs: epochsOf(state.stepsUsed), totalSteps: state.stepsUsed, next: how === LAST_TRY_ALL ? 'stop: the budget is spent' : extended ? `stop: keep the last accepted sparsity as accepted (${guardTry ? 'the budget' : 'the reserve'} is spent)` : 'stop: polish the last accepted sparsity with the rest of the budget', seconds, reason: state.steps.at(-1)!.reason ?? 'refused by the guard' });
            }
          } finally {
            disposeSnapshot(snap);
          }
          await checkpoint();
        }
      }
    };
    await lastTryAtTarget();

    let reached = state.sparsity >= o.target - reachTol;
    /** The kept polish's validation evaluation, where the guard needed it (the final one then). */
    let polished: ReturnType<typeof evaluate> | undefined;
    let polishRecord: PolishRecord | undefined;
    // --force takes the target unless the per-layer floors stop every step short of it ('stalled': no step can reach it).
    let stopReason: StopReason = reached ? 'target' : o.force && stopped !== 'stalled' ? 'forced' : stopped ?? 'guard';
    /** --force: the target taken anyway, fine-tuned with what is left of the budget (see inside). */
    const forceTarget = async (): Promise<void> => {
      // --force: take the target anyway, fine-tuned with whatever budget is left (at least one epoch).
      checkAbort();
      const from = state.sparsity;
      const t0 = Date.now();
      state.step++;
      // The forced fine-tune runs the rest of the budget; the best validation round is kept. The default budget gives it
      // at least one round; a budget the caller set is a cap, also here: with nothing left the target is taken untuned.
      const left = Math.max(0, budget.budgetSteps - state.stepsUsed);
      const userBudget = budget.source !== 'default';
      if (userBudget && left < budget.roundSteps) {
        emit({
          type: 'warning',
          message: `the fine-tuning budget you set (${budget.budgetSteps} optimizer steps) has ${left} left for the forced step to the target: ` +
            `it is ${left === 0 ? 'taken without fine-tuning' : `fine-tuned for those ${left} only`} (a larger budget gives it some)`,
        });
      }
      const r = await attempt(o.target, { steps: userBudget ? left : Math.max(budget.roundSteps, left), patience: o.polish.patience, regrow: true });
      state.stepsUsed += r.steps;
      state.sparsity = r.sparsity;
      state.steps.push({ step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, accepted: true, fineTuneEpochs: epochsOf(r.steps), fineTuneSteps: r.steps, drop: r.verdict.drop, allowedDrop: r.verdict.allowed, seconds: (Date.now() - t0) / 1000, reason: 'forced' });
      emit({ type: 'step', step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, fineTuneEpochs: epochsOf(r.steps), totalEpochs: epochsOf(state.stepsUsed), fineTuneSteps: r.steps, totalSteps: state.stepsUsed, seconds: (Date.now() - t0) / 1000 });
      // The floors can stop the forced step short of the target too: then it is not reached, and the exit code says so.
      reached = state.sparsity >= o.target - reachTol;
      if (!reached) stopReason = 'stalled';
    };
    /** The polish at the final sparsity with what is left of the budget, kept only where it helps (see inside). */
    const polish = async (): Promise<void> => {
      // Polish at the final sparsity with what is left of the budget (the reserve, at least); the best
      // validation epoch is kept, and the polish is undone if it never beats where it started.
      checkAbort();
      const before = timed('evaluate', () => evaluate(model, data.val));
      const snap = pm.snapshot();
      try {
        // A default budget is extended while the polish is still improving at its end (its validation loss still going down,
        // stillImproving): the polish goes on from its kept round at the learning rate it had reached, as one polish (its
        // rounds counted on). A small table's model at a high target can need more than the default to recover
        // (weather-city @0.9: still improving at the last of 11 rounds). extendBudget's limits apply.
        let r: TrainResult | undefined;
        let rounds = 0;
        let stepsRun = 0;
        for (;;) {
          const steps = budget.budgetSteps - state.stepsUsed;
          const first = r === undefined;
          if (first) emit({ type: 'phase', phase: 'polish', steps, batchSize: budget.batchSize });
          const doneRounds = rounds;
          // A later chunk's best round can still be above the earlier kept one's loss (its first round is already trained on): then the earlier one stays.
          const start = first ? undefined : pm.snapshot();
          const chunk: TrainResult = await timedAsync(phases, 'fineTune', () => trainAsync(model, data.train, {
            steps, batchSize: budget.batchSize, roundSteps: budget.roundSteps, learningRate: r?.learningRate,
            prunable: pm, val: data.val, patience: o.polish.patience, lrDecay: o.polish.lrDecay, tieZ: o.polish.tieZ, regrow: first ? regrowFor(steps) : undefined,
            seed: o.seed * 1009 + 7919 + doneRounds, signal: o.signal, recalibrate: calib.x, softTargets,
            onEpoch: (e) => emit({ type: 'epoch', phase: 'polish', epochs: doneRounds + Math.ceil(steps / budget.roundSteps), step: state.step, epoch: doneRounds + e.epoch, roundSteps: budget.roundSteps, steps: stepsRun + steps, ...roundFigures(e) }),
          })).then((c) => {
            const worse = start && r?.bestValLoss != null && (c.bestValLoss ?? Infinity) >= r.bestValLoss;
            if (worse) pm.restore(start);
            return worse ? { ...c, bestEpoch: undefined, bestValLoss: undefined } : c;
          }).finally(() => { if (start) disposeSnapshot(start); });
          state.stepsUsed += chunk.stepsRun;
          stepsRun += chunk.stepsRun;
          // The kept round over the chunks (the earlier chunk's where the later one did not go below it).
          r = { ...chunk, stepsRun, epochsRun: doneRounds + chunk.epochsRun, bestEpoch: chunk.bestEpoch != null ? doneRounds + chunk.bestEpoch : r?.bestEpoch, bestValLoss: chunk.bestValLoss ?? r?.bestValLoss };
          rounds = r.epochsRun;
          const perfect = nothingToGain(metricName(taskOf(model).kind), chunk.bestValAccuracy, reference.accuracy);
          // Still improving means new best rounds lately, not only a falling trend: a trend can be the recovery from a spike
          // that never comes back to the best round (a new user's 3.25 M CNN: best at round 5 of 13, every later round 16–47 %
          // above it, extended to 2× for nothing, 21 minutes). The kept round must lie in the chunk's second half.
          const newBestLately = chunk.bestEpoch != null && chunk.bestEpoch >= Math.floor(chunk.epochsRun / 2);
          if (perfect || !newBestLately || !stillImproving(chunk.valLosses, GUARD_Z) || !extendWhileImproving('the polish')) break;
        }
        // Undone unless it beats where it started (a lower validation loss) without breaking the guard where
        // the start held it: a lower loss can come with fewer right rows (measured on an LSTM: val accuracy
        // 65.19 → 64.51 %, past the guard, kept and delivered).
        const lowerLoss = (r.bestValLoss ?? Infinity) < before.loss;
        // (With --force the user takes the drop whatever the guard: the lower loss decides, as before.)
        if (lowerLoss && !o.force && guard(before).accepted) polished = timed('evaluate', () => evaluate(model, data.val));
        const verdict = polished ? guard(polished) : undefined;
        const broke = verdict && !verdict.accepted ? verdict : undefined;
        const loss = `validation loss ${r.bestValLoss != null ? r.bestValLoss.toPrecision(4) : '(none judged)'} against ${before.loss.toPrecision(4)} before the polish`;
        const losses = `its best round's ${loss}`;
        const at = state.steps.filter((s) => s.accepted).pop();
        const as = at ? `the model is as step ${at.step} left it` : 'the model is as it was before the polish';
        const kept = lowerLoss && !broke;
        polishRecord = {
          kept, steps: r.stepsRun, valLossBefore: before.loss, bestValLoss: r.bestValLoss ?? null, bestRound: r.bestEpoch ?? null,
          message: kept ? `kept its best round${r.bestEpoch != null ? `, round ${r.bestEpoch + 1} of ${r.epochsRun}` : ''} (${loss})`
            : broke ? `undone: ${losses}, but a val drop of ${(100 * broke.drop).toFixed(2)} points > allowed ${(100 * broke.allowed).toFixed(2)}; ${as}`
              : `undone: ${losses} is no lower; ${as}`,
        };
        emit({ type: 'polish', ...polishRecord });
        if (!kept) {
          pm.restore(snap);
          polished = undefined;
        }
      } finally {
        disposeSnapshot(snap);
      }
    };
    // A polish needs a round of steps, or the whole reserve where that is less (a budget of 120 keeps 36 steps for it,
    // under a round of 37: a new user's run ended with them unused and no word of it).
    const polishRound = Math.min(budget.stepsPerEpoch, budget.roundSteps, Math.max(1, Math.ceil(o.finalReserve * budget.budgetSteps)));
    const unused = budget.budgetSteps - state.stepsUsed;
    if (!reached && stopReason === 'forced') await forceTarget();
    else if (unused >= polishRound) await polish();
    else if (unused > 0) {
      // Said, not skipped in silence (a new user's --budget-steps 120 ended after 84 steps with no word of the other 36).
      emit({ type: 'warning', message: `no polish: ${unused} optimizer steps of the ${budget.budgetSteps} budget were left, fewer than the ${polishRound} a polish needs (a round, or the reserve where that is less): the model is the last accepted step's as its fine-tune left it, and those steps were not used (a budget larger by a round gives it a polish)` });
    }

    const frontierSteps = state.frontierSteps ?? 0;
    state.stepsUsed += frontierSteps;
    milestones.sort((a, b) => a.target - b.target);

    const sparsity = pm.sparsity();
    const finalEval = polished ?? timed('evaluate', () => evaluate(model, data.val));
    const valAccuracy = finalEval.accuracy;
    const testAccuracy = timed('evaluate', () => accuracy(model, data.test));
    const accepted = state.steps.filter((s) => s.accepted).length;
    const exitCode: 0 | 3 = reached ? 0 : 3;
    const result: AgentResult = {
      sparsity, ...(givenSparsity > 0 ? { givenSparsity } : {}), compute: pm.compute(), ...(pm.latencyProfile ? { latency: { profile: pm.latencyProfile, final: pm.latency() } } : {}), ...(unitsKept ? { unitsKept } : {}), denseValAccuracy: state.denseValAccuracy, denseTestAccuracy: denseTest, valAccuracy, testAccuracy,
      targetReached: reached, stopReason, exitCode, steps: state.steps,
      ...(outsideDomain ? { policyDomain: { scoredAs: scorer.name, outside: outsideDomain } } : {}),
      totals: { fineTuneEpochs: epochsOf(state.stepsUsed), fineTuneSteps: state.stepsUsed, accepted, rolledBack: state.steps.length - accepted, scoringPasses, rescored: rescore, criteria: { ...criteria }, ...(o.milestones?.length ? { frontierSteps } : {}), ...(reference.controlSteps != null ? { controlSteps: reference.controlSteps } : {}) },
      budget,
      distill: distilled,
      ...(classWeights ? { classWeight: describeClassWeights(classWeights, data.classNames) } : {}),
      metric,
      guard: { valRows: data.val.labels.length, pointsPerRow: resolution(data.val.labels.length, o.maxDrop).pointsPerRow, maxDrop: o.maxDrop, z: GUARD_Z, controlValAccuracy: reference.accuracy, ...(reference.controlAccuracy != null ? { fineTunedControlValAccuracy: reference.controlAccuracy } : {}), reference: reference.kind, final: guard(finalEval) },
      phases: runPhases(), earlierSeconds: earlier.seconds, masks: pm, milestones, ...(polishRecord ? { polish: polishRecord } : {}),
    };
    return result;
  } catch (err) {
    for (const m of milestones) disposeSnapshot(m.snapshot);
    pm.dispose();
    throw err;
  } finally {
    disposeSplit(calib);
    teacher?.dispose();
  }
}

/** Validation correctness of `model` fine-tuned like one agent step (unpruned); its weights are put back after. */
/**
 * A feature extractor's output (FeatureExtractor: a user's code) against the model: one entry per prunable layer in
 * order, each with as many indices (and columns' values, where columns are given) as its count, and one score per
 * connection. A layer left out was never pruned without a word, and a wrong count was blamed on the scores.
 */
function checkExtracted(pm: PrunableModel, feats: ConnectionFeatures, scores?: Float32Array[]): void {
  const bad = (what: string) => new UsageError(`feature extractor: ${what}; it must describe every prunable layer (${pm.layers.length}: ${pm.layers.map((l) => `'${l.name}'`).join(', ')}), in order, one entry per live connection`);
  const layers = feats?.layers;
  if (!Array.isArray(layers) || layers.length !== pm.layers.length) throw bad(`it gave ${Array.isArray(layers) ? layers.length : 'no'} layer(s)`);
  layers.forEach((lf, i) => {
    const name = pm.layers[i].name;
    if (lf.layer !== i) throw bad(`its entry ${i} is for layer ${String(lf.layer)}, not ${i} ('${name}')`);
    if (!(lf.indices instanceof Int32Array)) throw bad(`layer '${name}': its indices must be an Int32Array (got ${lf.indices == null ? String(lf.indices) : (lf.indices as object).constructor?.name ?? typeof lf.indices})`);
    if (lf.indices.length !== lf.count) throw bad(`layer '${name}': count ${lf.count} but ${lf.indices.length} indices`);
    const short = (lf.columns ?? []).findIndex((c) => c.length !== lf.count);
    if (short >= 0 && lf.columns.length > 0) throw bad(`layer '${name}': column ${short} holds ${lf.columns[short].length} values for ${lf.count} connections`);
    if (scores && scores[i]?.length !== lf.count) throw bad(`layer '${name}': ${scores[i]?.length ?? 'no'} scores for ${lf.count} connections`);
  });
}

export async function controlReference(model: TF.LayersModel, data: Dataset, recalibrate: TF.Tensor, budget: FineTuneBudget, steps: number, seed: number, signal?: AbortSignal, softTargets?: TrainOptions['softTargets'], onEpoch?: TrainOptions['onEpoch'], prunable?: PrunableModel): Promise<{ accuracy: number; correct: Float32Array; steps: number }> {
  // Trained in place and put back from a copy of every weight (moving statistics included): one copy of the
  // weights, where a clone through serialised artifacts held three at once (docs/benchmarks.md, scale).
  const saved = tf.tidy(() => model.weights.map((w) => tf.keep(w.read().clone())));
  try {
    const r = await trainAsync(model, data.train, {
      steps, batchSize: budget.batchSize, roundSteps: budget.roundSteps, val: data.val, patience: 1,
      seed: seed * 1009, signal, recalibrate, softTargets, onEpoch, ...(prunable ? { prunable } : {}),
    });
    const ev = evaluate(model, data.val);
    return { accuracy: ev.accuracy, correct: ev.correct, steps: r.stepsRun };
  } finally {
    tf.tidy(() => model.weights.forEach((w, i) => (w.read() as TF.Variable).assign(saved[i])));
    tf.dispose(saved);
  }
}

/**
 * The start's warning where the guard's reference is a control far below the dense model (beyond --max-drop and two
 * validation rows): the guard then measures pruning's cost from that lower figure, and says what that allows.
 */
export function controlLossWarning(denseVal: number, reference: { kind: 'control' | 'dense'; accuracy: number }, maxDrop: number, valRows: number, metric: string): string | undefined {
  const lost = denseVal - reference.accuracy;
  // What the guard allows beyond --max-drop for the validation rows' noise, at most: two rows (right/wrong rows), --max-drop (R²).
  const noise = metric === 'R²' ? maxDrop / 100 : 2 / Math.max(1, valRows);
  if (reference.kind !== 'control' || !(lost > Math.max(maxDrop / 100, metric === 'R²' ? 0 : noise) + 1e-9)) return undefined;
  const pts = (v: number) => (100 * v).toFixed(2);
  return `the dense model fine-tuned like one step, unpruned (the guard's control), scores ${pts(lost)} points below the dense model on the validation rows: ` +
    `the guard measures what pruning costs from that lower figure, so the pruned model may end up to ${pts(lost + maxDrop / 100 + noise)} points below your dense model there and still pass (${pts(lost)} + --max-drop ${maxDrop} + up to ${pts(noise)} for the rows' noise); ` +
    'plain fine-tuning that costs this much is a sign that the fine-tuning (Adam, its learning rate, the loss in use) does not suit the model as trained, or of data prepared otherwise than for its training';
}

/** The weight each class's training rows get (rowWeights over the training split), by class name: what fine-tuning draws by. */
function trainingClassWeights(data: Dataset, weights: ClassWeights): Record<string, number> {
  const w = classWeightsOf(data.train.labels, weights, data.classNames.length);
  return Object.fromEntries(data.classNames.flatMap((c, i) => (Number.isFinite(w[i]) ? [[c, +w[i].toPrecision(4)]] : [])));
}

/** A class whose validation rows a fine-tuned model recalls far fewer of than the model as given (classesLost). */
export interface LostClass { name: string; rows: number; dense: number; now: number }

/**
 * The classes of single-label validation rows (`labels`) that a model recalls on at least CLASS_LOST_MIN_ROWS rows as
 * given (`dense`: per-row correctness) and on at most half as many after fine-tuning (`now`), the loss beyond noise
 * (rows lost minus rows gained above GUARD_Z standard errors, paired on the class's rows): a model trained with class
 * weights or oversampling, fine-tuned on the plain loss of the rows as given, is pulled toward its common classes, pruned
 * or not (a new user's bird-strike model, 10 % damaged, trained with them ×5: its control recalled 15 of the 47
 * validation rows the model as given recalled, at exactly the majority's accuracy, and the steps were judged from there).
 */
export function classesLost(labels: ArrayLike<number>, dense: ArrayLike<number>, now: ArrayLike<number>, names: readonly string[] = []): LostClass[] {
  const by = new Map<number, { rows: number; dense: number; now: number; lost: number; gained: number }>();
  for (let i = 0; i < labels.length; i++) {
    const c = by.get(labels[i]) ?? { rows: 0, dense: 0, now: 0, lost: 0, gained: 0 };
    c.rows++;
    c.dense += dense[i];
    c.now += now[i];
    if (dense[i] > now[i]) c.lost++;
    if (now[i] > dense[i]) c.gained++;
    by.set(labels[i], c);
  }
  return [...by.entries()].sort((a, b) => a[0] - b[0])
    .filter(([, c]) => c.dense >= CLASS_LOST_MIN_ROWS && c.now <= c.dense / 2 && c.lost - c.gained > GUARD_Z * Math.sqrt(c.lost + c.gained))
    .map(([k, c]) => ({ name: names[k] ?? String(k), rows: c.rows, dense: c.dense, now: c.now }));
}

/** Fewest validation rows a class must be recalled on as given for its loss to be read as more than noise (classesLost). */
export const CLASS_LOST_MIN_ROWS = 3;

/** The start warning where fine-tuning alone (the guard's control) lost classes: what it means and the way round. */
export function controlLostClassesWarning(lost: readonly LostClass[], steps: number, weighted = false): string {
  const each = lost.map((c) => `'${c.name}' on ${c.now} of its ${c.rows} validation rows (as given: ${c.dense})`).join(', ');
  const recalls = `recalls ${lost.length > 1 ? 'classes' : 'class'} ${each}`;
  if (weighted) {
    return `fine-tuning alone with the class weights given, unpruned (the guard's control, ${steps} optimizer steps), ${recalls}: these weights pull the model ` +
      'away from what it was trained to find; give the weights it was trained with (--class-weight, a larger weight on these classes), and read the pruned ' +
      "model's recall per class (report.json final.classes)";
  }
  return `fine-tuning alone, unpruned (the guard's control, ${steps} optimizer steps), ${recalls}: ` +
    'autoprune fine-tunes on the plain loss of the training rows as given, so a model trained with class weights or oversampling is pulled toward its ' +
    'common classes, pruned or not, and the guard, judging accuracy, does not stop it; give the class weights it was trained with ' +
    '(--class-weight, e.g. balanced: fine-tuning then draws rows by them and the guard judges the weighted accuracy), or training rows with the rare ' +
    "classes repeated as in training, and read the pruned model's recall per class (report.json final.classes)";
}

/**
 * The sparsities of `n` increments from `from` to `to` on Zhu & Gupta's cubic schedule (large increments
 * first, while the network has most to give; the last ones small): from + (to − from)·(1 − (1 − j/n)³).
 */
export function gradualLevels(from: number, to: number, n: number): number[] {
  const k = Math.max(1, Math.round(n));
  return Array.from({ length: k }, (_, j) => (j === k - 1 ? to : from + (to - from) * (1 - (1 - (j + 1) / k) ** 3)));
}

/** A validation round's figures as the epoch events carry them (validation loss where the round was validated). */
function roundFigures(e: { loss: number; valAccuracy?: number; valLoss?: number }): { loss: number; valAccuracy?: number; valLoss?: number } {
  return { loss: e.loss, valAccuracy: e.valAccuracy, ...(e.valLoss != null ? { valLoss: e.valLoss } : {}) };
}

async function timedAsync<T>(phases: Record<string, number>, phase: string, f: () => Promise<T>): Promise<T> {
  const t = Date.now();
  try { return await f(); } finally { phases[phase] = (phases[phase] ?? 0) + (Date.now() - t) / 1000; }
}
