import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { DataError, ModelError } from '../errors.js';
import type { Dataset, Split } from '../data/dataset.js';

/**
 * How a model's output is read: softmax probabilities over C classes, C logits, or one sigmoid
 * probability / logit for a binary task.
 */
export type OutputKind = 'softmax' | 'logits' | 'sigmoid' | 'binary-logit';

export interface TaskInfo {
  output: OutputKind;
  /** Units of the output layer. */
  units: number;
}

export function taskOf(model: TF.LayersModel): TaskInfo {
  const out = model.outputs[0].shape;
  const units = out[out.length - 1] ?? 1;
  // The layer that produces the output (in a functional model not necessarily the last one listed).
  const last = model.outputLayers?.[0] ?? model.layers[model.layers.length - 1];
  const cfg = last.getConfig() as { activation?: string };
  // A Softmax layer (tf.layers.softmax) has no activation in its config; it is a softmax all the same.
  const act = last.getClassName() === 'Softmax' ? 'softmax' : String(cfg.activation ?? 'linear');
  if (units === 1) return { output: act === 'sigmoid' ? 'sigmoid' : 'binary-logit', units };
  // C independent sigmoids (one-vs-rest): the log loss on one-hot targets, class = the largest.
  if (act === 'sigmoid') return { output: 'sigmoid', units };
  return { output: act === 'softmax' ? 'softmax' : 'logits', units };
}

/** Targets in the encoding the loss expects: one-hot [n, C], or [n, 1] of 0/1. */
export function encodeTargets(labels: Int32Array, task: TaskInfo): TF.Tensor {
  return tf.tidy(() => {
    const idx = tf.tensor1d(labels, 'int32');
    if (task.units === 1) return idx.toFloat().reshape([-1, 1]);
    return tf.oneHot(idx, task.units).toFloat();
  });
}

/** Mean loss of predictions against encoded targets. */
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
  }
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
 * Checks that a dataset fits a model (input size, number of classes) and reshapes its inputs to the
 * model's input shape when only the layout differs (e.g. 784 pixels → 28×28×1). Returns a dataset
 * that owns new tensors where it had to reshape.
 */
export function fitDatasetToModel(data: Dataset, model: TF.LayersModel): Dataset {
  checkClassifier(model);
  const want = model.inputs[0].shape.slice(1) as number[];
  const wantSize = want.reduce((a, b) => a * b, 1);
  const haveSize = data.inputShape.reduce((a, b) => a * b, 1);
  if (want.some((d) => d == null)) {
    throw new DataError(`model input shape [${want}] has unknown dimensions; autoprune needs a fixed input shape`);
  }
  if (wantSize !== haveSize) {
    throw new DataError(
      `data '${data.source}' has ${haveSize} input values per sample (shape [${data.inputShape}]) ` +
      `but the model expects shape [${want}] (${wantSize} values)`);
  }
  const task = taskOf(model);
  const classes = task.units === 1 ? 2 : task.units;
  const byIndex = labelsAsIndices(data, classes);
  const numeric = data.classNames.length > 0 && data.classNames.every((n) => /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(n.trim()));
  if (data.numClasses > classes && numeric && (data.classNames.some((n) => !Number.isInteger(Number(n))) || data.numClasses > 50)) {
    const sample = data.classNames.slice(0, 3).join(', ');
    throw new DataError(
      `data '${data.source}': the label column holds ${data.numClasses} distinct numbers (${sample}, …) and the model has ${task.units} output unit(s): ` +
      'that looks like a regression target; autoprune prunes classifiers (regression is not supported yet)');
  }
  if (data.numClasses > classes) {
    throw new DataError(
      `data '${data.source}' has ${data.numClasses} classes but the model's output has ${task.units} unit(s) ` +
      `(${classes} classes)`);
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

/** Losses of models that predict numbers (regression, reconstruction), in tfjs' camelCase and Keras' snake_case. */
const NUMERIC_LOSSES = /^(mse|mae|mape|msle|meansquarederror|meanabsoluteerror|meanabsolutepercentageerror|meansquaredlogarithmicerror|huber(loss)?|logcosh|poisson|cosine(proximity|similarity)?|kld|kullbackleiblerdivergence)$/;

/** The loss a model was compiled with (tfjs restores it from model.json's training_config), lower-cased without '_'. */
export function compiledLoss(model: TF.LayersModel): string | undefined {
  const loss = (model as unknown as { loss?: unknown }).loss;
  const one = Array.isArray(loss) ? loss[0] : loss;
  return typeof one === 'string' ? one.replace(/_/g, '').toLowerCase() : undefined;
}

/**
 * What kind of task a model was trained for, as far as its compiled loss and its output tell: a
 * single-label classifier (what autoprune prunes), or a regression, multi-label or autoencoder model,
 * with the evidence in words. Fine-tuning such a model as a classifier would destroy it, so these are
 * refused in one line rather than served wrongly.
 */
export function unservedTask(model: TF.LayersModel): string | undefined {
  const { output, units } = taskOf(model);
  const loss = compiledLoss(model);
  const last = model.outputLayers?.[0] ?? model.layers[model.layers.length - 1];
  const act = output === 'softmax' ? 'softmax' : String((last.getConfig() as { activation?: string }).activation ?? 'linear');
  const inputSize = (model.inputs[0].shape.slice(1) as (number | null)[]).reduce<number>((a, d) => a * (d ?? 1), 1);
  const lossText = loss ? `, loss ${loss}` : '';
  const what = `its output is ${units} ${act} unit${units === 1 ? '' : 's'}${lossText}`;
  const reconstructs = units > 1 && units === inputSize && act !== 'softmax';
  if (loss && NUMERIC_LOSSES.test(loss)) return reconstructs ? `an autoencoder (${what}, as many outputs as inputs)` : `a regression model (${what})`;
  if (reconstructs && units >= 16 && !(loss && /crossentropy/.test(loss) && act !== 'sigmoid')) return `an autoencoder (${what}, as many outputs as inputs)`;
  if (units > 1 && act === 'sigmoid' && !(loss && /^(sparse)?categoricalcrossentropy$/.test(loss))) return `a multi-label model (${what}: one independent probability per label)`;
  return undefined;
}

/**
 * Throws a ModelError unless the model is a classifier autoprune can read: one input, one output of shape
 * [batch, units], trained for single-label classification (not regression, multi-label or reconstruction).
 */
export function checkClassifier(model: TF.LayersModel): void {
  const shapes = (ts: TF.SymbolicTensor[]) => ts.map((t) => `[${t.shape.map((d) => d ?? 'batch').join(', ')}]`).join(', ');
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new ModelError(
      `model '${model.name}' has ${model.inputs.length} input(s) (${shapes(model.inputs)}) and ${model.outputs.length} ` +
      `output(s) (${shapes(model.outputs)}); autoprune prunes classifiers with one input and one output`);
  }
  if (model.outputs[0].shape.length !== 2) {
    throw new ModelError(
      `model '${model.name}' has output shape ${shapes(model.outputs)}; autoprune needs one class score per unit, ` +
      `shape [batch, classes] (add a Flatten or pooling layer before the output layer)`);
  }
  const other = unservedTask(model);
  if (other) {
    throw new ModelError(
      `model '${model.name}' looks like ${other}; autoprune prunes single-label classifiers only ` +
      '(regression, multi-label and autoencoder models are not supported yet, and fine-tuning one as a classifier would destroy it)');
  }
}

/**
 * Integer labels are the indices of the model's outputs: a model trained on labels 1..3 (output 0 unused),
 * or a CSV holding only some of its classes, is read with label k at output k, not with the labels
 * renumbered 0..C-1. Returns the class id → output index map (and the names by output index) when the
 * labels are whole numbers ≥ 0 that all fit the outputs and are not already 0..C-1; else undefined.
 */
function labelsAsIndices(data: Dataset, classes: number): { ids: Int32Array; names: string[] } | undefined {
  const names = data.classNames;
  if (names.length !== data.numClasses) return undefined;
  const values = names.map((s) => (/^\s*[+]?\d+(\.0*)?\s*$/.test(s) ? Number(s) : NaN));
  if (values.some((v) => !Number.isSafeInteger(v) || v >= classes)) return undefined;
  if (values.every((v, i) => v === i)) return undefined;
  const byOutput = Array.from({ length: Math.max(...values) + 1 }, (_, k) => String(k));
  values.forEach((v, i) => { byOutput[v] = names[i]; });
  return { ids: Int32Array.from(values), names: byOutput };
}
