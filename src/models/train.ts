import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { activationBatch } from './activation-batch.js';
import { recalibrateBatchNorm } from './batchnorm.js';
import type { Split } from '../data/dataset.js';
import type { PrunableModel } from '../pruning/prunable-model.js';
import { abortedError, DataError } from '../errors.js';
import { Rng } from '../util/random.js';
import { clearlyLower } from '../util/paired.js';
import { FlatAdam } from './flat-adam.js';
import { compileChain } from './compiled-chain.js';
import { regrowMasks, type RegrowSchedule } from '../pruning/regrow.js';
import { withSeededRandom } from '../util/seeded-random.js';
import { lossOf, predictedClasses, rowLossesOf, targetsOf, taskOf, type TaskInfo } from './task.js';

export interface TrainOptions {
  /** Passes over the training split. Default 15 (the benchmark protocol's dense budget). Ignored when `steps` is set. */
  epochs?: number;
  /** Optimizer steps (batches) to run; overrides `epochs`. A step may cross an epoch boundary (a new shuffle). */
  steps?: number;
  /**
   * Optimizer steps between validation checks (early stopping, best-weights, lr decay and `onEpoch` run per
   * round). Default: one epoch. On small data a round of at least ~50 steps gives the checks a signal.
   */
  roundSteps?: number;
  /** Default 128. */
  batchSize?: number;
  /** Adam learning rate. Default 1e-3. */
  learningRate?: number;
  /** Seed of the batch order. Default 0. */
  seed?: number;
  /** When given, pruned weights stay exactly 0: gradients are masked and kernels re-masked after every step. */
  prunable?: PrunableModel;
  /** Validation split for early stopping / per-epoch accuracy. */
  val?: Split;
  /**
   * Stop after this many rounds without a validation gain (needs `val`). A gain is a lower validation loss
   * (as Keras' EarlyStopping): smooth, where accuracy moves in whole rows and a small split's accuracy is
   * overfitted by selecting on it. Default: never.
   */
  patience?: number;
  /** When early stopping, restore the weights of the best validation epoch. Default true. */
  restoreBest?: boolean;
  /** Aborts training between batches (throws InterruptedError). */
  signal?: AbortSignal;
  /**
   * Reduce on plateau: multiply the learning rate by this after every epoch without a validation
   * gain (needs `val`). Default: the rate stays.
   */
  lrDecay?: number;
  /**
   * Judge a round against the best one by its rows, not by the mean alone (needs `val`): a round whose validation loss is
   * higher than the best round's by no more than this many standard errors of the paired per-row difference is a tie — it
   * neither decays the learning rate nor counts towards `patience` (the best round's weights stay the ones restored);
   * only a round clearly worse is a plateau. On a few hundred validation rows the mean loss moves up and down by noise
   * from round to round, and each such move used to cut the learning rate, which was near zero after a handful of rounds
   * (docs/agent.md "Budget", Ties). Default: none (every round above the best is a plateau).
   */
  tieZ?: number;
  /**
   * Pruning during training (gradual pruning): each event runs before the optimizer step numbered `at`
   * (0 = before the first), in order; it may change `prunable`'s masks, which the following steps then enforce.
   * Early stopping and the best round only count rounds that end after the last event (an earlier
   * round's weights do not fit the later masks).
   */
  schedule?: ReadonlyArray<{ at: number; run: () => void }>;
  /**
   * Inputs on which BatchNormalization statistics are re-estimated before each validation (recalibrateBatchNorm):
   * a pruned model's moving statistics are stale. Default: none (the statistics training left).
   */
  recalibrate?: TF.Tensor;
  /**
   * Regrowth at fixed sparsity (needs `prunable`): every `every` steps before `until`, each kernel swaps its weakest live
   * weights for the pruned connections with the largest gradient on that step's batch (src/pruning/regrow.ts). Like a
   * schedule event, a swap resets early stopping and the best round. Default: none.
   */
  regrow?: RegrowSchedule;
  /**
   * How gradients are computed: 'auto' uses the compiled gradient where the model is a plain chain of Dense / Conv2D / pooling layers on native
   * TensorFlow (models/compiled-chain.ts; the same gradients, fewer kernels) and tfjs's autodiff otherwise; 'tape' always
   * uses tfjs's autodiff (the reference the speed benchmark times it against). Default 'auto'.
   */
  gradient?: 'auto' | 'tape';
  /**
   * Knowledge distillation (single-label classification with a softmax or logits output): the training targets
   * become `(1 − weight)·labels + weight·probs`, `probs` a teacher's class probabilities on the training split
   * (rows aligned with `data`; see teacherTargets). Validation, early stopping and the metric use the labels.
   * Default: none.
   */
  softTargets?: { probs: TF.Tensor; weight: number };
  /** Called after each epoch. */
  onEpoch?: (e: { epoch: number; loss: number; valAccuracy?: number; valLoss?: number; improved?: boolean }) => void;
}

export interface TrainResult {
  epochs: number;
  /** Rounds (epochs unless `roundSteps` says otherwise) actually run. */
  epochsRun: number;
  /** Optimizer steps actually run. */
  stepsRun: number;
  finalLoss: number;
  /** Validation accuracy, loss and index of the best round (the lowest validation loss): the one whose weights are restored. */
  bestValAccuracy?: number;
  bestValLoss?: number;
  bestEpoch?: number;
  /** Validation loss of each round judged (rounds after the last scheduled event), in order: the fine-tune's curve. */
  valLosses: number[];
  /** The learning rate at the end (lower than the one given where `lrDecay` cut it). */
  learningRate: number;
  seconds: number;
}

/** Whether a model's output is one class distribution (softmax or logits of a single-label classifier): what a teacher can teach. */
const teachable = (task: TaskInfo) => task.kind === 'classification' && (task.output === 'softmax' || task.output === 'logits');

/** Labels mixed with a teacher's probabilities (TrainOptions.softTargets); the labels alone for other tasks. */
function withSoftTargets(y: TF.Tensor, task: TaskInfo, soft: TrainOptions['softTargets']): TF.Tensor {
  if (!soft || soft.weight <= 0 || !teachable(task)) return y;
  if (soft.probs.shape[0] !== y.shape[0] || soft.probs.shape[1] !== y.shape[1]) {
    y.dispose();
    throw new Error(`soft targets of shape [${soft.probs.shape.join(', ')}] do not fit targets of shape [${y.shape.join(', ')}]`);
  }
  const mixed = tf.tidy(() => tf.add(tf.mul(y, 1 - soft.weight), tf.mul(soft.probs, soft.weight)));
  y.dispose();
  return mixed;
}

/**
 * A teacher's class probabilities on `x` for distillation (TrainOptions.softTargets), softened by `temperature`:
 * softmax(log p / T), i.e. the logits divided by T. Undefined where the task has no class distribution to teach.
 */
export function teacherTargets(model: TF.LayersModel, x: TF.Tensor, temperature: number): TF.Tensor | undefined {
  const task = taskOf(model);
  if (!teachable(task)) return undefined;
  const out = predict(model, x);
  return tf.tidy(() => {
    const logits = task.output === 'logits' ? out : tf.log(tf.clipByValue(out, 1e-12, 1));
    const soft = tf.softmax(tf.div(logits, temperature));
    out.dispose();
    return soft;
  });
}

/** `{ ...defaults, ...options }` where an option left `undefined` keeps its default. */
export function withDefaults<D extends object, O extends object>(defaults: D, options: O): D & O {
  const out = { ...defaults } as Record<string, unknown>;
  for (const [k, v] of Object.entries(options)) if (v !== undefined) out[k] = v;
  return out as D & O;
}

export const TRAIN_DEFAULTS = Object.freeze({ epochs: 15, batchSize: 128, learningRate: 1e-3, seed: 0, restoreBest: true });

/**
 * Mini-batch Adam training with a seeded batch order. A fresh optimizer per call: after pruning,
 * Adam's moments of pruned weights start at zero and masked gradients keep them there, so a pruned
 * weight's update is exactly 0 and stays 0 without re-masking after each step (FlatAdam; weights
 * pruned by a schedule event mid-training get their moments zeroed then).
 */
export function train(model: TF.LayersModel, data: Split, options: TrainOptions = {}): TrainResult {
  const steps = trainSteps(model, data, options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * Like train, but yields to the event loop after every batch, so signal handlers (Ctrl-C → AbortSignal)
 * and progress output run during long fine-tunes.
 */
export async function trainAsync(model: TF.LayersModel, data: Split, options: TrainOptions = {}): Promise<TrainResult> {
  const steps = trainSteps(model, data, options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * Each constrained variable projected by its constraint (inside the caller's tidy), and a pruned kernel masked again:
 * the built-in constraints keep zeros, a user's registered one need not.
 */
function applyConstraints(weights: readonly TF.LayerVariable[], pm: PrunableModel | undefined, maskOf: ReadonlyMap<string, number>): void {
  for (const w of weights) {
    const v = w.read() as TF.Variable;
    const projected = w.constraint.apply(v);
    const li = maskOf.get(v.name);
    v.assign(li != null ? tf.mul(projected, pm!.mask(li)) : projected);
  }
}

/** The training loop as a generator that yields after each batch. */
function* trainSteps(model: TF.LayersModel, data: Split, options: TrainOptions): Generator<void, TrainResult> {
  const o = withDefaults(TRAIN_DEFAULTS, options);
  const t0 = Date.now();
  const task = taskOf(model);
  const n = data.labels.length;
  const perEpoch = Math.ceil(n / o.batchSize);
  const totalSteps = o.steps ?? o.epochs * perEpoch;
  const roundSteps = Math.max(1, o.roundSteps ?? perEpoch);
  const y = withSoftTargets(targetsOf(data, task), task, o.softTargets);
  const vars = model.trainableWeights.map((w) => w.read() as TF.Variable);
  // Kernel / bias constraints (maxNorm, nonNeg, unitNorm, minMaxNorm), applied after every update as Keras does (tfjs's
  // own optimizers write the variables directly and skip them): a model fine-tuned without them was written breaking
  // them, and tf.loadLayersModel, which applies them on load, then ran another model than the one measured (a new
  // user's maxNorm(1) layer had a column of norm 1.54; outputs moved by 0.2). Pruned weights stay 0 (masked again).
  const constrained = model.trainableWeights.filter((w) => w.constraint != null);
  /** Each pruned kernel's index in o.prunable, for its mask after the constraint. */
  const maskIndex = new Map(o.prunable?.layers.map((l, i) => [l.kernel.name, i]) ?? []);
  const optimizer = new FlatAdam(vars, o.learningRate);
  const compiled = o.gradient === 'tape' ? undefined : compileChain(model, task, vars);
  // The pruning masks of the trained variables, to the optimizer as one flat vector (1 for biases and unpruned layers).
  const readMasks = (): void => {
    if (!o.prunable) return;
    const pm = o.prunable;
    const maskOf = new Map(pm.layers.map((l, i) => [l.kernel.name, pm.mask(i)]));
    if (!vars.some((v) => maskOf.has(v.name))) return;
    const flatMask = tf.tidy(() => optimizer.flatten(vars.map((v) => maskOf.get(v.name) ?? tf.onesLike(v))));
    // Weights pruned now start from zero moments, so their updates are exactly 0 and they stay 0.
    pm.applyMasks();
    optimizer.setMask(flatMask);
    flatMask.dispose();
  };
  readMasks();
  const events = [...(o.schedule ?? [])].sort((a, b) => a.at - b.at);
  let nextEvent = 0;
  const rng = new Rng(o.seed);
  // The round with the lowest validation loss: its weights (restored at the end) and, with `tieZ`, its per-row losses.
  let best: { acc: number; loss: number; epoch: number; weights?: TF.Tensor[]; rows?: Float32Array } | undefined;
  let lastLoss = NaN;
  let rounds = 0;
  let stepsRun = 0;
  let sinceBest = 0;
  let finalRate: number = o.learningRate;
  const valLosses: number[] = [];
  let perm: Int32Array | undefined;
  let cursor = 0;
  try {
    while (stepsRun < totalSteps) {
      const inRound = Math.min(roundSteps, totalSteps - stepsRun);
      let lossSum = tf.scalar(0);
      for (let b = 0; b < inRound; b++) {
        if (o.signal?.aborted) {
          lossSum.dispose();
          throw abortedError('training interrupted', o.signal);
        }
        if (nextEvent < events.length && events[nextEvent].at <= stepsRun) {
          while (nextEvent < events.length && events[nextEvent].at <= stepsRun) events[nextEvent++].run();
          readMasks();
          // Rounds before this event do not count for early stopping or the best weights.
          best?.weights?.forEach((t) => t.dispose());
          best = undefined;
          sinceBest = 0;
        }
        if (!perm || cursor >= perm.length) {
          // Weighted rows (class weights): an epoch draws each row about its weight's number of times (weightedOrder).
          perm = data.weights ? weightedOrder(rng, data.weights) : rng.permutation(n);
          cursor = 0;
        }
        const idx = perm.subarray(cursor, Math.min(perm.length, cursor + o.batchSize));
        cursor += o.batchSize;
        // Dropout-like layers draw their noise from Math.random: seeded per step, so a seed repeats the run.
        const { value, grads } = withSeededRandom(Math.imul(o.seed + 1, 0x9e3779b1) ^ stepsRun, () => tf.tidy(() => {
          const ib = tf.tensor1d(idx, 'int32');
          const xb = tf.gather(data.x, ib);
          const yb = tf.gather(y, ib);
          if (compiled) return compiled.valueAndGrads(xb, yb);
          // With the layers' regularization losses (kernel / bias regularizers; not a recurrent cell's, which tfjs's RNN
          // layers do not report), as tfjs's fit trains
          // (a model with one is never compiled: compileChain refuses it). The reported loss includes them, as fit's does.
          return tf.variableGrads(() => {
            const loss = lossOf(model.apply(xb, { training: true }) as TF.Tensor, yb, task);
            const reg = model.calculateLosses();
            return (reg.length > 0 ? tf.addN([loss, ...reg]) : loss) as TF.Scalar;
          }, vars);
        }));
        const rg = o.regrow;
        if (rg && o.prunable && stepsRun > (rg.from ?? 0) && (stepsRun - (rg.from ?? 0)) % rg.every === 0 && stepsRun < rg.until) {
          // The unmasked gradient of this batch picks what comes back; the update below already follows the new masks.
          if (regrowMasks(o.prunable, grads, rg.fraction(stepsRun)) > 0) {
            readMasks();
            best?.weights?.forEach((t) => t.dispose());
            best = undefined;
            sinceBest = 0;
          }
        }
        tf.tidy(() => {
          // Pruned weights get a zero gradient and (zero moments) a zero update: no re-masking per step.
          // The gradients are freed once flattened: not needed after, and a full copy less at the step's peak.
          optimizer.step(vars.map((v) => grads[v.name]), true);
          if (constrained.length > 0) applyConstraints(constrained, o.prunable, maskIndex);
          const next = tf.add(lossSum, value) as TF.Scalar;
          value.dispose();
          lossSum.dispose();
          lossSum = tf.keep(next);
        });
        stepsRun++;
        yield;
      }
      lastLoss = lossSum.dataSync()[0] / inRound;
      lossSum.dispose();
      if (!Number.isFinite(lastLoss)) throw divergedError(lastLoss, stepsRun, data);
      const epoch = rounds++;
      let valAccuracy: number | undefined;
      let valLoss: number | undefined;
      let improved: boolean | undefined;
      if (o.val) {
        if (o.recalibrate) recalibrateBatchNorm(model, o.recalibrate);
        // (With tieZ the per-row losses come from the same forward pass.)
        const ev = evaluate(model, o.val, task, o.tieZ != null);
        valAccuracy = ev.accuracy;
        valLoss = ev.loss;
        // A gain: a lower validation loss (smooth; accuracy moves in whole rows and overfits a small split).
        // While scheduled pruning or regrowth is still to come, rounds are reported but not judged.
        if (nextEvent >= events.length && !(o.regrow && stepsRun < o.regrow.until)) {
          improved = !best || ev.loss < best.loss;
          valLosses.push(ev.loss);
          const rows = ev.rows;
          if (improved) {
            best?.weights?.forEach((t) => t.dispose());
            best = { acc: ev.accuracy, loss: ev.loss, epoch, weights: o.patience != null && o.restoreBest ? snapshotWeights(model) : undefined, rows };
            sinceBest = 0;
          } else if (rows && best?.rows && !clearlyLower(best.rows, rows, o.tieZ!)) {
            // A tie: no plateau (the learning rate stays, patience is not spent); the best round stays the one kept.
          } else {
            sinceBest++;
            if (o.lrDecay != null) optimizer.learningRate *= o.lrDecay;
          }
        }
      }
      o.onEpoch?.({ epoch, loss: lastLoss, valAccuracy, valLoss, improved });
      if (o.patience != null && o.val && sinceBest >= o.patience) break;
      // Decayed to nothing (a millionth of the rate it started at: ~12 plateaus at the polish's 0.3): the rounds left would
      // not move a float32 weight of ordinary size, only spend time (a new user's digits MLP: 38 rounds of identical losses).
      if (o.lrDecay != null && optimizer.learningRate < o.learningRate * LR_FLOOR) break;
    }
    // Events past the last step (a schedule longer than the training) still run: the masks end as scheduled.
    while (nextEvent < events.length) events[nextEvent++].run();
    if (best?.weights && o.patience != null && o.restoreBest) {
      const ws = best.weights;
      tf.tidy(() => model.weights.forEach((w, i) => (w.read() as TF.Variable).assign(ws[i])));
    }
    finalRate = optimizer.learningRate;
  } finally {
    best?.weights?.forEach((t) => t.dispose());
    y.dispose();
    optimizer.dispose();
  }
  return {
    epochs: o.epochs,
    epochsRun: rounds,
    stepsRun,
    finalLoss: lastLoss,
    bestValAccuracy: best?.acc,
    bestValLoss: best?.loss,
    bestEpoch: best?.epoch,
    valLosses,
    learningRate: finalRate,
    seconds: (Date.now() - t0) / 1000,
  };
}

/**
 * One epoch's row order where rows are weighted (mean weight 1): row i appears ⌊wᵢ⌋ times and once more with probability
 * wᵢ − ⌊wᵢ⌋, shuffled — the oversampling a model trained with class weights saw, with the gradient of the weighted loss
 * in expectation, and about n rows an epoch (an unweighted epoch is a plain permutation).
 */
export function weightedOrder(rng: Rng, weights: Float32Array): Int32Array {
  const rows: number[] = [];
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    let times = Math.floor(w);
    if (rng.next() < w - times) times++;
    for (let t = 0; t < times; t++) rows.push(i);
  }
  if (rows.length === 0) return rng.permutation(weights.length);
  const order = rng.permutation(rows.length);
  return Int32Array.from(order, (j) => rows[j]);
}

/**
 * Training whose loss became NaN or infinite: the weights are lost (NaN), and every later figure would be
 * meaningless. Almost always the inputs (values far outside what the model was trained on), so it is a
 * DataError naming the largest input.
 */
function divergedError(loss: number, steps: number, data: Split): DataError {
  const largest = tf.tidy(() => tf.max(tf.abs(data.x)).dataSync()[0]);
  return new DataError(
    `fine-tuning diverged: the training loss became ${loss} after ${steps} optimizer steps; the largest input is ` +
    `|x| = ${largest.toPrecision(3)}: inputs far outside what the model was trained on (standardize them with --standardize if it ` +
    'was trained on standardized features) or rows with extreme values');
}

/** The fraction of a fine-tune's starting learning rate below which reduce-on-plateau ends it (see its use). */
export const LR_FLOOR = 1e-6;

/** The smallest fitted decrease over stillImproving's window, relative to the window's mean loss, that counts as a trend. */
export const MIN_TREND = 1e-3;

/**
 * Whether a validation-loss curve is still going down at its end: the least-squares slope over its last half (at least
 * its last 4 rounds) is negative by more than `z` of its standard errors. Round-to-round noise on a small validation
 * split hides a steady descent from "the last round is the lowest", and "the lowest came late" fires on a flat,
 * noisy curve a quarter of the time; a trend test does neither. A trend that only climbs back down from a spike is not
 * one: the last quarter of the window must also reach below the lowest loss before the window.
 */
export function stillImproving(losses: readonly number[], z: number): boolean {
  const m = Math.max(4, Math.ceil(losses.length / 2));
  if (losses.length < 4) return false;
  const ys = losses.slice(-m);
  const n = ys.length;
  const xm = (n - 1) / 2;
  const ym = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (i - xm) ** 2;
    sxy += (i - xm) * (ys[i] - ym);
  }
  const slope = sxy / sxx;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (ys[i] - ym - slope * (i - xm)) ** 2;
  const se = Math.sqrt(ss / (n - 2) / sxx);
  // A curve flat but for float noise (a learning rate decayed to nothing) has a tiny slope and a smaller standard error:
  // not a descent. The fitted decrease over the window must be a thousandth of the loss at least.
  if (!(-slope * (n - 1) > MIN_TREND * Math.abs(ym))) return false;
  // A descent that only recovers from a spike (a new user's polish ran 15 extended rounds back down to where it had been)
  // is not progress: the last quarter of the window (at least its last 2 rounds) must reach below every round before the
  // window (a noisy descent's own window may hold a lower round than its last ones).
  const k = Math.max(2, Math.ceil(n / 4));
  const before = losses.slice(0, losses.length - n);
  if (before.length > 0 && !(Math.min(...losses.slice(-k)) < Math.min(...before))) return false;
  return se === 0 || slope < -z * se;
}

function snapshotWeights(model: TF.LayersModel): TF.Tensor[] {
  return tf.tidy(() => model.weights.map((w) => tf.keep(w.read().clone())));
}

/**
 * Batched model outputs (inference mode): batches of `batchSize` rows (default: 1,000, fewer where the model's
 * activations per row are large: activationBatch), each batch's intermediate tensors freed before the next.
 */
export function predict(model: TF.LayersModel, x: TF.Tensor, batchSize = activationBatch(model, 1000)): TF.Tensor {
  const n = x.shape[0];
  const parts: TF.Tensor[] = [];
  try {
    for (let s = 0; s < n; s += batchSize) {
      parts.push(tf.tidy(() => model.apply(tf.slice(x, s, Math.min(batchSize, n - s)), { training: false }) as TF.Tensor));
    }
    return parts.length === 1 ? parts[0] : tf.concat(parts, 0);
  } finally {
    if (parts.length > 1) tf.dispose(parts);
  }
}

/**
 * The task's metric (accuracy, exact-match accuracy or R², see metricName), mean loss, and each row's
 * share of the metric (`correct`: 1/0 for a right/wrong class or label set; for regression and
 * autoencoders 1 − ‖y − ŷ‖²/V with V the split's mean ‖y − ȳ‖², so that the mean is R²), from one
 * batched forward pass. The guard compares these per-row scores, paired. `withRows`: also each row's loss (`rows`, as
 * rowLosses gives it), from the same pass.
 */
export function evaluate(model: TF.LayersModel, data: Split, task: TaskInfo = taskOf(model), withRows = false): { accuracy: number; loss: number; correct: Float32Array; rows?: Float32Array } {
  let rows: Float32Array | undefined;
  const [scores, loss] = tf.tidy(() => {
    const out = predict(model, data.x);
    const y = targetsOf(data, task);
    const l = lossOf(out, y, task).dataSync()[0];
    // Each row's loss (rowLosses), from the same forward pass, where the caller compares rows.
    if (withRows || data.weights) rows = rowLossesOf(out, y, task).dataSync() as Float32Array;
    if (task.kind === 'classification') {
      const pred = predictedClasses(out, task).dataSync();
      return [Float32Array.from(pred, (p, i) => (p === data.labels[i] ? 1 : 0)), l] as const;
    }
    if (task.kind === 'multilabel') {
      const wrong = tf.sum(tf.notEqual(tf.greater(out, 0.5), tf.greater(y, 0.5)).toFloat(), -1);
      return [Float32Array.from(wrong.dataSync(), (w) => (w === 0 ? 1 : 0)), l] as const;
    }
    const y2 = tf.reshape(y, [y.shape[0], -1]);
    const sq = tf.square(tf.sub(tf.reshape(out, y2.shape), y2));
    if (task.kind === 'regression' && (y2.shape[1] ?? 1) > 1) {
      // Several targets: each in its own units, so each row's share is the mean over targets of err²/Var(target),
      // and the mean over rows is the average of the per-target R² (scikit-learn's 'uniform_average'): a target
      // with a small spread counts as much as one with a large one.
      const share = tf.mean(tf.div(sq, targetVariance(y2)), -1);
      return [Float32Array.from(share.dataSync(), (e) => 1 - e), l] as const;
    }
    // One target, or an autoencoder's pixels: R² of the whole vector (variance-weighted), as reconstruction error is read.
    const err = tf.sum(sq, -1);
    const spread = tf.mean(tf.sum(tf.square(tf.sub(y2, tf.mean(y2, 0, true))), -1)).dataSync()[0];
    const v = spread > 1e-12 ? spread : 1;
    return [Float32Array.from(err.dataSync(), (e) => 1 - e / v), l] as const;
  });
  const w = data.weights;
  if (w) {
    // Weighted rows (class weights): the metric, the loss and each row's loss weighted by them (mean 1); `correct` stays
    // each row's own score (the guard weighs it: judge).
    // Over the weights' own sum (float32 weights of mean 1 need not add up to the rows exactly): every row right is 1.
    let sum = 0;
    let mass = 0;
    for (let i = 0; i < scores.length; i++) { sum += w[i] * scores[i]; mass += w[i]; }
    const weightedRows = Float32Array.from(rows!, (r, i) => r * w[i]);
    let total = 0;
    for (let i = 0; i < weightedRows.length; i++) total += weightedRows[i];
    const m = mass > 0 ? mass : 1;
    return { accuracy: sum / m, loss: total / m, correct: scores, ...(withRows ? { rows: weightedRows } : {}) };
  }
  let sum = 0;
  for (let i = 0; i < scores.length; i++) sum += scores[i];
  return { accuracy: sum / Math.max(1, scores.length), loss, correct: scores, ...(rows ? { rows } : {}) };
}

/**
 * Each column's variance over the rows of y [n, k]: 1 where a column is constant on these rows, so R² stays finite
 * (a target constant on every row of the data is refused before a run: fitDatasetToModel).
 */
function targetVariance(y: TF.Tensor): TF.Tensor {
  const v = tf.mean(tf.square(tf.sub(y, tf.mean(y, 0, true))), 0);
  return tf.where(tf.greater(v, 1e-12), v, tf.onesLike(v));
}

/**
 * How a regression or reconstruction fits a split, from one prediction (both empty for other tasks). `r2`: each
 * target column's R² (regression only): what the average hides when one of several targets gets worse. `errors`:
 * the same errors in the targets' own units (R² is unitless): each target column's RMSE for regression, the mean
 * squared error per output value for an autoencoder.
 */
export function targetFit(model: TF.LayersModel, data: Split, task: TaskInfo = taskOf(model)): { r2: number[]; errors: number[] } {
  if (task.kind !== 'regression' && task.kind !== 'autoencoder') return { r2: [], errors: [] };
  const [r2, errors] = tf.tidy((): TF.Tensor[] => {
    const y = tf.reshape(targetsOf(data, task), [data.labels.length, -1]);
    const mse = tf.mean(tf.square(tf.sub(tf.reshape(predict(model, data.x), y.shape), y)), 0);
    return task.kind === 'regression'
      ? [tf.sub(1, tf.div(mse, targetVariance(y))), tf.sqrt(mse)]
      : [tf.zeros([0]), tf.reshape(tf.mean(mse), [1])];
  });
  const out = { r2: Array.from(r2.dataSync()), errors: Array.from(errors.dataSync()) };
  tf.dispose([r2, errors]);
  return out;
}

/**
 * A classifier's recall of each class on a split (of the rows labelled c, the share predicted c; NaN where no row
 * is), its precision (of the rows predicted c, the share labelled c; NaN where none is predicted c) and its rows per
 * class. Accuracy hides a rare class the pruned model stopped predicting; this does not.
 */
export function classRecall(model: TF.LayersModel, data: Split, classes: number, task: TaskInfo = taskOf(model)): { rows: number[]; recall: number[]; precision: number[] } {
  const pred = tf.tidy(() => predictedClasses(predict(model, data.x), task));
  const p = pred.dataSync();
  pred.dispose();
  const rows = new Array<number>(classes).fill(0);
  const right = new Array<number>(classes).fill(0);
  const predicted = new Array<number>(classes).fill(0);
  for (let i = 0; i < data.labels.length; i++) {
    const c = data.labels[i];
    rows[c]++;
    if (p[i] >= 0 && p[i] < classes) predicted[p[i]]++;
    if (p[i] === c) right[c]++;
  }
  return { rows, recall: rows.map((n, c) => (n > 0 ? right[c] / n : NaN)), precision: predicted.map((n, c) => (n > 0 ? right[c] / n : NaN)) };
}

/**
 * A multi-label model's recall of each label on a split (of the rows where label j is 1, the share predicted 1: output
 * ≥ 0.5; NaN where no row is) and its positive rows. Exact-match accuracy hides a rare label the pruned model stopped
 * predicting; this does not.
 */
export function labelRecall(model: TF.LayersModel, data: Split, task: TaskInfo = taskOf(model)): { rows: number[]; recall: number[] } {
  const [pred, y] = tf.tidy(() => {
    const t = targetsOf(data, task);
    const p = tf.reshape(predict(model, data.x), t.shape);
    return [tf.greaterEqual(p, 0.5).dataSync(), t.dataSync()] as const;
  });
  const k = task.units;
  const rows = new Array<number>(k).fill(0);
  const right = new Array<number>(k).fill(0);
  for (let i = 0; i < y.length; i++) {
    if (y[i] < 0.5) continue;
    rows[i % k]++;
    if (pred[i]) right[i % k]++;
  }
  return { rows, recall: rows.map((n, j) => (n > 0 ? right[j] / n : NaN)) };
}

/** The task's metric on a split: accuracy for classes, exact-match accuracy for multi-label, R² for values. */
export function accuracy(model: TF.LayersModel, data: Split, task: TaskInfo = taskOf(model)): number {
  return evaluate(model, data, task).accuracy;
}

/** Each row's loss over a split (inference mode). */
export function rowLosses(model: TF.LayersModel, data: Split, task: TaskInfo = taskOf(model)): Float32Array {
  return tf.tidy(() => rowLossesOf(predict(model, data.x), targetsOf(data, task), task).dataSync() as Float32Array);
}

/** Mean loss over a split (inference mode). */
export function evaluateLoss(model: TF.LayersModel, data: Split, task: TaskInfo = taskOf(model)): number {
  return tf.tidy(() => {
    const y = targetsOf(data, task);
    return lossOf(predict(model, data.x), y, task).dataSync()[0];
  });
}
