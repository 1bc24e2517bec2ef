import type { Hash } from 'node:crypto';
import type * as TF from '@tensorflow/tfjs';

/** One split of a dataset: inputs and integer class labels (0..numClasses-1). */
export interface Split {
  /** Inputs, shape [n, ...inputShape], float32. */
  x: TF.Tensor;
  /** Class index per sample. */
  labels: Int32Array;
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
  /** Human-readable class names, index = class id. */
  classNames: string[];
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
  }
  return h;
}
