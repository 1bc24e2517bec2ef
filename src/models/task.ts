import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { DataError, ModelError, UsageError } from '../errors.js';
import { allNumbers, LABEL_LIKE_NAMES, looksLikeRegressionTarget, type Dataset, type Split } from '../data/dataset.js';
import { leafLayers, notDifferentiable, statefulLayer } from '../pruning/layer-kinds.js';

/**
 * How a model's output is read: softmax probabilities over C classes, C logits, one sigmoid
 * probability / logit for a binary task; k independent sigmoid probabilities (multi-label); numbers
 * (regression, or an autoencoder's reconstruction).
 */
export type OutputKind = 'softmax' | 'logits' | 'sigmoid' | 'binary-logit' | 'multilabel' | 'regression';

/** What a model is trained to do, and so what autoprune fine-tunes it for and guards. */
export type TaskKind = 'classification' | 'multilabel' | 'regression' | 'autoencoder';
export const TASK_KINDS: readonly TaskKind[] = Object.freeze(['classification', 'multilabel', 'regression', 'autoencoder']);

export interface TaskInfo {
  output: OutputKind;
  /** Units of the output layer. */
  units: number;
  kind: TaskKind;
  /** How the task was told: the compiled loss saved with the model, its output layer, or the user (`--task`). */
  evidence: string;
  /**
   * Regression and autoencoders: the loss fine-tuning minimises — the model's own where it was saved with mean absolute
   * error or Huber (δ = 1, Keras's default), else mean squared error (regressionLossOf).
   */
  regressionLoss?: RegressionLoss;
  /**
   * Several regression targets: each target's weight in the fine-tuning loss (mean 1): 1/variance of the target over the
   * training rows for squared errors (1/standard deviation for absolute ones), so that each target counts alike, as in
   * the guard's average R², whatever its units (setTargetWeights). Absent: every target the same weight.
   */
  targetWeights?: number[];
}

export type RegressionLoss = 'mse' | 'mae' | 'huber' | 'bce';

/**
 * The loss a numeric model is fine-tuned with, from its saved loss: MAE, Huber and (on sigmoid outputs) binary
 * cross-entropy are kept, MSE for everything else (the other losses — MAPE, MSLE, log-cosh, Poisson, cosine, KL, a
 * classifier's — are not trained with: `replaced` says so).
 */
export function regressionLossOf(saved: string | undefined, sigmoid = false): { loss: RegressionLoss; replaced?: string } {
  if (saved && /^(mae|meanabsoluteerror)$/.test(saved)) return { loss: 'mae' };
  if (saved && /^huber(loss)?$/.test(saved)) return { loss: 'huber' };
  // Sigmoid outputs trained with binary cross-entropy on values in [0, 1] (an autoencoder of pixels): kept.
  if (saved && /^binarycrossentropy$/.test(saved) && sigmoid) return { loss: 'bce' };
  if (!saved || /^(mse|meansquarederror)$/.test(saved)) return { loss: 'mse' };
  return { loss: 'mse', replaced: saved };
}

/** What the guard and the reports measure for a task (higher is better; one row's score is in [0, 1] or, for R², ≤ 1). */
export function metricName(kind: TaskKind): string {
  return kind === 'classification' ? 'accuracy' : kind === 'multilabel' ? 'exact-match accuracy' : 'R²';
}

/** Losses of models that predict numbers (regression, reconstruction), in tfjs' camelCase and Keras' snake_case. */
const NUMERIC_LOSSES = /^(mse|mae|mape|msle|meansquarederror|meanabsoluteerror|meanabsolutepercentageerror|meansquaredlogarithmicerror|huber(loss)?|logcosh|poisson|cosine(proximity|similarity)?|kld|kullbackleiblerdivergence)$/;

/** Losses read from a model file that tfjs could not compile the model with (models/io.ts loadModel), by model. */
const savedLosses = new WeakMap<TF.LayersModel, string>();

/** Records the loss a model file names where tfjs could not compile it (a Keras-only loss or optimizer config). */
export function rememberLoss(model: TF.LayersModel, loss: string | undefined): void {
  if (loss) savedLosses.set(model, loss);
}

/** The loss rememberLoss recorded for `model`, as the file names it. */
export function savedLoss(model: TF.LayersModel): string | undefined {
  return savedLosses.get(model);
}

/**
 * The loss a model was compiled with (tfjs restores it from model.json's training config; a Keras loss tfjs
 * cannot compile is read by loadModel), lower-cased without '_'.
 */
export function compiledLoss(model: TF.LayersModel): string | undefined {
  const one = firstLoss(model) ?? savedLosses.get(model);
  if (typeof one === 'function') return lossFunctionName(one);
  return typeof one === 'string' ? one.replace(/_/g, '').toLowerCase() : undefined;
}

/** The loss the model was compiled with (the first output's, for a list): a name, a function, or undefined. */
function firstLoss(model: TF.LayersModel): unknown {
  const loss = (model as unknown as { loss?: unknown }).loss;
  return Array.isArray(loss) ? loss[0] : loss;
}

let lossFunctions: Map<unknown, string> | undefined;
/**
 * tfjs's own loss and metric functions a model may be compiled with (`loss: tf.losses.meanSquaredError`), by the name
 * the same loss has as a string; undefined for a function of the user's own (whose task the output alone must say).
 */
function lossFunctionName(f: unknown): string | undefined {
  if (!lossFunctions) {
    const m = tf.metrics as unknown as Record<string, unknown>;
    const l = tf.losses as unknown as Record<string, unknown>;
    const pairs: [unknown, string][] = [
      ...['meanSquaredError', 'MSE', 'mse'].map((k): [unknown, string] => [m[k], 'meansquarederror']),
      ...['meanAbsoluteError', 'MAE', 'mae'].map((k): [unknown, string] => [m[k], 'meanabsoluteerror']),
      ...['meanAbsolutePercentageError', 'MAPE', 'mape'].map((k): [unknown, string] => [m[k], 'meanabsolutepercentageerror']),
      [m.binaryCrossentropy, 'binarycrossentropy'], [m.categoricalCrossentropy, 'categoricalcrossentropy'],
      [m.sparseCategoricalCrossentropy, 'sparsecategoricalcrossentropy'], [m.cosineProximity, 'cosineproximity'],
      [l.meanSquaredError, 'meansquarederror'], [l.absoluteDifference, 'meanabsoluteerror'], [l.huberLoss, 'huberloss'],
      [l.logLoss, 'binarycrossentropy'], [l.hingeLoss, 'hinge'],
    ];
    lossFunctions = new Map(pairs.filter(([fn]) => typeof fn === 'function'));
  }
  return lossFunctions.get(f);
}

/** Whether the model was compiled with a loss function autoprune cannot name (one of the user's own). */
export function unknownLossFunction(model: TF.LayersModel): boolean {
  const one = firstLoss(model);
  return typeof one === 'function' && lossFunctionName(one) === undefined;
}

/** Layers that only move or drop values: the output's activation is that of the layer before them. */
const PASS_THROUGH = new Set(['Flatten', 'Reshape', 'Dropout', 'Permute', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'SpatialDropout1D']);

/**
 * Throws a UsageError where the task a user named (`--task`) contradicts the model: a saved loss for classes or labels
 * told a numeric task, a saved loss for values told a classification (a softmax output is a classifier's whatever its
 * loss: KL divergence, MSE), or checkToldClassification's case. Fine-tuning would retrain the model to another meaning.
 */
export function checkToldTask(model: TF.LayersModel, told: TaskKind): void {
  const loss = compiledLoss(model);
  if (told === 'classification') checkToldClassification(model);
  if (!loss) return;
  const numericLoss = NUMERIC_LOSSES.test(loss);
  const labelLoss = /crossentropy|hinge/.test(loss);
  // Binary cross-entropy on sigmoid outputs is also an autoencoder of values in [0, 1] (pixels).
  const pixels = told === 'autoencoder' && loss === 'binarycrossentropy' && outputActivation(model) === 'sigmoid';
  const softmax = outputActivation(model) === 'softmax';
  if (((told === 'regression' || told === 'autoencoder') && labelLoss && !pixels) || ((told === 'classification' || told === 'multilabel') && numericLoss && !softmax)) {
    // The loss as the file names it (mean_squared_error), not the key it is compared by (meansquarederror).
    const named = firstLoss(model) ?? savedLosses.get(model);
    throw new UsageError(`--task ${told}: the model was saved with the loss '${typeof named === 'string' ? named : loss}', ${numericLoss ? 'a loss for predicting values' : 'a loss for classes or labels'}: ` +
      `fine-tuning it as ${told} would retrain it to another meaning; drop --task (the saved loss says the task), or give the model of that task`);
  }
}

/**
 * Throws a UsageError where `task: 'classification'` is given for k ≥ 2 sigmoid outputs that no categorical loss says
 * are one class out of k: independent sigmoids are a multi-label model's, and fine-tuning them as one class would
 * retrain them to another meaning (a 3-label model given one of its label columns: +55 points "gained", the labels lost).
 */
export function checkToldClassification(model: TF.LayersModel): void {
  const units = Number(model.outputs[0]?.shape.at(-1) ?? 0);
  const loss = compiledLoss(model);
  if (outputActivation(model) !== 'sigmoid' || units < 2 || (loss != null && /categorical/.test(loss))) return;
  // As many sigmoid outputs as input values: an autoencoder of values in [0, 1] (pixels) far more likely than k labels.
  const inputs = (model.inputs[0]?.shape.slice(1) ?? []).reduce<number>((a, d) => a * (d ?? Number.NaN), 1);
  if (units === inputs) {
    throw new UsageError(`--task classification: the model has ${units} sigmoid outputs, as many as its input values: an autoencoder's (the inputs are the targets), ` +
      `and fine-tuning them as one class out of ${units} would retrain it to another meaning; use --task autoencoder (or leave --task out: the outputs say so), ` +
      'or --task multilabel with its label columns if they are independent labels');
  }
  throw new UsageError(`--task classification: the model's ${units} sigmoid outputs are independent yes/no outputs (a multi-label model's), and fine-tuning ` +
    `them as one class out of ${units} would retrain them to another meaning; use --task multilabel with its ${units} label columns (--label a,b,c), ` +
    'or save the model with a categorical loss if it is a classifier');
}

function outputActivation(model: TF.LayersModel): string {
  // The layer that produces the output (in a functional model not necessarily the last one listed).
  let last = model.outputLayers?.[0] ?? model.layers[model.layers.length - 1];
  // A sigmoid Conv2D then Flatten (an image autoencoder made flat) outputs sigmoids.
  for (let hops = 0; PASS_THROUGH.has(last.getClassName()) && hops < 8; hops++) {
    const before = last.inboundNodes[0]?.inboundLayers;
    if (!before || before.length !== 1 || before[0].getClassName() === 'InputLayer') break;
    last = before[0];
  }
  // A Softmax layer (tf.layers.softmax) has no activation in its config; it is a softmax all the same.
  return last.getClassName() === 'Softmax' ? 'softmax' : String((last.getConfig() as { activation?: string }).activation ?? 'linear');
}

/** Tasks users named (`--task`) for models whose file does not say, so that every later taskOf agrees. */
const toldTasks = new WeakMap<TF.LayersModel, TaskKind>();
const targetWeightsOf = new WeakMap<TF.LayersModel, number[]>();

/**
 * Weighs a multi-target regression model's targets alike in its fine-tuning loss: from the training rows' targets, each
 * target's 1/variance (MSE, Huber) or 1/standard deviation (MAE), scaled to mean 1. A weight-by-lbs, mpg and acceleration
 * model otherwise fine-tuned for weight alone (its variance is 10⁴× the others') while the guard averaged the three R².
 */
export function setTargetWeights(model: TF.LayersModel, trainTargets: TF.Tensor): void {
  const task = taskOf(model);
  if (task.kind !== 'regression' || trainTargets.rank !== 2 || (trainTargets.shape[1] ?? 1) < 2) return;
  const v = tf.tidy(() => Array.from(tf.moments(trainTargets, 0).variance.dataSync()));
  if (v.some((x) => !(x > 0))) return;
  const raw = v.map((x) => (task.regressionLoss === 'mae' ? 1 / Math.sqrt(x) : 1 / x));
  const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
  targetWeightsOf.set(model, raw.map((w) => w / mean));
}

/** Records the task a user named for `model` (and for copies made with cloneModel). */
export function rememberTask(model: TF.LayersModel, kind: TaskKind | undefined): void {
  if (kind) toldTasks.set(model, kind);
}

/** The task named for `model` with rememberTask, if any. */
export function toldTask(model: TF.LayersModel): TaskKind | undefined {
  return toldTasks.get(model);
}

/**
 * The task a model was trained for: from its compiled loss when model.json carries one (training_config),
 * else from its output layer — softmax or logits: classes; one unit: binary; k sigmoids: multi-label; as
 * many non-softmax outputs as inputs (≥ 16): an autoencoder. A linear output without a saved loss reads
 * as a classifier's logits: a regression model must carry its loss or be named with `task`.
 */
export function taskOf(model: TF.LayersModel, told: TaskKind | undefined = toldTasks.get(model)): TaskInfo {
  const out = model.outputs[0].shape;
  const units = out[out.length - 1] ?? 1;
  const act = outputActivation(model);
  const loss = compiledLoss(model);
  const inputSize = (model.inputs[0].shape.slice(1) as (number | null)[]).reduce<number>((a, d) => a * (d ?? 1), 1);
  const reconstructs = units > 1 && units === inputSize && act !== 'softmax';
  // The loss as the file names it (mean_squared_error), not the key it is compared by (meansquarederror).
  const named = firstLoss(model) ?? savedLosses.get(model);
  const what = `output ${units} ${act} unit${units === 1 ? '' : 's'}${loss ? `, loss ${typeof named === 'string' ? named : loss}` : ''}`;
  const weights = targetWeightsOf.get(model);
  const numeric = (kind: 'regression' | 'autoencoder', evidence: string): TaskInfo => ({
    output: 'regression', units, kind, evidence, regressionLoss: regressionLossOf(loss, act === 'sigmoid').loss,
    ...(kind === 'regression' && weights?.length === units ? { targetWeights: weights } : {}),
  });
  const classes = (evidence: string): TaskInfo => {
    if (units === 1) return { output: act === 'sigmoid' ? 'sigmoid' : 'binary-logit', units, kind: 'classification', evidence };
    // C sigmoids trained with a categorical loss (one-vs-rest): class = the largest.
    if (act === 'sigmoid') return { output: 'sigmoid', units, kind: 'classification', evidence };
    return { output: act === 'softmax' ? 'softmax' : 'logits', units, kind: 'classification', evidence };
  };
  const multilabel = (evidence: string): TaskInfo => ({ output: 'multilabel', units, kind: 'multilabel', evidence });
  if (told) {
    const evidence = `--task ${told} (${what})`;
    if (told === 'classification') return classes(evidence);
    if (told === 'multilabel') {
      if (act !== 'sigmoid') throw new ModelError(`--task multilabel needs sigmoid outputs, one probability per label; model '${model.name}' has ${what}`);
      return multilabel(evidence);
    }
    if (told === 'autoencoder' && units !== inputSize) {
      throw new ModelError(`--task autoencoder needs as many outputs as inputs; model '${model.name}' has ${inputSize} input values and ${what}`);
    }
    return numeric(told, evidence);
  }
  // A softmax output is a distribution over classes whatever it was trained with: KL divergence (distillation) or MSE on
  // one-hot targets are still a classifier's losses there.
  if (loss && NUMERIC_LOSSES.test(loss) && !(act === 'softmax' && units > 1)) return numeric(reconstructs ? 'autoencoder' : 'regression', what);
  if (reconstructs && units >= 16 && !(loss && /crossentropy/.test(loss) && act !== 'sigmoid')) return numeric('autoencoder', `${what}, as many as inputs`);
  if (units > 1 && act === 'sigmoid' && !(loss && /^(sparse)?categoricalcrossentropy$/.test(loss))) return multilabel(`${what}: one independent probability per label`);
  return classes(what);
}

/** How a CSV's targets are read for a task: one class label (undefined), the last k columns' values, or the inputs. */
export function csvTargetsOf(task: TaskInfo): 'inputs' | number | undefined {
  return task.kind === 'classification' ? undefined : task.kind === 'autoencoder' ? 'inputs' : task.units;
}

/** Targets in the encoding the loss expects: one-hot [n, C], or [n, 1] of 0/1. */
export function encodeTargets(labels: Int32Array, task: TaskInfo): TF.Tensor {
  return tf.tidy(() => {
    const idx = tf.tensor1d(labels, 'int32');
    if (task.units === 1) return idx.toFloat().reshape([-1, 1]);
    return tf.oneHot(idx, task.units).toFloat();
  });
}

/**
 * A split's targets for the loss, rows `idx` (all when omitted): the split's own target values for
 * multi-label, regression and autoencoder tasks, else its class labels encoded.
 */
export function targetsOf(split: Split, task: TaskInfo, idx?: Int32Array): TF.Tensor {
  if (task.kind !== 'classification') {
    if (!split.y) throw new DataError(`a ${task.kind} task needs target values in the data (the split has class labels only)`);
    const y = split.y;
    return tf.tidy(() => (idx ? tf.gather(y, tf.tensor1d(idx, 'int32')) : y.clone()));
  }
  return encodeTargets(idx ? Int32Array.from(idx, (i) => split.labels[i]) : split.labels, task);
}

/** Mean loss of predictions against encoded targets. */
/**
 * What lossOf computes for a task, in words: the "loss" and "validation loss" the console, the events and report.json
 * give (the softmax one in particular is not the categorical cross-entropy a Keras log shows: larger, same minimum).
 */
export function lossName(task: TaskInfo): string {
  switch (task.output) {
    case 'softmax': return 'the sum over classes of the binary log-loss (the categorical cross-entropy plus −Σ log(1 − p) over the other classes: larger than the cross-entropy Keras logs, the same minimum)';
    case 'logits': return 'softmax cross-entropy';
    case 'sigmoid': case 'binary-logit': return 'binary cross-entropy';
    case 'multilabel': return 'binary cross-entropy, the mean over labels';
    case 'regression': {
      const base = task.regressionLoss === 'mae' ? 'mean absolute error' : task.regressionLoss === 'huber' ? 'Huber loss (δ = 1)'
        : task.regressionLoss === 'bce' ? 'binary cross-entropy per output value' : 'mean squared error';
      // The weights average 1 (setTargetWeights): the figure stays in the targets' units, dominated by the one that varies least.
      const by = task.regressionLoss === 'mae' ? '1 / its standard deviation' : '1 / its variance';
      const units = task.regressionLoss === 'mae' ? 'units' : 'squared units';
      return task.targetWeights
        ? `${base}, each target weighed by ${by}, the weights scaled to average 1 (so the figures are in the targets' ${units}, mostly those of the target that varies least)`
        : base;
    }
  }
}

export function lossOf(pred: TF.Tensor, y: TF.Tensor, task: TaskInfo): TF.Scalar {
  switch (task.output) {
    case 'softmax':
      return tf.losses.logLoss(y, tf.clipByValue(pred, 0, 1), undefined, 1e-7, tf.Reduction.NONE)
        .sum(-1).mean() as TF.Scalar;
    case 'logits':
      return tf.losses.softmaxCrossEntropy(y, pred) as TF.Scalar;
    case 'sigmoid':
      return tf.losses.logLoss(y, pred, undefined, 1e-7) as TF.Scalar;
    case 'binary-logit':
      return tf.losses.sigmoidCrossEntropy(y, pred) as TF.Scalar;
    case 'multilabel':
      return tf.losses.logLoss(y, pred, undefined, 1e-7) as TF.Scalar;
    case 'regression':
      // Each target weighed alike (setTargetWeights); the mean over rows and targets, as the unweighted loss.
      if (task.targetWeights) return tf.mean(weightedErrors(pred, y, task, task.targetWeights)) as TF.Scalar;
      if (task.regressionLoss === 'mae') return tf.losses.absoluteDifference(y, pred) as TF.Scalar;
      if (task.regressionLoss === 'huber') return tf.losses.huberLoss(y, pred, undefined, 1) as TF.Scalar;
      if (task.regressionLoss === 'bce') return tf.losses.logLoss(y, tf.reshape(pred, y.shape), undefined, 1e-7) as TF.Scalar;
      return tf.losses.meanSquaredError(y, pred) as TF.Scalar;
  }
}

/** Each (row, target) error of a multi-target regression, times its target's weight (setTargetWeights). */
function weightedErrors(pred: TF.Tensor, y: TF.Tensor, task: TaskInfo, weights: number[]): TF.Tensor {
  const p = tf.reshape(pred, y.shape);
  const err = task.regressionLoss === 'mae' ? tf.abs(tf.sub(p, y))
    : task.regressionLoss === 'huber' ? tf.losses.huberLoss(y, p, undefined, 1, tf.Reduction.NONE) : tf.squaredDifference(p, y);
  return tf.mul(err, tf.tensor1d(weights));
}

/** Each row's loss (the terms lossOf averages), for paired comparisons of two models on the same rows. */
export function rowLossesOf(pred: TF.Tensor, y: TF.Tensor, task: TaskInfo): TF.Tensor1D {
  return tf.tidy(() => {
    const rows = pred.shape[0];
    const perRow = (t: TF.Tensor) => (t.rank > 1 ? tf.mean(tf.reshape(t, [rows, -1]), -1) : t) as TF.Tensor1D;
    switch (task.output) {
      case 'softmax':
        return tf.sum(tf.losses.logLoss(y, tf.clipByValue(pred, 0, 1), undefined, 1e-7, tf.Reduction.NONE), -1) as TF.Tensor1D;
      case 'logits':
        return tf.losses.softmaxCrossEntropy(y, pred, undefined, 0, tf.Reduction.NONE) as TF.Tensor1D;
      case 'sigmoid':
      case 'multilabel':
        return perRow(tf.losses.logLoss(y, pred, undefined, 1e-7, tf.Reduction.NONE));
      case 'binary-logit':
        return perRow(tf.losses.sigmoidCrossEntropy(y, pred, undefined, 0, tf.Reduction.NONE));
      case 'regression':
        if (task.targetWeights) return perRow(weightedErrors(pred, y, task, task.targetWeights));
        if (task.regressionLoss === 'mae') return perRow(tf.abs(tf.sub(tf.reshape(pred, y.shape), y)));
        if (task.regressionLoss === 'huber') return perRow(tf.losses.huberLoss(y, tf.reshape(pred, y.shape), undefined, 1, tf.Reduction.NONE));
        if (task.regressionLoss === 'bce') return perRow(tf.losses.logLoss(y, tf.reshape(pred, y.shape), undefined, 1e-7, tf.Reduction.NONE));
        return perRow(tf.squaredDifference(tf.reshape(pred, y.shape), y));
    }
  });
}

/** Predicted class per row of `pred`: the largest output, or for one output unit the side of the threshold. */
export function predictedClasses(pred: TF.Tensor, task: TaskInfo): TF.Tensor1D {
  return tf.tidy(() => {
    if (task.units === 1) {
      const thr = task.output === 'sigmoid' ? 0.5 : 0;
      return tf.greater(pred.reshape([-1]), thr).toInt() as TF.Tensor1D;
    }
    return tf.argMax(pred, -1) as TF.Tensor1D;
  });
}

/**
 * The input dimensions (beside the batch) a model saved with one unknown length ([null] for an Embedding without
 * inputLength, [null, 14] for an RNN over 14 features) has on this data: the rows fix it where their size is a
 * multiple of the known dimensions. Undefined where the shape is fixed already or the rows cannot fix it.
 */
export function fixedInputDims(model: TF.LayersModel, data: Dataset): number[] | undefined {
  const want = model.inputs[0].shape.slice(1) as (number | null)[];
  const unknown = want.filter((d) => d == null).length;
  if (unknown !== 1) return undefined;
  const known = want.reduce<number>((a, d) => a * (d ?? 1), 1);
  const have = data.inputShape.reduce((a, b) => a * b, 1);
  if (have % known !== 0 || have / known < 1) return undefined;
  return want.map((d) => d ?? have / known);
}

/**
 * Checks that a dataset fits a model (input size, number of classes or target columns) and reshapes its
 * inputs to the model's input shape when only the layout differs (e.g. 784 pixels → 28×28×1). For an
 * autoencoder the targets are the inputs. Returns a dataset that owns new tensors where it made any.
 */
export function fitDatasetToModel(data: Dataset, model: TF.LayersModel, task: TaskInfo = taskOf(model)): Dataset {
  checkModelShape(model);
  const want = model.inputs[0].shape.slice(1) as number[];
  const wantSize = want.reduce((a, b) => a * b, 1);
  const haveSize = data.inputShape.reduce((a, b) => a * b, 1);
  if (want.some((d) => d == null)) {
    const fixable = fixedInputDims(model, data);
    throw new DataError(
      `model input shape [${want.map((d) => d ?? 'null').join(', ')}] has unknown (null) dimensions beside the batch${fixable ? ` (the data's rows fix them to [${fixable.join(', ')}]: autoprune() does so itself, writing the pruned model with that shape)` : ` that the data's rows (${haveSize} values) cannot fix`}: a CSV row is one input of a fixed size, ` +
      'so autoprune needs a fixed input shape; save the model with one (e.g. inputShape: [10, 3] for sequences of 10 steps; or edit batch_input_shape in model.json: the weights do not change)');
  }
  if (wantSize !== haveSize) {
    // A linear output of k units is read as a classifier's logits unless the model says otherwise (its saved loss):
    // a CSV with exactly k columns more than the model's inputs is then most likely a k-target regression's.
    const regression = task.kind === 'classification' && task.output === 'logits' && haveSize === wantSize + task.units - 1;
    // More columns than inputs: an ID or index column read as an input is the usual cause.
    // A column named like a label among the inputs (Kaggle's `label` first, where the last column was read as the label):
    // named, with what to do for the task the model is read as.
    const labelLike = haveSize > wantSize ? data.inputNames?.find((c) => LABEL_LIKE_NAMES.includes(c.trim().toLowerCase())) : undefined;
    const named = labelLike == null ? ''
      : task.kind === 'classification'
        ? ` (column '${labelLike}' looks like the label: pass --label ${labelLike.trim()})`
        : haveSize === wantSize + 1 ? ` (column '${labelLike}' looks like a label, not an input: --ignore-columns ${labelLike.trim()})` : '';
    const extra = haveSize > wantSize && data.inputNames?.length === haveSize
      ? `; columns that are not inputs (IDs, the unnamed index column pandas' to_csv writes) are left out with --ignore-columns NAME|INDEX${data.inputNames.some((c) => c.trim() === '') ? ' (the unnamed one by its 0-based index in the file: --ignore-columns 0 for the first column)' : ''}${named}`
      : '';
    // As many linear outputs as inputs (below the 16 that read as an autoencoder by themselves), and a CSV of exactly
    // that many columns: the last was taken as a label, and the model most likely reconstructs its inputs.
    const smallAutoencoder = task.kind === 'classification' && task.units === wantSize && haveSize === wantSize - 1;
    // k class outputs and k − 1 columns too many: the last k columns are most likely one-hot labels (the last read as the label).
    const columns = [...(data.inputNames ?? []), ...(data.targetNames ?? [])];
    const oneHot = task.kind === 'classification' && task.units >= 2 && haveSize === wantSize + task.units - 1 && columns.length === haveSize + 1
      ? columns.slice(-task.units) : undefined;
    const hint = smallAutoencoder
      ? ` (the model has as many outputs as inputs, ${task.units}: if it reconstructs its inputs, pass --task autoencoder, whose CSV holds the ${task.units} input columns only)`
      : oneHot && !regression
      ? ` (its ${task.units} class outputs and ${task.units - 1} columns too many: if the last ${task.units} columns are one-hot labels, one 1 per row, name them in the model's output order: --label ${oneHot.join(',')})`
      : regression
      ? ` (the model's ${task.units} ${outputActivation(model)} outputs are read as a classifier's logits and the last column as its label; if it predicts ${task.units} numbers, pass --task regression: its CSV holds the inputs, then its ${task.units} target columns last)`
      : task.kind === 'classification' ? '' : task.kind === 'autoencoder'
      // As many numeric outputs as inputs reads as an autoencoder; a CSV with as many columns again is a regression's.
      ? (haveSize === 2 * wantSize
        ? ` (its ${task.units} outputs, as many as its inputs, are read as an autoencoder's reconstruction, whose CSV holds the input columns only; if it predicts ${task.units} target columns from its inputs, pass --task regression: its CSV holds the inputs, then the ${task.units} targets last)`
        : ' (an autoencoder\'s CSV holds its input columns only)')
      : ` (a ${task.kind} model's CSV holds the inputs, then its ${task.units} target column${task.units === 1 ? '' : 's'} last)`;
    throw new DataError(
      `data '${data.source}' has ${haveSize} input values per sample (shape [${data.inputShape}]${inputList(data)}${targetList(data)}) ` +
      `but the model expects shape [${want}] (${wantSize} values)${hint}${extra}`);
  }
  checkTokenIds(data, model);
  if (task.kind !== 'classification') return fitTargets(data, want, wantSize, task);
  const classes = task.units === 1 ? 2 : task.units;
  const byIndex = labelsAsIndices(data, classes);
  const numeric = allNumbers(data.classNames);
  if (data.numClasses > classes && looksLikeRegressionTarget(data.classNames)) {
    const sample = data.classNames.slice(0, 3).join(', ');
    throw new DataError(
      `data '${data.source}': the label column${data.targetNames?.length === 1 ? ` '${data.targetNames[0]}'` : ''} holds ${data.numClasses} distinct numbers (${sample}, …) and the model has ${task.units} output unit(s)` +
      // A softmax over several units is a classifier whatever its loss: its label is another column (a new user's iris
      // model given the default last column, petal_width, was first told to pass --task regression).
      (task.output === 'softmax' && task.units > 1
        ? ` (softmax): a classifier's label, not this column; name the label column with --label${data.inputNames?.length ? ` (the file's columns${inputList(data)})` : ''}`
        : ': that looks like a regression target; if the label is another column, name it with --label; for a regression model pass --task regression (or save the model with its loss: model.save(url, { includeOptimizer: true }))'));
  }
  if (data.numClasses > classes && (data.targetNames?.length ?? 0) > 1) {
    // One-hot label columns (--label a,b,c): one column per class, so the extra classes are extra columns.
    throw new DataError(
      `data '${data.source}' has ${data.numClasses} one-hot label columns (${data.classNames.slice(0, 12).join(', ')}) but the model's output has ${classes} classes: ` +
      `name only its ${classes} class columns with --label, in its output order (the others are no classes of this model)`);
  }
  // Labels spelled two ways ('yes' and 'Yes'): one class written in two cases reads as two (a new user's yes/no table).
  const folded = new Map<string, string>();
  const twins = data.classNames.flatMap((n) => {
    const k = n.trim().toLowerCase();
    const seen = folded.get(k);
    if (seen == null) folded.set(k, n);
    return seen != null ? [[seen, n] as const] : [];
  });
  if (data.numClasses > classes && twins.length > 0) {
    throw new DataError(
      `data '${data.source}' has ${data.numClasses} classes (${data.classNames.slice(0, 12).join(', ')}${data.numClasses > 12 ? ', …' : ''}) but the model's output has ${classes}: ` +
      `${twins.slice(0, 3).map(([a, b]) => `'${a}' and '${b}'`).join(', ')} differ only in case, which makes them two classes; write each class one way in the file`);
  }
  if (data.numClasses > classes) {
    // Which labels would have no output (label k = output k, names in sorted order). Which class the model never saw
    // cannot be known from the file: say how many are extra, and what the order alone would drop.
    const extra = data.numClasses - classes;
    const beyond = data.classNames.slice(classes);
    const named = `${beyond.slice(0, 5).map((n) => `'${n}'`).join(', ')}${beyond.length > 5 ? `, … (${beyond.length} labels)` : ''}`;
    throw new DataError(
      `data '${data.source}' has ${data.numClasses} classes (${data.classNames.slice(0, 12).join(', ')}${data.numClasses > 12 ? ', …' : ''}) ` +
      `but the model's output has ${task.units} unit(s) (${classes} classes): ${extra} class${extra === 1 ? '' : 'es'} more than it has outputs; ` +
      `remove the rows of the class${extra === 1 ? '' : 'es'} the model was not trained on (in ${numeric ? 'numeric' : 'sorted'} order, the k-th label = output k, ` +
      `that is ${named}; if ${extra === 1 ? 'it is another class' : 'they are others'}, remove ${extra === 1 ? 'that one\'s' : 'their'} rows and give --label-order with the model's classes in output order)`);
  }
  if (want.join('x') === data.inputShape.join('x') && !byIndex) return data;
  const relabel = (labels: Int32Array) => (byIndex ? Int32Array.from(labels, (c) => byIndex.ids[c]) : labels);
  const owned: TF.Tensor[] = [];
  const fit = (s: Split): Split => {
    if (want.join('x') === data.inputShape.join('x')) return { x: s.x, labels: relabel(s.labels) };
    const x = tf.reshape(s.x, [-1, ...want]);
    owned.push(x);
    return { x, labels: relabel(s.labels) };
  };
  const train = fit(data.train), val = fit(data.val), test = fit(data.test);
  return {
    ...data,
    inputShape: want,
    ...(byIndex ? { numClasses: byIndex.names.length, classNames: byIndex.names } : {}),
    train, val, test,
    dispose: () => {
      owned.forEach((t) => t.dispose());
    },
  };
}

/** The splits with value targets for a multi-label, regression or autoencoder model; checks their width and values. */
function fitTargets(data: Dataset, want: number[], wantSize: number, task: TaskInfo): Dataset {
  const owned: TF.Tensor[] = [];
  const fit = (s: Split, name: string): Split => {
    const x = want.join('x') === s.x.shape.slice(1).join('x') ? s.x : tf.reshape(s.x, [-1, ...want]);
    if (x !== s.x) owned.push(x);
    let y = s.y;
    if (task.kind === 'autoencoder') {
      y = tf.reshape(s.x, [-1, wantSize]);
      owned.push(y);
    } else {
      if (!y) {
        throw new DataError(
          `data '${data.source}' has class labels, but model is a ${task.kind} model (${task.evidence}): ` +
          `give a CSV whose last ${task.units} column${task.units === 1 ? ' holds the target' : 's hold the targets'}`);
      }
      if (y.shape[1] !== task.units) {
        throw new DataError(`data '${data.source}' has ${y.shape[1]} target column(s) but the model has ${task.units} output unit(s) (${task.evidence})`);
      }
      if (task.kind === 'multilabel') {
        const v = y.dataSync();
        const bad = v.findIndex((t) => t !== 0 && t !== 1);
        if (bad >= 0) {
          const col = bad % task.units;
          const named = data.targetNames?.[col] != null ? ` '${data.targetNames[col]}'` : '';
          throw new DataError(`data '${data.source}' (${name} split): multi-label targets must be 0 or 1, found ${Number(v[bad].toPrecision(6))} in target column${named} (${col + 1} of ${task.units}); ` +
            `name the ${task.units} 0/1 label columns with --label a,b,c (default: the last ${task.units})`);
        }
      }
    }
    return { x, labels: s.labels, y };
  };
  const train = fit(data.train, 'training'), val = fit(data.val, 'validation'), test = fit(data.test, 'test');
  if (task.kind === 'regression') {
    try {
      checkTargetsVary(data, [train, val, test], task.units);
    } catch (err) {
      owned.forEach((t) => t.dispose());
      throw err;
    }
  }
  return { ...data, inputShape: want, train, val, test, dispose: () => owned.forEach((t) => t.dispose()) };
}

/**
 * A regression target that has one value on every row has no R² (its variance is 0): the guard's metric and
 * the per-target figures would be made up. Refused, naming the column.
 */
function checkTargetsVary(data: Dataset, splits: Split[], units: number): void {
  const cols = Array.from({ length: units }, () => ({ min: Infinity, max: -Infinity }));
  for (const s of splits) {
    const v = s.y!.dataSync();
    for (let i = 0; i < v.length; i++) {
      const c = cols[i % units];
      if (v[i] < c.min) c.min = v[i];
      if (v[i] > c.max) c.max = v[i];
    }
  }
  const k = cols.findIndex((c) => c.min === c.max && Number.isFinite(c.min));
  if (k < 0) return;
  const named = data.targetNames?.[k] != null ? `'${data.targetNames[k]}'` : `${k + 1} of ${units}`;
  throw new DataError(
    `data '${data.source}': regression target column ${named} has the same value (${Number(cols[k].min.toPrecision(6))}) on every row: ` +
    'R², the guard\'s metric, is undefined for it; give data in which every target varies');
}

/**
 * Throws a ModelError unless autoprune can read and fine-tune the model: one input, one output of shape
 * [batch, units], every layer differentiable in TensorFlow.js and none stateful. `where` names the model in
 * the message (its file, where it has one).
 */
export function checkModelShape(model: TF.LayersModel, where = `model '${model.name}'`): void {
  const shapes = (ts: TF.SymbolicTensor[]) => ts.map((t) => `[${t.shape.map((d) => d ?? 'batch').join(', ')}]`).join(', ');
  const stuck = notDifferentiable(model);
  if (stuck) throw new ModelError(`${where}: ${stuck}; autoprune cannot prune it`);
  const stateful = statefulLayer(model);
  if (stateful) throw new ModelError(`${where}: ${stateful}`);
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new ModelError(
      `${where} has ${model.inputs.length} input(s) (${shapes(model.inputs)}) and ${model.outputs.length} ` +
      `output(s) (${shapes(model.outputs)}); autoprune prunes models with one input and one output`);
  }
  if (model.outputs[0].shape.length !== 2) {
    const same = JSON.stringify(model.outputs[0].shape) === JSON.stringify(model.inputs[0].shape);
    throw new ModelError(
      `${where} has output shape ${shapes(model.outputs)}; autoprune needs one value per unit, ` +
      `shape [batch, units] ` + (same
        ? '(an image-to-image model such as a convolutional autoencoder: append a Flatten layer to its output; the target is then the flattened input, --task autoencoder)'
        : sequenceAdvice(model.outputs[0].shape)));
  }
}

/**
 * What to do with an output of more than one axis per sample that is not the input's shape (a TimeDistributed head, a
 * sequence of predictions): flattened after the output layer the model stays the one trained (a new user's LSTM →
 * TimeDistributed(Dense 1) pruned as a 14-target regression that way), where "before the output layer" would change it.
 */
function sequenceAdvice(shape: readonly (number | null)[]): string {
  const dims = shape.slice(1);
  if (dims.some((d) => d == null)) return '(an output whose length varies per sample: autoprune cannot take it; end the model in a fixed number of values per sample, e.g. a pooling layer before the output layer, and retrain)';
  const k = dims.reduce<number>((a, d) => a * (d as number), 1);
  return `(a sequence or map of predictions, e.g. a TimeDistributed head: append a Flatten layer to its output, which keeps the model as trained; its ${k} values per sample are then ${k} targets — ` +
    `the CSV's last ${k} columns in that order (or --label a,b,…), with --task regression (or multilabel) — or, for one prediction per sample, rebuild it with a pooling or Flatten layer before the output layer and retrain)`;
}

/** The Embedding layer a model's input goes straight into (its input is token ids), if it has one. */
export function tokenInputLayer(model: TF.LayersModel): TF.layers.Layer | undefined {
  const first = leafLayers(model).find((l) => l.getClassName() !== 'InputLayer');
  return first?.getClassName() === 'Embedding' ? first : undefined;
}

/** A value of the task's metric as the messages print it: R² as a number, the accuracies as percentages. */
export function metricValue(kind: TaskKind, v: number): string {
  return kind === 'regression' || kind === 'autoencoder' ? v.toFixed(3) : `${(100 * v).toFixed(1)} %`;
}

/**
 * A model whose input goes straight into an Embedding layer reads token ids: whole numbers in [0, inputDim).
 * TensorFlow.js would fail deep inside a gather on an id out of range, and silently truncate a fraction (a
 * standardized or wrong column): both are refused here, naming the column, the split and the layer.
 */
function checkTokenIds(data: Dataset, model: TF.LayersModel): void {
  const first = tokenInputLayer(model);
  if (!first) return;
  const inputDim = (first.getConfig() as { inputDim: number }).inputDim;
  const cols = data.inputShape.reduce((a, b) => a * b, 1);
  for (const [name, split] of [['training', data.train], ['validation', data.val], ['test', data.test]] as const) {
    if (!split || split.x.shape[0] === 0) continue;
    const v = split.x.dataSync();
    for (let i = 0; i < v.length; i++) {
      if (Number.isInteger(v[i]) && v[i] >= 0 && v[i] < inputDim) continue;
      const col = data.inputNames?.[i % cols] ?? `input value ${(i % cols) + 1}`;
      throw new DataError(
        `data '${data.source}': column '${col}' holds ${Number(v[i].toPrecision(6))} (${split.origin ? `${split.origin.file} line ${split.origin.lines[Math.floor(i / cols)]}` : `row ${Math.floor(i / cols) + 1} of the ${name} split`}), but the model's input goes into ` +
        `Embedding layer '${first.name}', which takes whole token ids 0–${inputDim - 1} (inputDim ${inputDim})${Number.isInteger(v[i]) ? '' : '; a token id column must not be scaled (e.g. by --standardize)'}`);
    }
  }
}

/**
 * Integer labels are the indices of the model's outputs: a model trained on labels 1..3 (output 0 unused),
 * or a CSV holding only some of its classes, is read with label k at output k, not with the labels
 * renumbered 0..C-1; labels 1..C with C among them (C outputs) count from 1, label k at output k − 1, also where the
 * file holds only some of them — unless the user gave the order (--label-order), which wins. Returns the class id → output index map (and the names by output index) when the
 * labels are whole numbers ≥ 0 that all fit the outputs and are not already 0..C-1; else undefined.
 */
function labelsAsIndices(data: Dataset, classes: number): { ids: Int32Array; names: string[] } | undefined {
  const names = data.classNames;
  if (data.labelOrderGiven || names.length !== data.numClasses) return undefined;
  const values = names.map((s) => (/^\s*[+]?\d+(\.0*)?\s*$/.test(s) ? Number(s) : NaN));
  if (values.some((v) => !Number.isSafeInteger(v))) return undefined;
  // Labels 1..C with C among them count from 1: label k is output k − 1 — for a file with all of them (what sorting
  // gives) and one with some (a new user's iris without class 1: labels 2, 3 went to outputs 0, 1).
  const base = values.some((v) => v >= classes) && values.every((v) => v >= 1 && v <= classes) ? 1 : 0;
  const outputs = values.map((v) => v - base);
  if (outputs.some((v) => v >= classes)) return undefined;
  if (outputs.every((v, i) => v === i)) return undefined;
  const byOutput = Array.from({ length: Math.max(...outputs) + 1 }, (_, k) => String(k + base));
  outputs.forEach((v, i) => { byOutput[v] = names[i]; });
  return { ids: Int32Array.from(outputs), names: byOutput };
}

/** '; label column: y' (or 'target columns: …') where the data names them: a label chosen by default (the last column not ignored) shows here. */
function targetList(data: Dataset): string {
  const t = data.targetNames;
  if (!t?.length || !data.inputNames?.length) return '';
  return `; ${t.length === 1 ? 'label column' : 'target columns'}: ${t.join(', ')}`;
}

/** ": a, b, c" — a CSV's input columns (at most 12 listed). */
function inputList(data: Dataset): string {
  const n = data.inputNames;
  if (!n?.length) return '';
  // An empty header cell (the index column pandas' to_csv writes) would print as nothing.
  return `: ${n.slice(0, 12).map((c) => (c.trim() === '' ? '(unnamed column)' : c)).join(', ')}${n.length > 12 ? `, … (${n.length})` : ''}`;
}
