import type { Hash } from 'node:crypto';
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';

/** One split of a dataset: inputs and integer class labels (0..numClasses-1). */
export interface Split {
  /** Inputs, shape [n, ...inputShape], float32. */
  x: TF.Tensor;
  /** Class index per sample (all 0 when the targets are values). */
  labels: Int32Array;
  /**
   * Target values [n, k], float32, for tasks whose targets are not one class: multi-label (0/1 per label),
   * regression, autoencoders (the inputs). Absent for classification.
   */
  y?: TF.Tensor;
}

/** Train/validation/test data for a classification task. Owns its tensors; call dispose() when done. */
export interface Dataset {
  /** Short name, e.g. 'mnist-10k', 'synthetic', or the CSV file name. */
  name: string;
  /** Where it came from (file path, package), for reports. */
  source: string;
  /** Shape of one sample, e.g. [784] or [28, 28, 1]. */
  inputShape: number[];
  /** Number of classes (2 for a binary task, whatever the model's output encoding). */
  numClasses: number;
  /** Human-readable class names, index = class id (empty when the targets are values). */
  classNames: string[];
  /** Names of the target columns when the targets are values from a CSV with a header. */
  targetNames?: string[];
  /** Names of the input columns in order (CSV with a header row), for messages. */
  inputNames?: string[];
  train: Split;
  val: Split;
  test: Split;
  dispose(): void;
}

/** Feeds the splits' contents (feature values and labels, in order) into `h`: the identity of the data itself. */
export function hashSplits(h: Hash, splits: Split[]): Hash {
  for (const s of splits) {
    const x = s.x.dataSync();
    h.update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
    h.update(new Uint8Array(s.labels.buffer, s.labels.byteOffset, s.labels.byteLength));
    if (s.y) {
      const y = s.y.dataSync();
      h.update(new Uint8Array(y.buffer, y.byteOffset, y.byteLength));
    }
  }
  return h;
}

/** The first k rows of a split, as new tensors (inputs and, when present, target values); free with disposeSplit. */
export function headOf(split: Split, k: number): Split {
  const n = Math.min(k, split.labels.length);
  const head: Split = { x: tf.slice(split.x, 0, n), labels: split.labels.subarray(0, n) };
  if (split.y) head.y = tf.slice(split.y, 0, n);
  return head;
}

/** Frees a split's tensors (inputs and target values). */
export function disposeSplit(split: Split): void {
  split.x.dispose();
  split.y?.dispose();
}
