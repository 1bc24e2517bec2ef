import { UsageError } from '../errors.js';
import type { Dataset, Split } from './dataset.js';

/**
 * Class weights of a run (AgentOptions.classWeight), as a model trained with Keras' `classWeight` or oversampled rows
 * was: 'balanced' weighs each class inversely to its rows in the split (n / (k · n_c), scikit-learn's rule), so a
 * split's weighted accuracy is its balanced accuracy (the mean recall over its classes); a record weighs the classes
 * it names (by class name or 0-based output index) and every other class 1.
 */
export type ClassWeightSpec = 'balanced' | Readonly<Record<string, number>>;

/** A spec resolved against a dataset's classes: 'balanced', or one weight per class index. */
export type ClassWeights = 'balanced' | readonly number[];

/**
 * Checks `spec` against the classes (one UsageError naming what is wrong) and resolves a record's keys: a key is a class
 * name, else a whole number read as an output index. `where` names the option in messages ('classWeight', '--class-weight').
 */
export function resolveClassWeights(spec: unknown, classNames: readonly string[], where = 'classWeight'): ClassWeights {
  if (spec === 'balanced') return 'balanced';
  if (spec == null || typeof spec !== 'object' || Array.isArray(spec) || Object.keys(spec).length === 0) {
    const meant = typeof spec === 'string' && /^bal/i.test(spec.trim()) ? " (did you mean 'balanced'?)" : '';
    throw new UsageError(`${where} must be 'balanced' or class weights such as { "damaged": 5 } (a class name or 0-based output index to a weight > 0), got ${JSON.stringify(spec)}${meant}`);
  }
  const k = classNames.length;
  const weights = new Array<number>(k).fill(1);
  const set = new Set<number>();
  for (const [key, w] of Object.entries(spec as Record<string, unknown>)) {
    const byName = classNames.indexOf(key);
    const index = byName >= 0 ? byName : /^\d+$/.test(key) && Number(key) < k ? Number(key) : -1;
    if (index < 0) {
      const shown = classNames.length <= 12 ? classNames.map((c) => `'${c}'`).join(', ') : `${classNames.slice(0, 12).map((c) => `'${c}'`).join(', ')}, …`;
      throw new UsageError(`${where}: '${key}' is no class of the data (its classes: ${shown}; or an output index 0…${k - 1})`);
    }
    if (!(typeof w === 'number' && Number.isFinite(w) && w > 0)) throw new UsageError(`${where}: the weight of '${key}' must be a number > 0, got ${JSON.stringify(w)}`);
    if (set.has(index)) throw new UsageError(`${where}: class '${classNames[index]}' is weighted twice (by its name and its index)`);
    set.add(index);
    weights[index] = w;
  }
  return weights;
}

/** Class weights are refused in one line for a model of any task but single-label classification. */
export function checkClassWeightTask(kind: string, where = 'classWeight'): void {
  if (kind !== 'classification') throw new UsageError(`${where} applies to single-label classification; this model's task is ${kind}`);
}

/** resolveClassWeights for a model of task `kind` (checkClassWeightTask first). */
export function classWeightsForTask(spec: unknown, kind: string, classNames: readonly string[], where = 'classWeight'): ClassWeights {
  checkClassWeightTask(kind, where);
  return resolveClassWeights(spec, classNames, where);
}

/**
 * Each row's weight (mean 1 over the split): its class's weight, scaled so that the weights sum to the rows. With
 * 'balanced' each class present gets n / (k · n_c), k the classes present in these rows.
 */
export function rowWeights(labels: ArrayLike<number>, weights: ClassWeights): Float32Array {
  const n = labels.length;
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  const of = (c: number) => (weights === 'balanced' ? n / (counts.size * counts.get(c)!) : weights[c] ?? 1);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += of(labels[i]);
  const scale = sum > 0 ? n / sum : 1;
  return Float32Array.from({ length: n }, (_, i) => of(labels[i]) * scale);
}

/** The weight each class's rows get in a split (rowWeights), by class index; NaN for a class without rows there. */
export function classWeightsOf(labels: ArrayLike<number>, weights: ClassWeights, classes: number): number[] {
  const w = rowWeights(labels, weights);
  const out = new Array<number>(classes).fill(NaN);
  for (let i = 0; i < labels.length; i++) out[labels[i]] = w[i];
  return out;
}

/** A split with row weights (the same tensors: the caller still owns and disposes them). */
const weighted = (s: Split, weights: ClassWeights): Split => ({ ...s, weights: rowWeights(s.labels, weights) });

/**
 * The dataset with each split's rows weighted by class (the same tensors, not copies: disposing either disposes both).
 * Fine-tuning draws its batches by the training rows' weights and every figure of a split is weighted by its rows'
 * (train.ts, evaluate): with 'balanced', the validation and test figures are balanced accuracy.
 */
export function withClassWeights(data: Dataset, weights: ClassWeights): Dataset {
  return { ...data, train: weighted(data.train, weights), val: weighted(data.val, weights), test: weighted(data.test, weights) };
}

/** The metric's name under class weights: what the start event, the console and report.json call the figures. */
export function weightedMetricName(weights: ClassWeights): string {
  return weights === 'balanced' ? 'balanced accuracy' : 'class-weighted accuracy';
}

/** The weights as report.json and a checkpoint's identity record them: 'balanced', or each class's weight by name. */
export function describeClassWeights(weights: ClassWeights, classNames: readonly string[]): 'balanced' | Record<string, number> {
  return weights === 'balanced' ? 'balanced' : Object.fromEntries(classNames.map((c, i) => [c, weights[i]]));
}

/**
 * Class weights as a checkpoint's identity holds them, however they were given: 'balanced', or each class's weight by
 * name as the CLI takes them (`none=1,damaged=5`), which a refused resume quotes.
 */
export function classWeightIdentity(spec: ClassWeightSpec, classNames: readonly string[]): string {
  const w = describeClassWeights(resolveClassWeights(spec, classNames), classNames);
  return typeof w === 'string' ? w : Object.entries(w).map(([c, v]) => `${c}=${v}`).join(',');
}
