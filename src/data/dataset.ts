import type { Hash } from 'node:crypto';
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { DataError } from '../errors.js';

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
  /** Where each row came from (CSV data): the file and its line, for messages that point at a row. */
  origin?: SplitOrigin;
  /**
   * Each row's weight, mean 1 (class weights: data/class-weight.ts). Training draws its batches by them and the split's
   * figures weigh its rows by them (train.ts, evaluate). Absent: every row alike.
   */
  weights?: Float32Array;
}

export interface SplitOrigin {
  file: string;
  /** 1-based line in `file` of each row of the split. */
  lines: Int32Array;
}

/** Train/validation/test data for a classification task. Owns its tensors; call dispose() when done. */
export interface Dataset {
  /** Short name, e.g. 'mnist-10k', 'synthetic', or the CSV file name. */
  name: string;
  /** Where it came from (file path, package), for reports. */
  source: string;
  /** Shape of one sample, e.g. [784] or [28, 28, 1]. */
  inputShape: number[];
  /** Number of classes (2 for a binary task, whatever the model's output encoding); 0 where the targets are values (regression, autoencoder: each split's `y`). */
  numClasses: number;
  /** Human-readable class names, index = class id (empty when the targets are values). */
  classNames: string[];
  /** True when the class ids follow an order the user gave (--label-order): integer names are then not read as output indices. */
  labelOrderGiven?: boolean;
  /** Names of the target columns of a CSV (header names, or 'column J' by 0-based file index without a header row). */
  targetNames?: string[];
  /** Names of the input columns of a CSV in order (as targetNames), for messages and report.json. */
  inputNames?: string[];
  /**
   * The standardization the inputs got (CSV with --standardize): each column's mean and standard deviation over
   * the training rows; the model is fine-tuned on (value − mean) / std, so it expects that of its users too
   * (std 0: a constant column, fed as 0).
   */
  standardization?: { columns: string[]; mean: number[]; std: number[] };
  train: Split;
  val: Split;
  test: Split;
  dispose(): void;
}

/**
 * What the library API takes as an in-memory dataset: a Dataset whose naming fields and `dispose` may be left out
 * (README: "splits of x and labels, numClasses and inputShape"); withDatasetDefaults fills them in. autoprune never
 * disposes a dataset it was given: its tensors stay the caller's.
 */
export type DatasetInput = Omit<Dataset, 'name' | 'source' | 'classNames' | 'dispose'> & Partial<Pick<Dataset, 'name' | 'source' | 'classNames' | 'dispose'>>;

/**
 * An in-memory Dataset as README describes one — splits of x and labels (and y), numClasses, inputShape — with the
 * fields a run only names filled in where they are missing: `name` ('dataset'), `source`, and `classNames` (the class
 * indices as names), and a `dispose` that does nothing. The caller's object is not changed.
 */
export function withDatasetDefaults(d: DatasetInput): Dataset {
  return {
    ...d,
    name: typeof d.name === 'string' && d.name ? d.name : 'dataset',
    source: typeof d.source === 'string' && d.source ? d.source : 'in-memory Dataset',
    classNames: Array.isArray(d.classNames) ? d.classNames : Array.from({ length: d.numClasses }, (_, i) => String(i)),
    dispose: typeof d.dispose === 'function' ? d.dispose : () => {},
  };
}

/**
 * Throws a DataError naming the split and what is wrong unless an in-memory Dataset (the library API's, which no
 * CSV reader has checked) can be trained on: every split has rows, as many labels as inputs, finite inputs and
 * target values, and — with class labels (`classLabels`: a classifier's data) — whole labels in [0, numClasses). A NaN in one input otherwise makes
 * every fine-tuned weight NaN, and the guard's control with it.
 */
export function checkDataset(d: Dataset, classLabels = true): void {
  for (const name of ['train', 'val', 'test'] as const) {
    const s = d[name];
    const where = `dataset '${d.name}', ${name} split`;
    const n = s.x.shape[0] ?? 0;
    if (n === 0) throw new DataError(`${where} has no rows`);
    if (s.labels.length !== n) throw new DataError(`${where} has ${n} inputs but ${s.labels.length} labels`);
    // Each row must hold the values inputShape says (a layout may differ, [4] for [2, 2]: it is reshaped to the model's).
    const perRow = s.x.shape.slice(1).reduce((a, b) => a * b, 1);
    const declared = d.inputShape.reduce((a, b) => a * b, 1);
    if (perRow !== declared) {
      throw new DataError(`${where}: its x has shape [${s.x.shape.join(', ')}] (${perRow} values per row) but the dataset's inputShape [${d.inputShape.join(', ')}] says ${declared}`);
    }
    const x = s.x.dataSync();
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i])) throw new DataError(`${where}: input row ${Math.floor(i / Math.max(1, x.length / n))} holds ${x[i]} (inputs must be finite numbers)`);
    }
    if (s.y) {
      if (s.y.shape[0] !== n) throw new DataError(`${where} has ${n} inputs but ${s.y.shape[0]} target rows`);
      const y = s.y.dataSync();
      for (let i = 0; i < y.length; i++) {
        if (!Number.isFinite(y[i])) throw new DataError(`${where}: target row ${Math.floor(i / Math.max(1, y.length / n))} holds ${y[i]} (targets must be finite numbers)`);
      }
    } else if (classLabels) {
      for (let i = 0; i < n; i++) {
        const l = s.labels[i];
        if (!(Number.isInteger(l) && l >= 0 && l < d.numClasses)) {
          throw new DataError(`${where}: label ${l} at row ${i} is not a class id in 0…${d.numClasses - 1} (numClasses ${d.numClasses})`);
        }
      }
    }
  }
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

/**
 * Whether class names read from a label column look like a regression target rather than classes: all numbers,
 * and fractions among them or more than 50 of them.
 */
export function looksLikeRegressionTarget(names: readonly string[]): boolean {
  return allNumbers(names) && (names.length > 50 || names.some((n) => !Number.isInteger(Number(n))));
}

/** Whether every class name is a number (integer, decimal or exponent form). */
export function allNumbers(names: readonly string[]): boolean {
  return names.length > 0 && names.every((n) => NUMBER.test(n.trim()));
}
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

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

/** Header names that say "the label" (Kaggle's `label` first, `target`, `class`, …), case aside. */
export const LABEL_LIKE_NAMES: readonly string[] = Object.freeze(['label', 'labels', 'target', 'class', 'y', 'category', 'outcome']);
