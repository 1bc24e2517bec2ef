/**
 * Pruning inside the user's own training: a tfjs callback for `model.fit` / `model.fitDataset` (TF-MOT's
 * `prune_low_magnitude` + `UpdatePruningStep`, scored by autoprune's policy), and one-shot helpers for custom
 * loops. The user keeps their optimizer, loss, augmentation and data pipeline; autoprune only decides which
 * connections go (policy scores on calibration rows), when (a cubic schedule over the training's optimizer
 * steps) and keeps them at exactly 0 (re-masked after every batch).
 */
import type * as TF from '@tensorflow/tfjs';
import { TfCallback, tf } from './backend/tf.js';
import { disposeSplit, headOf, type Split } from './data/dataset.js';
import { UsageError } from './errors.js';
import { checkNotDisposed, FOREIGN_TFJS, shownValue } from './options.js';
import { refuseUnknownKeys } from './util/unknown-keys.js';
import { extractScored, scoreLayerWith } from './features/extract.js';
import { metricName, metricValue, rememberTask, TASK_KINDS, taskOf, unknownLossFunction, type TaskInfo, type TaskKind } from './models/task.js';
import { ONE_SHOT_POLICY, resolveScorer } from './policy/io.js';
import type { Scorer } from './policy/types.js';
import { checkedScorer } from './policy/checked.js';
import { disposeSnapshot, PrunableModel, type Snapshot } from './pruning/prunable-model.js';
import { evaluate } from './models/train.js';
import { judge, majorityShare } from './agent/guard.js';
import { checkClassWeightTask, resolveClassWeights, rowWeights, type ClassWeightSpec } from './data/class-weight.js';
import { pruneByScores } from './pruning/select.js';

/** Calibration rows for the policy's features: a Split, or inputs with the targets the model is trained on. */
export type Calibration = Split | { x: TF.Tensor; y: TF.Tensor };

export interface PruneScheduleOptions {
  /** Target sparsity in (0, 1): the fraction of the prunable kernel weights zeroed at the end. */
  target: number;
  /** Rows the policy computes its features on (activations, gradients); the first 1,024 are used. */
  calibration: Calibration;
  /**
   * Policy name ('default', a baseline such as 'global-magnitude', a spec such as 'default@0.25+lamp'), a policy file,
   * or a Scorer. Default: 'default' for the callback's gradual schedule; for `pruneOnce`'s single cut
   * 'default@0.25+lamp' (ONE_SHOT_POLICY: the policy as a bounded correction of LAMP, docs/policy.md).
   */
  policy?: string | Scorer;
  /** Kernels never to prune (glob patterns, as the exclude option of autoprune()). */
  exclude?: readonly string[];
  /** What the model was trained for, when its compiled loss does not say (see the task option of autoprune()). */
  task?: TaskKind;
}

const SCHEDULE_KEYS: Record<keyof PruneScheduleOptions, true> = { target: true, calibration: true, policy: true, exclude: true, task: true };

export interface PruningCallbackOptions extends PruneScheduleOptions {
  /** Optimizer step (batch, counted from 0 over the whole fit) of the first prune. Default 0. */
  beginStep?: number;
  /**
   * Optimizer steps by which the target is reached: its prune comes before step endStep − 1 (0-based), so a fit — or a
   * loop of fits with this callback — of endStep steps trains its last step at the target. Default: two thirds of the
   * first fit's steps (from its epochs and batches per epoch), so the last third fine-tunes at the target. Required when the fit does not say how many
   * batches an epoch has (fitDataset over a dataset of unknown size without batchesPerEpoch: the callback then refuses
   * to start, naming endStep).
   */
  endStep?: number;
  /** Optimizer steps between prunes. Default: an eighth of the pruning span (8 increments plus the first). */
  frequency?: number;
  /** Called after each prune. */
  onPrune?: (e: { step: number; sparsity: number }) => void;
  /**
   * An accuracy guard on the user's validation rows. The task's metric (accuracy, exact-match accuracy, R²)
   * is measured before training (the reference) and after every epoch in which masks changed; an epoch whose
   * paired drop below the reference, row for row, is beyond `maxDrop` points (default 1, as autoprune()) by
   * more than the rows' noise allows (the agent's rule: maxDrop + min(1.64 s.e., two rows);
   * docs/agent.md, "Guard") is undone: weights and masks go back to the last epoch that held, and the schedule
   * stops there (the rest of the fit fine-tunes at that sparsity; a fit that ends short of the target says so in
   * a process warning). Default: no guard (the schedule is followed whatever the metric does). `classWeight`
   * (single-label classifiers; keys are 0-based output indices): the guard judges the class-weighted accuracy, with
   * 'balanced' balanced accuracy (the fit's own `classWeight` is yours to pass to `fit`; data/class-weight.ts).
   */
  guard?: { validation: Calibration; maxDrop?: number; classWeight?: ClassWeightSpec };
  /** Called when the guard undoes an epoch. */
  onRollback?: (e: GuardRollback) => void;
}

const CALLBACK_KEYS: Record<keyof PruningCallbackOptions, true> = {
  ...SCHEDULE_KEYS, beginStep: true, endStep: true, frequency: true, onPrune: true, guard: true, onRollback: true,
};

/** The model and options a caller passes: an object of known keys, and a LayersModel of autoprune's tfjs. */
function checkCall(model: unknown, options: unknown, known: Record<string, true>, what: string): void {
  if (model == null || typeof model !== 'object' || typeof (model as { predict?: unknown }).predict !== 'function') {
    throw new UsageError(`${what}: the model must be a tfjs LayersModel, got '${String(model)}'`);
  }
  if (!(model instanceof tf.LayersModel)) throw new UsageError(`${what}: the model: ${FOREIGN_TFJS}`);
  checkNotDisposed(model, `${what}: the model`);
  // One input and one output, as autoprune() takes (the targets and the guard's metric read one output): refused here,
  // not by a tfjs error from inside the fit.
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new UsageError(`${what}: model '${model.name}' has ${model.inputs.length} input(s) and ${model.outputs.length} output(s); autoprune prunes models with one input and one output`);
  }
  if (options == null || typeof options !== 'object') throw new UsageError(`${what}: options must be an object, e.g. { target: 0.9, calibration: { x, y } }`);
  // A guard's maxDrop given beside it, not inside: named where it belongs.
  refuseUnknownKeys(options, Object.keys(known), what, known.guard ? { maxdrop: 'guard.maxDrop', maxDrop: 'guard.maxDrop' } : {});
  const o = options as Record<string, unknown>;
  if (o.exclude != null && !(Array.isArray(o.exclude) && o.exclude.every((p) => typeof p === 'string'))) {
    throw new UsageError(`exclude must be a list of glob patterns of kernel names, e.g. ['dense_1', 'conv*'], got ${shownValue(o.exclude)}`);
  }
  if (o.task != null && !(TASK_KINDS as readonly unknown[]).includes(o.task)) {
    throw new UsageError(`task must be one of ${TASK_KINDS.join(', ')}, got ${shownValue(o.task)}`);
  }
  for (const k of ['onPrune', 'onRollback'] as const) {
    if (o[k] != null && typeof o[k] !== 'function') throw new UsageError(`${k} must be a function, got ${shownValue(o[k])}`);
  }
  if (o.guard != null) {
    if (typeof o.guard !== 'object') throw new UsageError(`guard must be an object, e.g. { validation: { x, y }, maxDrop: 1 }, got ${shownValue(o.guard)}`);
    refuseUnknownKeys(o.guard, ['validation', 'maxDrop', 'classWeight'], `${what}'s guard`);
  }
}

/** An epoch the guard undid: its sparsity and metric, and the state the model went back to. */
export interface GuardRollback {
  epoch: number;
  sparsity: number;
  metric: number;
  reference: number;
  /** Paired drop below the reference on the validation rows, and the most the guard allowed there (fractions). */
  drop: number;
  allowedDrop: number;
  /** Sparsity restored (and held for the rest of the fit). */
  restoredSparsity: number;
}

/**
 * Why the guard's reference — the model before the fit — gives it little to hold, or undefined: a classifier no better
 * than always answering the validation rows' most common class (one row, 1 point), or a value model at R² ≤ 0.02. A new
 * user's guarded fit of an untrained model (the README's pattern) fell to 27 % from 71 % with no rollback and no word.
 */
function untrainedReference(task: TaskInfo, val: Split, metric: number): string | undefined {
  const rows = val.x.shape[0];
  let floor: string;
  if (task.kind === 'classification') {
    const majority = majorityShare(val.labels, val.weights).share;
    if (metric > majority + Math.max(0.01, 1 / Math.max(1, rows))) return undefined;
    floor = `always answering the most common class (${metricValue(task.kind, majority)})`;
  } else if (task.kind === 'regression' || task.kind === 'autoencoder') {
    if (metric > 0.02) return undefined;
    floor = 'predicting the mean (R² 0)';
  } else return undefined;
  return `the guard's reference, the model before this fit, scores ${val.weights ? 'class-weighted accuracy' : metricName(task.kind)} ${metricValue(task.kind, metric)} on the ${rows} validation rows, no better than ${floor}: ` +
    'each epoch is held to within maxDrop of that, which holds little back (a model not trained yet, or a class too rare to tell from the rest on these rows); ' +
    'a model not trained yet: train it first and prune in a later fit, or fit without the guard';
}

/** The figures tfjs-layers gives a callback at an epoch's end: numbers, or scalars it owns until History reads them. */
type EpochLogs = Parameters<TF.Callback['onEpochEnd']>[1];

/** The callback whose fit of a model has begun and run no batch yet: a second one in the same fit is refused. */
const beginning = new WeakMap<TF.LayersModel, PruningCallback>();

/** The sparsity the cubic schedule asks for at optimizer step `step` (Zhu & Gupta, 2017). */
export function scheduledSparsity(step: number, o: { initial: number; target: number; beginStep: number; endStep: number }): number {
  // (The end first: a schedule of one step, endStep = beginStep, prunes to the target at it.)
  if (step >= o.endStep) return o.target;
  if (step <= o.beginStep) return o.initial;
  const t = (step - o.beginStep) / (o.endStep - o.beginStep);
  return o.target + (o.initial - o.target) * (1 - t) ** 3;
}

function checkTarget(target: unknown): number {
  if (typeof target !== 'number' || !(target > 0 && target < 1)) throw new UsageError(`target must be a number strictly between 0 and 1, got ${shownValue(target)}`);
  return target;
}

/** Calibration rows as a Split of at most 1,024 rows owned by the caller of this function. */
function calibrationSplit(c: Calibration, model: TF.LayersModel, rows = 1024, what = 'calibration'): Split {
  if (c == null || typeof c !== 'object' || !('x' in c)) {
    throw new UsageError(what === 'calibration'
      ? `${what} is required: training rows to score connections on, as { x, y } tensors (or a Split with labels), e.g. { calibration: { x: xTrain, y: yTrain } }`
      : `${what} is required: the validation rows the guard scores the model on after each pruning step, as { x, y } tensors (or a Split with labels), e.g. { guard: { validation: { x: xVal, y: yVal }, maxDrop: 1 } }`);
  }
  checkShapes(c, model, what);
  if ('labels' in c) return headOf(c, rows);
  const task = taskOf(model);
  const n = Math.min(rows, c.x.shape[0]);
  if (c.y.shape[0] !== c.x.shape[0]) throw new UsageError(`${what} has ${c.x.shape[0]} inputs but ${c.y.shape[0]} targets`);
  checkTargetsShape(c.y, model, task, what);
  const x = tf.slice(c.x, 0, n);
  const y = tf.slice(c.y, 0, n);
  if (task.kind !== 'classification') return { x, labels: new Int32Array(n), y };
  // Class targets: one-hot rows (their argmax), or class indices / 0-1 values.
  const classes = tf.tidy(() => (y.rank >= 2 && y.shape[y.rank - 1]! > 1 ? tf.argMax(y, -1) : tf.round(y.reshape([-1])).toInt()));
  const labels = classes.dataSync();
  classes.dispose();
  y.dispose();
  return { x, labels: Int32Array.from(labels) };
}

const dims = (shape: readonly (number | null)[]) => `[${shape.map((d) => d ?? 'any').join(', ')}]`;

/** Rows of the model's input shape (a raw tfjs error from inside model.fit would not name the calibration). */
function checkShapes(c: Calibration, model: TF.LayersModel, what: string): void {
  if (!(c.x instanceof tf.Tensor)) throw new UsageError(`${what}.x must be a tensor of input rows, got ${shownValue(c.x)}`);
  if (!('labels' in c) && !(c.y instanceof tf.Tensor)) throw new UsageError(`${what}.y must be a tensor of the targets the model is trained on, got ${shownValue(c.y)}`);
  const freed = [...(c.x.isDisposed ? [`${what}.x`] : []), ...(!('labels' in c) && c.y.isDisposed ? [`${what}.y`] : [])];
  if (freed.length) throw new UsageError(`${freed.join(' and ')}: the tensor${freed.length > 1 ? 's were' : ' was'} disposed: pass tensors that are not`);
  const want = model.inputs[0].shape.slice(1);
  const got = c.x.shape.slice(1);
  if (got.length !== want.length || want.some((d, i) => d != null && d !== got[i])) {
    // Rows of the same size in another layout (flat MNIST pixels for a [28, 28, 1] input): say the reshape.
    const size = (d: readonly (number | null)[]) => d.reduce<number>((a, v) => a * (v ?? NaN), 1);
    const same = size(got) === size(want) && want.every((d) => d != null);
    throw new UsageError(`${what}.x has rows of shape ${dims(got)}, but the model takes ${dims(want)}` +
      (same ? `: the same ${size(want)} values per row, so reshape them first (x.reshape([-1, ${want.join(', ')}]))` : ''));
  }
}

/** Targets of the model's output: one-hot rows or class ids of its classes, or rows of its output's size. */
function checkTargetsShape(y: TF.Tensor, model: TF.LayersModel, task: TaskInfo, what: string): void {
  const out = model.outputs[0].shape.slice(1);
  const width = out.reduce<number>((a, d) => a * (d ?? 1), 1);
  const rowSize = y.shape.slice(1).reduce((a, d) => a * d, 1);
  if (task.kind === 'classification') {
    const classes = width > 1 ? width : 2;
    if (rowSize > 1 && rowSize !== width) throw new UsageError(`${what}.y has one-hot rows of ${rowSize} classes, but the model has ${width} outputs`);
    if (rowSize === 1) {
      // Values that are no class index (a regression model compiled with a loss function of the user's own, read as a
      // binary classifier from its one linear output): said with the task the model was read as, and how to name another.
      const [top, bottom, fraction] = tf.tidy(() => {
        const v = tf.reshape(y, [-1]).toFloat();
        return Array.from(tf.stack([tf.max(v), tf.min(v), tf.max(tf.abs(tf.sub(v, tf.round(v))))]).dataSync());
      });
      const read = `the model reads as a classifier (${task.evidence}${unknownLossFunction(model) ? '; its loss is a function of your own, which does not say the task' : ''}): ` +
        "for a model that predicts values, pass task: 'regression'";
      if (fraction > 1e-6) throw new UsageError(`${what}.y holds values that are not class indices (${+bottom.toPrecision(4)} to ${+top.toPrecision(4)}, not whole numbers): ${read}; for class targets give their indices, or one-hot rows`);
      if (!(top < classes) || bottom < 0) throw new UsageError(`${what}.y holds class ${!(top < classes) ? top : bottom}, but the model has ${classes} classes (0…${classes - 1}): ${read}`);
    }
  } else if (rowSize !== width) {
    throw new UsageError(`${what}.y has rows of shape ${dims(y.shape.slice(1))}, but the model's output is ${dims(out)}`);
  }
}

/** The guard's validation rows (at most 10,000), owned by the callback. */
function guardSplit(c: Calibration, model: TF.LayersModel, classWeight?: ClassWeightSpec): Split {
  // (Refused for other tasks before the rows are read.)
  if (classWeight != null) checkClassWeightTask(taskOf(model).kind, 'guard.classWeight');
  const split = calibrationSplit(c, model, 10_000, 'guard.validation');
  if (classWeight == null) return split;
  try {
    // Classes by output index: the callback has no names (a classifier of one sigmoid output has two classes).
    const classes = Math.max(2, split.labels.reduce((a, b) => Math.max(a, b + 1), 0), ...model.outputs.map((o) => o.shape[o.shape.length - 1] ?? 0));
    const weights = resolveClassWeights(classWeight, Array.from({ length: classes }, (_, i) => String(i)), 'guard.classWeight');
    return { ...split, weights: rowWeights(split.labels, weights) };
  } catch (err) {
    disposeSplit(split);
    throw err;
  }
}

/** Scores the live connections of `pm` with `scorer` on `calib` and prunes up to `sparsity`. */
function pruneWith(pm: PrunableModel, calib: Split, scorer: Scorer, sparsity: number): void {
  const perLayer = scoreLayerWith(scorer);
  const { features, scores } = extractScored(pm, calib, perLayer, { chunk: perLayer.chunk, needs: perLayer.needs });
  pruneByScores(pm, scores, features, sparsity);
}

/**
 * One-shot: scores `model`'s connections with the policy on the calibration rows and zeros them up to
 * `target`, in place. Returns the masks (a PrunableModel view: `applyMasks()` after each optimizer step of a
 * custom loop keeps the pruned weights at 0; `dispose()` when done). No fine-tuning: that is the caller's loop.
 */
export function pruneOnce(model: TF.LayersModel, options: PruneScheduleOptions): PrunableModel {
  checkCall(model, options, SCHEDULE_KEYS, 'pruneOnce');
  const target = checkTarget(options.target);
  rememberTask(model, options.task);
  const scorer = typeof options.policy === 'object' ? checkedScorer(options.policy) : resolveScorer(options.policy ?? ONE_SHOT_POLICY);
  // The calibration rows are checked before the masks exist: a refusal leaves no tensor behind.
  const calib = calibrationSplit(options.calibration, model);
  let pm: PrunableModel;
  try {
    pm = new PrunableModel(model, { exclude: options.exclude ?? [] });
  } catch (err) {
    disposeSplit(calib);
    throw err;
  }
  try {
    pruneWith(pm, calib, scorer, target);
    return pm;
  } catch (err) {
    pm.dispose();
    throw err;
  } finally {
    disposeSplit(calib);
  }
}

/**
 * A callback for the user's `model.fit` / `model.fitDataset` that prunes `model` toward `target` on a cubic
 * schedule over the training's optimizer steps, policy-scored on the calibration rows, and keeps pruned
 * weights at exactly 0 after every batch, whatever the optimizer. After training, `strip()` frees the masks
 * and returns the model, a plain LayersModel whose pruned weights are 0 (save it as usual).
 *
 * With `guard` it measures the task's metric on the user's validation rows after every epoch that pruned, and
 * undoes an epoch that falls more than `maxDrop` points below the dense reference (weights and masks back to
 * the last epoch that held; the schedule stops there). `history` records each prune, `rollbacks` each undo.
 * autoprune() adds what a callback cannot: adaptive step sizes, a paired statistical guard, a budget.
 *
 *     const pruner = new PruningCallback(model, { target: 0.9, calibration: { x: xTrain, y: yTrain } });
 *     await model.fit(xTrain, yTrain, { epochs: 12, batchSize: 64, callbacks: [pruner] });
 *     const pruned = pruner.strip();
 */
export class PruningCallback extends TfCallback {
  /** The masks (a view over the model's prunable kernels). */
  readonly masks: PrunableModel;
  /**
   * Each prune: optimizer step and the sparsity reached (fraction of the prunable kernel weights); an epoch the guard
   * undid adds an entry with `rolledBack: true` and the sparsity it went back to, so the last entry is the sparsity now.
   */
  readonly history: { step: number; sparsity: number; rolledBack?: true }[] = [];
  private readonly scorer: Scorer;
  private readonly calib: Split;
  private readonly o: PruningCallbackOptions;
  private readonly target: number;
  private readonly initial: number;
  private plan: { beginStep: number; endStep: number; frequency: number } | undefined;
  private stepsDone = 0;
  /** This fit's first step and planned steps (NaN: unknown): whether it was meant to reach the schedule's end. */
  private fit = { start: 0, steps: NaN };
  /** Whether the last fit's end said it stopped short of the target (strip() then says nothing more). */
  private shortSaid = false;
  private stripped = false;
  /** Epochs the guard undid. */
  readonly rollbacks: GuardRollback[] = [];
  private readonly val: Split | undefined;
  private readonly maxDrop: number;
  /** The model before the fit on the guard's validation rows: its metric, and per-row scores (compared row for row). */
  private reference: { accuracy: number; correct: Float32Array } | undefined;
  private good: Snapshot | undefined;
  private goodSparsity = 0;
  /** Sparsity the schedule may not pass (set when the guard undoes an epoch). */
  private ceiling = 1;
  private prunedSinceCheck = false;
  /** Puts back the compiled optimizer's own applyGradients (while a fit runs, it masks after every update). */
  private unpatch: (() => void) | undefined;
  /** Set by each batch of this callback's fit, taken by its update: an update without it is outside the fit. */
  private updateDue = false;
  /** The error of a prune that failed inside this fit's batch (the scorer's, onPrune's): thrown at the epoch's end (abandon). */
  private failed: { error: unknown } | undefined;

  constructor(readonly prunedModel: TF.LayersModel, options: PruningCallbackOptions) {
    super();
    checkCall(prunedModel, options, CALLBACK_KEYS, 'PruningCallback');
    this.target = checkTarget(options.target);
    for (const k of ['beginStep', 'endStep', 'frequency'] as const) {
      const v = options[k];
      if (v != null && !(Number.isInteger(v) && v >= (k === 'frequency' ? 1 : 0))) throw new UsageError(`${k} must be a whole number ≥ ${k === 'frequency' ? 1 : 0}, got ${shownValue(v)}`);
    }
    this.o = options;
    rememberTask(prunedModel, options.task);
    this.scorer = typeof options.policy === 'object' ? checkedScorer(options.policy) : resolveScorer(options.policy ?? 'default');
    this.masks = new PrunableModel(prunedModel, { exclude: options.exclude ?? [] });
    const g = options.guard;
    if (g != null && (g.maxDrop != null && !(typeof g.maxDrop === 'number' && g.maxDrop >= 0 && g.maxDrop <= 100))) {
      this.masks.dispose();
      throw new UsageError(`guard.maxDrop must be a number in [0, 100] percentage points, got ${shownValue(g.maxDrop)}`);
    }
    this.maxDrop = g?.maxDrop ?? 1;
    let calib: Split | undefined;
    try {
      calib = calibrationSplit(options.calibration, prunedModel);
      this.val = g ? guardSplit(g.validation, prunedModel, g.classWeight) : undefined;
      this.calib = calib;
    } catch (err) {
      if (calib) disposeSplit(calib);
      this.masks.dispose();
      throw err;
    }
    this.initial = this.masks.sparsity().global;
  }

  /** Plans the schedule from the fit's epochs and batches per epoch (tfjs passes them as params). */
  override async onTrainBegin(): Promise<void> {
    // A fit of another tfjs copy does not know this class: it calls these methods on its own wrapper object.
    if (!(this instanceof PruningCallback)) throw new UsageError(`PruningCallback: the fit: ${FOREIGN_TFJS}`);
    if (this.stripped) throw new UsageError('this PruningCallback was stripped; create a new one for another fit');
    // Two callbacks of one model in one fit (their onTrainBegin with no batch between): each masks with its own masks, and
    // one's sparsity() said 0.5 of a model at 0.8 zeros. Refused; the entry is cleared so that the next fit can run.
    const other = beginning.get(this.prunedModel);
    if (other && other !== this) {
      beginning.delete(this.prunedModel);
      // The other's fit never reaches its onTrainEnd: its wrapper of the optimizer's update goes now (left in place, a
      // later fit's wrapper was deleted by it and the masks went unapplied inside the updates).
      other.unpatch?.();
      throw new UsageError(`PruningCallback: this fit has two PruningCallbacks of model '${this.prunedModel.name}' (targets ${other.target} and ${this.target}): each would prune by its own masks and report the other's zeros wrongly; pass one`);
    }
    this.shortSaid = false;
    this.failed = undefined;
    this.planFit();
    // Only once the fit is planned (a refusal above, e.g. "set endStep", leaves nothing to be taken for a second callback).
    beginning.set(this.prunedModel, this);
  }

  /** The fit's steps, and on the first fit the schedule; the masks go inside the optimizer's update. */
  private planFit(): void {
    const p = (this.params ?? {}) as Record<string, unknown>;
    // A fit resumed at initialEpoch runs epochs − initialEpoch epochs (a new user's fit from epoch 3 of 9 was planned over 9).
    const epochs = Number(p.epochs ?? NaN) - (typeof p.initialEpoch === 'number' && p.initialEpoch > 0 ? p.initialEpoch : 0);
    const perEpoch = typeof p.steps === 'number' && p.steps > 0
      ? p.steps
      : typeof p.samples === 'number' && typeof p.batchSize === 'number' ? Math.ceil(p.samples / p.batchSize) : NaN;
    const total = epochs * perEpoch;
    this.fit = { start: this.stepsDone, steps: total };
    if (this.plan) { this.maskInsideUpdates(); return; }
    const beginStep = this.o.beginStep ?? 0;
    let endStep = this.o.endStep;
    if (endStep == null) {
      if (!Number.isFinite(total)) throw new UsageError('PruningCallback: this fit does not say how many batches an epoch has (fitDataset without batchesPerEpoch): set endStep');
      endStep = Math.max(beginStep + 1, Math.round((2 / 3) * total));
    }
    if (endStep <= beginStep) throw new UsageError(`PruningCallback: endStep (${endStep}) must be after beginStep (${beginStep})`);
    // Legal (a schedule may span several fits: a loop of fit({ epochs: 1 })), but this fit ends short of the target: said
    // once, here; the fits after it say nothing until one that was to reach the target ends short of it.
    if (Number.isFinite(total) && endStep > total) {
      process.emitWarning(`PruningCallback: endStep ${endStep} is after this fit's last optimizer step (${total}): this fit ends before the schedule reaches the target ${this.target}; ` +
        `fit on with this callback to continue the schedule (a loop of fits), or set endStep ≤ ${total}`, 'AutopruneWarning');
    }
    // "By step endStep": steps are 0 … endStep − 1, so the target's prune comes before step endStep − 1 — a fit, or a loop
    // of fits, of endStep steps trains its last step at the target (a prune before step endStep would never come).
    if (endStep - 1 >= beginStep) endStep -= 1;
    this.maskInsideUpdates();
    this.plan = { beginStep, endStep, frequency: this.o.frequency ?? Math.max(1, Math.round((endStep - beginStep) / 8)) };
    if (this.val) {
      const { accuracy, correct } = evaluate(this.prunedModel, this.val);
      this.reference = { accuracy, correct };
      const weak = untrainedReference(taskOf(this.prunedModel), this.val, accuracy);
      if (weak) process.emitWarning(`PruningCallback: ${weak}`, 'AutopruneWarning');
      this.good = this.masks.snapshot();
      this.goodSparsity = this.masks.sparsity().global;
    }
  }

  /** The guard: keep the epoch (new last-good state) or undo it and hold the sparsity. */
  override async onEpochEnd(epoch: number, logs?: EpochLogs): Promise<void> {
    if (this.failed) return this.abandon(this.failed.error, logs);
    try {
      this.guardEpoch(epoch);
    } catch (err) {
      return this.abandon(err, logs);
    }
  }

  /**
   * Ends a fit whose prune (or guard) failed, with none of the fit's tensors left allocated. tfjs-layers frees an epoch's
   * tensors (its row order or fitDataset's batch, the running loss and metric sums) only as the epoch runs on, and
   * History's figures only after the last epoch: thrown from the batch, a failed prune left 3 tensors of a fit with one
   * metric, and more for each epoch History had recorded. So that batch updates nothing (maskInsideUpdates), the fit
   * stops after it, and the error is thrown here, once the epoch's figures (History, the fit's last callback, has not
   * recorded them) and History's earlier ones are freed. Callbacks listed before this one see that epoch end.
   */
  private async abandon(error: unknown, logs: EpochLogs | undefined): Promise<never> {
    this.failed = undefined;
    for (const v of Object.values(logs ?? {})) if (typeof v !== 'number') v.dispose();
    // (this.model: the model whose fit runs; a Sequential's fit is its inner model's, with that model's History.)
    await this.model.history.syncData();
    if (beginning.get(this.prunedModel) === this) beginning.delete(this.prunedModel);
    this.unpatch?.();
    throw error;
  }

  private guardEpoch(epoch: number): void {
    if (!this.val || !this.prunedSinceCheck || !this.reference) return;
    this.prunedSinceCheck = false;
    const now = evaluate(this.prunedModel, this.val);
    const m = now.accuracy;
    const verdict = judge(this.reference.correct, now.correct, this.maxDrop / 100, this.val.weights);
    const sparsity = this.masks.sparsity().global;
    if (verdict.accepted) {
      disposeSnapshot(this.good!);
      this.good = this.masks.snapshot();
      this.goodSparsity = sparsity;
      return;
    }
    this.masks.restore(this.good!);
    this.ceiling = this.goodSparsity;
    const e: GuardRollback = { epoch, sparsity, metric: m, reference: this.reference.accuracy, drop: verdict.drop, allowedDrop: verdict.allowed, restoredSparsity: this.goodSparsity };
    this.rollbacks.push(e);
    this.history.push({ step: this.stepsDone, sparsity: this.goodSparsity, rolledBack: true });
    this.o.onRollback?.(e);
  }

  /** Before a scheduled batch: prune to the schedule's sparsity (the batch then trains with the new masks). */
  override async onBatchBegin(): Promise<void> {
    beginning.delete(this.prunedModel);
    try {
      this.pruneIfDue();
    } catch (error) {
      // Thrown at the epoch's end (abandon): thrown here, it left the fit's tensors allocated.
      this.failed = { error };
      this.model.stopTraining = true;
    }
    this.updateDue = true;
  }

  private pruneIfDue(): void {
    const plan = this.plan!;
    const s = this.stepsDone;
    const due = s >= plan.beginStep && s <= plan.endStep && ((s - plan.beginStep) % plan.frequency === 0 || s === plan.endStep);
    if (!due) return;
    const want = Math.min(this.ceiling, scheduledSparsity(s, { initial: this.initial, target: this.target, beginStep: plan.beginStep, endStep: plan.endStep }));
    if (want <= this.masks.sparsity().global + 1e-9) return;
    pruneWith(this.masks, this.calib, this.scorer, want);
    this.prunedSinceCheck = true;
    const e = { step: s, sparsity: this.masks.sparsity().global };
    this.history.push(e);
    this.o.onPrune?.(e);
  }

  /**
   * The masks are applied inside the optimizer's update, not only after the batch: tfjs runs a fit's validation
   * (`val_loss`, `val_acc` in its logs and history, what EarlyStopping or a checkpoint callback monitors) inside
   * the epoch's last batch, before onBatchEnd, and every update moves pruned weights off 0 (Adam's momentum does
   * even where their gradient is 0). So the compiled optimizer's applyGradients is wrapped for the fit: the
   * update, then the masks. Put back at the end of the fit and by strip(), or at the first update that no batch of
   * this callback's fit announced (a fit that threw never reaches onTrainEnd: a later plain fit must train freely).
   */
  private maskInsideUpdates(): void {
    const opt = this.prunedModel.optimizer as TF.Optimizer | undefined;
    if (!opt || this.unpatch) return;
    const own = Object.prototype.hasOwnProperty.call(opt, 'applyGradients');
    const before = opt.applyGradients;
    const update = before.bind(opt);
    const wrapper: TF.Optimizer['applyGradients'] = (grads) => {
      if (!this.updateDue) {
        this.unpatch?.();
        update(grads);
        return;
      }
      this.updateDue = false;
      // The batch of a failed prune trains nothing: the fit ends with the model as the failure found it.
      if (this.failed) return;
      update(grads);
      if (!this.stripped) this.masks.applyMasks();
    };
    opt.applyGradients = wrapper;
    this.unpatch = () => {
      // Only its own wrapper: one put on top of it since (another callback's) is that one's to remove.
      if (opt.applyGradients === wrapper) {
        if (own) opt.applyGradients = before;
        else delete (opt as Partial<Pick<TF.Optimizer, 'applyGradients'>>).applyGradients;
      }
      this.unpatch = undefined;
    };
  }

  override async onTrainEnd(): Promise<void> {
    if (beginning.get(this.prunedModel) === this) beginning.delete(this.prunedModel);
    this.unpatch?.();
    // The schedule's end fell in this fit, and the guard held it short of the target: said, not left to be noticed.
    const s = this.masks.sparsity().global;
    // The target's prune comes before the plan's endStep (0-based; the option's endStep − 1): a fit that ends before it never made it.
    const ended = this.plan ? this.stepsDone > this.plan.endStep : false;
    const needs = (this.plan?.endStep ?? 0) + 1;
    // A fit of a loop that was never to reach the schedule's end (the first fit's warning said so) ends in silence.
    if (this.plan && !ended && Number.isFinite(this.fit.steps) && this.fit.start + this.fit.steps < needs) return;
    const short = this.shortOfTarget(s, ended, needs);
    if (short) {
      this.shortSaid = true;
      process.emitWarning(`PruningCallback: ${short}`, 'AutopruneWarning');
    }
  }

  /** Why the fit that just ended stopped short of the target, where it did. */
  private shortOfTarget(s: number, ended: boolean, needs: number): string | undefined {
    if (!this.plan || s >= this.target - 1e-6) return undefined;
    if (ended && this.rollbacks.length > 0) {
      const last = this.rollbacks.at(-1)!;
      return `the fit ended at sparsity ${s.toFixed(3)}, short of the target ${this.target}: the guard undid ${this.rollbacks.length} epoch(s) ` +
        `(the last at sparsity ${last.sparsity.toFixed(3)}: ${(100 * last.drop).toFixed(2)} validation points below the reference, ${(100 * last.allowedDrop).toFixed(2)} allowed) and held the schedule there; ` +
        'a larger guard.maxDrop, more validation rows or a longer fit (endStep) can take it further';
    }
    if (ended) return undefined;
    if (this.ceiling < this.target - 1e-6) {
      // The fit ended early, and the guard had held the schedule before: fitting on stays at the hold.
      const last = this.rollbacks.at(-1)!;
      return `the fit ended at step ${this.stepsDone} of the ${needs} the schedule needs (early stopping, a dataset that ran out, or fewer epochs), ` +
        `at sparsity ${s.toFixed(3)}, short of the target ${this.target}, and the guard had held the schedule at ${this.ceiling.toFixed(3)} (it undid ${this.rollbacks.length} epoch(s), the last ` +
        `${(100 * last.drop).toFixed(2)} validation points below the reference, ${(100 * last.allowedDrop).toFixed(2)} allowed): fitting on with this callback stays at that sparsity; ` +
        'a larger guard.maxDrop or more validation rows can take it further';
    }
    // The fit ended before the schedule did (EarlyStopping, a dataset that ran out, fewer epochs than planned).
    return `the fit ended at step ${this.stepsDone} of the ${needs} the schedule needs (early stopping, a dataset that ran out, or fewer epochs), ` +
      `at sparsity ${s.toFixed(3)}, short of the target ${this.target}: fit on with this callback to continue the schedule, or set endStep to the steps the fit surely runs ` +
      '(with EarlyStopping: before it can stop)';
  }

  /** After every batch: the pruned weights are exactly 0 (also where no compiled optimizer could be wrapped). */
  override async onBatchEnd(): Promise<void> {
    if (this.failed) return;
    if (!this.unpatch) this.masks.applyMasks();
    this.stepsDone++;
  }

  /** Sparsity now, of the prunable kernels and of all parameters. */
  sparsity(): { global: number; ofAllParams: number; pruned: number; total: number } {
    if (this.stripped) throw new UsageError('sparsity() after strip(): the masks are freed; read the sparsity before stripping (the stripped model\'s zeros are its pruned weights)');
    const s = this.masks.sparsity();
    const params = this.masks.coverage().params;
    return { global: s.global, ofAllParams: params > 0 ? s.pruned / params : 0, pruned: s.pruned, total: s.total };
  }

  /** Frees the masks and calibration rows; returns the model (pruned weights exactly 0). */
  strip(): TF.LayersModel {
    if (!this.stripped) {
      // The schedule's end never came and no fit's end said so (a loop of fits whose endStep its fits fell short of: each
      // but the first ends in silence, and the loop ended at 0.898 of 0.9): said here, where pruning ends.
      const s = this.masks.sparsity().global;
      if (this.plan && !this.shortSaid && s < this.target - 1e-6) {
        process.emitWarning(`PruningCallback: stripped at sparsity ${s.toFixed(3)}, short of the target ${this.target}: its fits ran ${this.stepsDone} optimizer steps of the ${this.plan.endStep + 1} the schedule needs` +
          `${this.rollbacks.length ? `, and the guard held it at ${this.ceiling.toFixed(3)}` : ''}; fit on before stripping, or set endStep to the steps the fits run`, 'AutopruneWarning');
      }
      this.unpatch?.();
      this.masks.applyMasks();
      this.masks.dispose();
      disposeSplit(this.calib);
      if (this.val) disposeSplit(this.val);
      if (this.good) disposeSnapshot(this.good);
      this.good = undefined;
      this.stripped = true;
    }
    return this.prunedModel;
  }
}
