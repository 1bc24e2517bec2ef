import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { DataError } from '../errors.js';
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
  const last = model.layers[model.layers.length - 1];
  const cfg = last.getConfig() as { activation?: string };
  const act = String(cfg.activation ?? 'linear');
  if (units === 1) return { output: act === 'sigmoid' ? 'sigmoid' : 'binary-logit', units };
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

/** Predicted class per row of `pred`. */
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
  if (data.numClasses > classes) {
    throw new DataError(
      `data '${data.source}' has ${data.numClasses} classes but the model's output has ${task.units} unit(s) ` +
      `(${classes} classes)`);
  }
  if (want.join('x') === data.inputShape.join('x')) return data;
  const reshape = (s: Split): Split => ({ x: tf.reshape(s.x, [-1, ...want]), labels: s.labels });
  const train = reshape(data.train), val = reshape(data.val), test = reshape(data.test);
  return {
    ...data,
    inputShape: want,
    train, val, test,
    dispose: () => {
      [train, val, test].forEach((s) => s.x.dispose());
    },
  };
}
