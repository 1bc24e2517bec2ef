/**
 * Checks of a user's model against their data before a run trains anything: the label order, the validation and
 * held-out rows, the targets (a regression's columns) and the inputs' scaling. Each refuses in one line naming what is
 * wrong and the fix, or warns; the run (PruneService) and build-meta call them.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from './backend/tf.js';
import { csvNames } from './data/csv.js';
import { type Dataset } from './data/dataset.js';
import { DataError, UsageError } from './errors.js';
import { majorityShare } from './agent/guard.js';
import { accuracy, evaluate, predict } from './models/train.js';
import { batchNormMismatch } from './models/batchnorm.js';
import { metricName, metricValue, predictedClasses, taskOf, tokenInputLayer, type TaskInfo, type TaskKind } from './models/task.js';
import { isCsvPath } from './data/registry.js';
import type { AutopruneOptions } from './prune-service.js';

/**
 * The smallest gap in validation loss (per row, the task's loss) that the input-scaling check reads as a better fit:
 * iris given its z-scores × 1.5 scores as well but 0.620 against 0.121; a model right on every row either way moves in
 * thousandths.
 */
const MIN_LOSS_GAP = 0.05;
/** Rows whose activations at a batch-norm model's first BatchNormalization layer are compared with its statistics. */
const BN_SCALE_ROWS = 512;
/**
 * How much closer (in |ln| of the variance ratio, batchNormMismatch) the inputs as given must match a batch-norm model's
 * statistics than a rescaling to be its training scale: ln 16, a factor of 4 in standard deviation; × 255 is ln 255² ≈ 11.
 */
const BN_SCALE_MARGIN = Math.log(16);

/** `--label-order` names at most one class per output (checked before the data is fitted to the model). */
export function checkLabelOrderLength(task: TaskInfo, opts: AutopruneOptions): void {
  const outputs = task.units === 1 ? 2 : task.units;
  if (opts.labelOrder && task.kind === 'classification' && opts.labelOrder.length > outputs) {
    throw new UsageError(`--label-order lists ${opts.labelOrder.length} names but the model's output has ${task.units} unit(s) (${outputs} classes); list at most one name per output, in output order`);
  }
}

/**
 * The order of the class names that best explains the model's predictions: confusion counts c[label][output],
 * and the assignment of names to outputs with the most rows right (every permutation up to 7 classes, else a
 * greedy one). `identity` is the rows right in sorted order (the order autoprune reads), `best` in `order`.
 * With `logLik` (logLik[label][output]: the summed log-probability the model gives that output on that label's rows),
 * among the orders within a search's noise of the most rows right (two rows, or 3 % of them), the likeliest: two rare
 * classes the model seldom predicts swap for a row or two of accuracy, and the order they were trained in is the one
 * whose probabilities fit (a new user's weather model: drizzle/fog swapped scored one row more, at a higher loss).
 */
export function bestLabelOrder(labels: Int32Array, predicted: ArrayLike<number>, classes: number, logLik?: readonly Float64Array[], weights?: ArrayLike<number>): { identity: number; best: number; order: number[] } {
  const c = Array.from({ length: classes }, () => new Float64Array(classes));
  // (Weighted rows, class weights of mean 1: each row counts its weight, so "rows right" are weighted rows.)
  for (let i = 0; i < labels.length; i++) if (predicted[i] < classes) c[labels[i]][predicted[i]] += weights ? weights[i] : 1;
  const right = (order: number[]) => order.reduce((a, label, out) => a + c[label][out], 0);
  const identity = right(Array.from({ length: classes }, (_, k) => k));
  let best = { rows: identity, order: Array.from({ length: classes }, (_, k) => k) };
  if (classes <= 7) {
    const perm = best.order.slice();
    const seen: { rows: number; order: number[] }[] = [];
    const visit = (k: number) => {
      if (k === classes) {
        const r = right(perm);
        if (logLik) seen.push({ rows: r, order: perm.slice() });
        if (r > best.rows) best = { rows: r, order: perm.slice() };
        return;
      }
      for (let j = k; j < classes; j++) {
        [perm[k], perm[j]] = [perm[j], perm[k]];
        visit(k + 1);
        [perm[k], perm[j]] = [perm[j], perm[k]];
      }
    };
    visit(0);
    if (logLik) {
      const tie = Math.max(2, Math.ceil(0.03 * labels.length));
      const ll = (order: number[]) => order.reduce((a, label, out) => a + (logLik[label]?.[out] ?? 0), 0);
      const near = seen.filter((x) => x.rows >= best.rows - tie);
      best = near.reduce((a, b) => (ll(b.order) > ll(a.order) ? b : a), best);
    }
  } else {
    const order = new Array<number>(classes).fill(-1);
    const usedLabel = new Set<number>();
    for (let n = 0; n < classes; n++) {
      let pick = { v: -1, label: 0, out: 0 };
      for (let l = 0; l < classes; l++) {
        if (usedLabel.has(l)) continue;
        for (let o = 0; o < classes; o++) if (order[o] < 0 && c[l][o] > pick.v) pick = { v: c[l][o], label: l, out: o };
      }
      order[pick.out] = pick.label;
      usedLabel.add(pick.label);
    }
    if (right(order) > identity) best = { rows: right(order), order };
  }
  return { identity, best: best.rows, order: best.order };
}

/** Validation rows below which the label check refuses nothing: a trained model cannot show it beats chance by a row. */
const MIN_LABEL_CHECK_ROWS = 10;

/**
 * Validation cross-entropy, as a multiple of log C (a model unsure of every class), from which a model no better than the
 * most common label is taken to be sure of answers to another question (checkLabelOrder). Measured 2026-12-06 with
 * `node scripts/label-fit.mjs`: the small-data suite's seven models, each on its own label, 0.0005–0.50; penguins-sex's
 * model given the gentoo column 2.66; a new user's rain model given the city column 2.88 (its refusal message); a fresh
 * (untrained) network on raw inputs of up to 6, whose outputs saturate, 1.62 — not refused: a model not yet trained is
 * pruned on purpose in tests and examples.
 */
const CONFIDENTLY_WRONG = 2;

/** Validation rows below which the guard cannot tell a pruned model from the dense one: refused unless --force. */
export const MIN_GUARD_ROWS = 10;

/**
 * A user's data whose validation split is too small for any guard (one row is 10+ points): the run would report
 * "target reached within the guard" for a guard that saw nothing. Refused, with what to do; --force prunes without one.
 */
export function checkValidationRows(data: Dataset, opts: AutopruneOptions, force: boolean | undefined): void {
  if (typeof opts.data !== 'string' || force) return;
  const rows = data.val.x.shape[0];
  if (rows >= MIN_GUARD_ROWS) return;
  throw new DataError(`the validation split has ${rows} row${rows === 1 ? '' : 's'}: too few for the accuracy guard to see a drop ` +
    `(at least ${MIN_GUARD_ROWS}; one row is ${(100 / Math.max(1, rows)).toFixed(0)} points); give more rows, a larger share (--split) or a validation file (--val-data), or --force to prune to the target without a guard`);
}

/**
 * The inputs of `x`'s rows as keys (their bytes): rows with the same values have the same key. Inputs are 4-byte
 * values (float32, or int32 token ids).
 */
function rowKeys(x: TF.Tensor): string[] {
  const rows = x.shape[0];
  const width = rows > 0 ? x.size / rows : 0;
  const v = x.dataSync();
  return Array.from({ length: rows }, (_, i) => Buffer.from(v.buffer, v.byteOffset + 4 * i * width, 4 * width).toString('base64'));
}

/**
 * A validation or test file given apart from the training data whose rows are mostly training rows: the guard (or
 * the test figures) would judge the model on rows it is fine-tuned on, and a pruned model that memorises them
 * would pass. Said in a warning (half of the rows or more, at least 10, and 10 points more than the share of training
 * rows that repeat another training row's inputs: discrete inputs repeat by chance); checked only for files the user gave
 * (a split of one CSV cannot repeat rows other than the data's own duplicates), and only up to 50 M input values.
 */
/**
 * How many of a held-out file's rows (`split`, as row keys) have the inputs of a training row, and whether that looks
 * like copied rows: half of them or more, at least 10, and 10 points more than the share of training rows whose inputs
 * another training row has — inputs of few distinct values (categorical, one-hot columns: a new user's 16 features took
 * 1,310 distinct values over 7,164 rows) repeat by chance, and rows drawn apart from the training ones repeat them too.
 */
export function repeatedRows(training: readonly string[], split: readonly string[]): { seen: number; chance: number; copied: boolean } {
  const counts = new Map<string, number>();
  for (const k of training) counts.set(k, (counts.get(k) ?? 0) + 1);
  const chance = training.length ? training.filter((k) => counts.get(k)! > 1).length / training.length : 0;
  const seen = split.filter((k) => counts.has(k)).length;
  return { seen, chance, copied: seen >= 10 && seen >= split.length / 2 && seen / Math.max(1, split.length) > chance + 0.1 };
}

/** A column's mean this many training standard deviations from the training rows' mean: values prepared otherwise. */
export const SHIFT_SDS = 5;
/** A column's spread this many times the training rows' (or a this-many-th of it): values scaled otherwise. */
export const SPREAD_RATIO = 3;

/**
 * The input columns of `split` whose mean lies more than SHIFT_SDS of the training rows' standard deviations from
 * theirs, or whose standard deviation is more than SPREAD_RATIO times theirs or less than a SPREAD_RATIO-th (columns
 * constant over the training rows or over the split left out), with those figures: a file scaled otherwise than the
 * training rows (raw values beside a [0, 1]-scaled --data, values × 10, [0, 1]-scaled beside z-scores) shows in most of
 * its columns at once.
 */
export function shiftedColumns(train: TF.Tensor, split: TF.Tensor, names?: readonly string[]): { name: string; sds: number; spread: number }[] {
  const features = train.size / Math.max(1, train.shape[0]);
  const [dist, sdv, ratio] = tf.tidy(() => {
    const t = tf.reshape(train, [train.shape[0], features]);
    const s = tf.reshape(split, [split.shape[0], features]);
    const { mean, variance } = tf.moments(t, 0);
    const sd = tf.sqrt(variance);
    const splitSd = tf.sqrt(tf.moments(s, 0).variance);
    return [tf.div(tf.abs(tf.sub(tf.mean(s, 0), mean)), tf.maximum(sd, 1e-30)).dataSync(), sd.dataSync(), tf.div(splitSd, tf.maximum(sd, 1e-30)).dataSync()];
  });
  const out: { name: string; sds: number; spread: number }[] = [];
  for (let j = 0; j < features; j++) {
    if (!(sdv[j] > 1e-12)) continue;
    // (A column constant over the split, to float rounding — one class's one-hot on a small file — has no spread to judge.)
    const spreadOff = ratio[j] > 1e-3 && (ratio[j] > SPREAD_RATIO || ratio[j] < 1 / SPREAD_RATIO);
    if (dist[j] > SHIFT_SDS || spreadOff) out.push({ name: names?.[j] ?? `input ${j}`, sds: dist[j], spread: ratio[j] });
  }
  // The farthest first, by mean or by spread, each in units of its own threshold.
  const far = (c: { sds: number; spread: number }) => Math.max(c.sds / SHIFT_SDS, c.spread > 1e-3 ? Math.max(c.spread, 1 / c.spread) / SPREAD_RATIO : 0);
  return out.sort((a, b) => far(b) - far(a));
}

/**
 * What a held-out file with shifted columns gets: refused where the model also scores far worse on it than on the
 * training rows (10 points of accuracy, 0.1 of R², and 5 of its rows: farAbove), else a warning.
 */
export function shiftVerdict(shifted: readonly { name: string; sds: number; spread: number }[], features: number, where: { file: string; what: string; flag: string; data: string },
  kind: TaskKind, metric: { split: number; train: number; against?: string }, rows: number): { refuse: boolean; message: string } {
  const maxSds = Math.max(...shifted.map((c) => c.sds));
  const spreads = shifted.map((c) => c.spread).filter((r) => r > 1e-3);
  const widest = Math.max(...spreads), narrowest = Math.min(...spreads);
  const spreadWords = [widest > SPREAD_RATIO ? `up to ${widest.toFixed(1)}×` : '', narrowest < 1 / SPREAD_RATIO ? `down to 1/${(1 / narrowest).toFixed(1)}` : ''].filter(Boolean).join(', ');
  const figures = [maxSds > SHIFT_SDS ? `means up to ${maxSds.toFixed(1)} training standard deviations away` : '', spreadWords ? `spreads ${spreadWords} theirs` : ''].filter(Boolean).join(', ');
  const cols = `${shifted.length} of its ${features} input columns lie far from the training rows' (${shifted.slice(0, 3).map((c) => `'${c.name}'`).join(', ')}${shifted.length > 3 ? ', …' : ''}: ${figures})`;
  const there = `the model's ${metricName(kind)} there is ${metricValue(kind, metric.split)}`;
  return farAbove(metric.train - metric.split, rows)
    ? { refuse: true, message: `${where.file}: ${cols}, and ${there} against ${metricValue(kind, metric.train)} on the ${metric.against ?? 'training rows'}: its ${where.what} rows are scaled or prepared otherwise than ${where.data}'s; give ${where.flag} rows prepared as the training rows` }
    : { refuse: false, message: `${where.file}: ${cols}: ${where.what} rows prepared otherwise than ${where.data}'s? (${there}, ${metricValue(kind, metric.train)} on the ${metric.against ?? 'training rows'})` };
}

/**
 * Held-out files (--val-data, --test-data) checked against the training rows: rows the training data repeats (warned),
 * columns prepared otherwise (refused where the model does far worse there, else warned: shiftedColumns).
 */
export function checkHeldOutRows(data: Dataset, opts: Pick<AutopruneOptions, 'data' | 'valData' | 'testData' | 'onEvent'>, model: TF.LayersModel, task: TaskInfo): void {
  if (typeof opts.data !== 'string') return;
  if (!opts.valData && !opts.testData) return;
  if (data.train.x.size > 50_000_000) return;
  const training = rowKeys(data.train.x);
  for (const [file, split, what, flag] of [[opts.valData, data.val, 'validation', '--val-data'], [opts.testData, data.test, 'test', '--test-data']] as const) {
    if (!file) continue;
    const rows = split.x.shape[0];
    // Values prepared otherwise than --data's (a test file of raw values beside [0, 1]-scaled training rows: a new user's
    // dense model scored R² −2.8 on it against 0.75 on validation, and the run reported that without a word). Token ids
    // are not scaled; a quarter of the columns at least (a rare pixel may drift by chance).
    const names = data.inputNames && data.inputNames.length === data.train.x.size / Math.max(1, data.train.x.shape[0]) ? data.inputNames : undefined;
    const shifted = tokenInputLayer(model) || rows < MIN_LABEL_CHECK_ROWS ? [] : shiftedColumns(data.train.x, split.x, names);
    const features = data.train.x.size / Math.max(1, data.train.x.shape[0]);
    if (shifted.length > 0 && shifted.length >= features / 4) {
      // Compared with rows the model was not trained on where there are such rows of the data file's own preparation (a
      // test file against the validation split; an overfit model scores its training rows higher than any held-out file).
      const ownVal = what === 'test' && !opts.valData;
      const said = shiftVerdict(shifted, features, { file, what, flag, data: String(opts.data) }, task.kind,
        { split: evaluate(model, split, task).accuracy, train: evaluate(model, ownVal ? data.val : data.train, task).accuracy, ...(ownVal ? { against: 'validation rows' } : {}) }, rows);
      if (said.refuse) throw new DataError(said.message);
      opts.onEvent?.({ type: 'warning', message: said.message });
    }
    const { seen, copied } = repeatedRows(training, rowKeys(split.x));
    if (copied) {
      opts.onEvent?.({
        type: 'warning',
        message: `${seen} of the ${rows} ${what} rows of ${file} have the same inputs as training rows: ${what === 'validation' ? 'the guard judges the model on rows it is fine-tuned on, which hides what pruning costs on new data' : 'the test figures measure rows the model is fine-tuned on'}; give ${flag} rows the training data does not hold`,
      });
    }
  }
}

/**
 * Classes (with at least 10 test rows) whose test recall fell by more than max(10 points, 2 × max drop) beyond the
 * accuracy's own drop, or to less than half of the dense model's with at least 3 of their rows lost (a rare class the
 * dense model recalled poorly: 9 → 2 of 73 rows is 9.6 points, and most of what it found), or to none of its rows
 * where the dense model found some (a class the pruned model no longer predicts on its rows, however few of them the
 * dense model found: the message gives the rows): what accuracy hides on imbalanced data. A class of fewer than 10 test
 * rows is not judged (one or two rows decide its recall); report.json `final.classes` still gives it.
 */
export function classRecallLosses<C extends { testRows: number; denseRecall: number | null; recall: number | null }>(
  classes: readonly C[], accuracyDrop: number, maxDropPoints: number,
): C[] {
  const beyond = Math.max(0.1, (2 * maxDropPoints) / 100);
  return classes.filter((c) => c.testRows >= 10 && c.denseRecall != null && c.recall != null && (
    c.denseRecall - c.recall > Math.max(0, accuracyDrop) + beyond ||
    (c.recall < c.denseRecall / 2 && Math.round(c.testRows * (c.denseRecall - c.recall)) >= 3) ||
    (c.recall === 0 && c.denseRecall > 0)));
}

/**
 * Where a CSV's flat input columns were read as a model input of several axes ([10, 3]: 10 time steps of 3
 * features), how: row-major, the last axis fastest. A CSV stored feature by feature would be read wrongly
 * without a sign, so the run says which columns make the first positions.
 */
export function inputLayout(data: Dataset, fitted: Dataset): string | undefined {
  const names = data.inputNames;
  const shape = fitted.inputShape;
  if (!names?.length || shape.length < 2) return undefined;
  const last = shape[shape.length - 1];
  const group = (k: number) => `${names[k * last]}${last > 1 ? `…${names[k * last + last - 1]}` : ''}`;
  // Position k of the leading axes, unravelled row-major.
  const at = (k: number) => {
    const idx = shape.slice(0, -1).reduceRight<number[]>((acc, d) => { acc.unshift(k % d); k = Math.floor(k / d); return acc; }, []);
    return `[${idx.join(', ')}, :]`;
  };
  return `the CSV's ${names.length} input columns are read as the model's input shape [${shape.join(', ')}], row by row (the last axis fastest): ` +
    `${group(0)} are ${at(0)}, ${group(1)} are ${at(1)}, …; a CSV that lists each feature's values together must be reordered`;
}

/**
 * Whether another order of the labels explains a model's predictions on `rows` validation rows (`best` of them
 * right in that order, `identity` in the order given): it gets most rows right (halfway from `chance` to every
 * row), or it beats the given order by far more than a search over orders finds by chance — 5 rows and 10 % of
 * the split, at z ≥ 4 paired (with b the rows only it gets right and c the reverse, b − c is the gain and
 * b + c ≤ best + identity, so gain / √(best + identity) bounds the z from below). The second is what a weak binary
 * model coded the other way round shows: 27.5 % right as given, 72.5 % swapped — never halfway from chance
 * (75 %), but 45 points apart, and 9.5 points above always answering its most common label (63 %). `majority`: the
 * rows of the most common label.
 */
export function otherOrderFits(identity: number, best: number, rows: number, chance: number, majority: number): boolean {
  const gain = best - identity;
  // … and the other order explains more than always answering the most common label does (by 2 rows and 3 % of
  // them): a model that predicts one class (untrained, or collapsed) matches the majority in *some* order, which
  // says nothing about the order it was trained with.
  const clearly = gain >= Math.max(5, Math.ceil(0.1 * rows)) && gain / Math.sqrt(Math.max(1, best + identity)) >= 4 &&
    best >= majority + Math.max(2, Math.ceil(0.03 * rows));
  return best / Math.max(1, rows) >= chance + (1 - chance) / 2 || clearly;
}

/**
 * logLik[label][output]: the summed log-probability the model's outputs `y` (one forward pass over the validation rows)
 * give each output on the rows of each label; an output the model lacks counts as probability 1e-7.
 */
function classLogLikelihoods(y: TF.Tensor, task: TaskInfo, labels: Int32Array, classes: number): Float64Array[] {
  const probs = tf.tidy(() => {
    const y2 = y as TF.Tensor2D;
    if (task.units === 1) {
      const p1 = task.output === 'sigmoid' ? y2 : tf.sigmoid(y2);
      return tf.concat([tf.sub(1, p1), p1], 1);
    }
    return task.output === 'logits' ? tf.softmax(y2) : y2;
  });
  const p = probs.dataSync();
  const width = probs.shape[1] ?? 1;
  probs.dispose();
  const out = Array.from({ length: classes }, () => new Float64Array(classes));
  labels.forEach((label, i) => {
    if (label >= classes) return;
    for (let o = 0; o < Math.min(width, classes); o++) out[label][o] += Math.log(Math.max(1e-7, p[i * width + o]));
    for (let o = width; o < classes; o++) out[label][o] += Math.log(1e-7);
  });
  return out;
}

/**
 * Mean cross-entropy of the model on `rows` validation rows with each label on the output the given order maps it to
 * (label k → output k), and in `order` (order[out] = the label index on output `out`), from classLogLikelihoods.
 */
function orderCrossEntropies(logLik: readonly Float64Array[], order: number[], rows: number): { given: number; best: number } {
  const outputOf = new Map(order.map((label, out) => [label, out]));
  let given = 0;
  let best = 0;
  logLik.forEach((row, k) => {
    given -= row[k];
    best -= row[outputOf.get(k) ?? k];
  });
  return { given: given / Math.max(1, rows), best: best / Math.max(1, rows) };
}

/**
 * Labels are mapped to outputs by the order the user gave (--label-order), else integer labels k to output k
 * and named ones in sorted order; when the model was trained with another mapping (0/1 coded the other way
 * round, names in another order) its dense accuracy is at chance or below. Named labels no better than chance
 * (within one validation row), integer labels below chance by more than a row where another mapping explains the
 * predictions well: refused, since fine-tuning would retrain the model to another meaning of its outputs.
 * Where another order explains the predictions by more than a search over orders finds by chance (two
 * validation rows, or 3 % of them on larger splits; bestLabelOrder): a warning naming that order. (A weak model in the right order is not warned about: only its accuracy is low, no other
 * order scores higher.) An order given with --label-order is refused only where the model is also confident in the
 * other order and confidently wrong in the given one (cross-entropy; a model not yet trained is unsure in every
 * order); a split of fewer than MIN_LABEL_CHECK_ROWS rows is never refused: only the warning.
 */
/** An in-memory Dataset (the API's): not a CSV path, nor the built-in data set (no `data`). */
const inMemoryData = (opts: Pick<AutopruneOptions, 'data'>): boolean => opts.data != null && typeof opts.data !== 'string';
/** The data as the input checks' messages name it: the CSV's path (or the built-in set's name), or the Dataset by its name. */
const dataLabel = (opts: Pick<AutopruneOptions, 'data'>, data: Dataset): string => (typeof opts.data === 'string' ? opts.data : `dataset '${data.name}'`);

export function checkLabelOrder(model: TF.LayersModel, data: Dataset, opts: Pick<AutopruneOptions, 'data' | 'model' | 'labelOrder' | 'onEvent'>, prefix = ''): void {
  // A CSV, or an in-memory Dataset (the API's: its labels are class indices, class k = output k, and a wrong encoding
  // would be retrained into the model as surely); not the built-in data set, whose labels are autoprune's own.
  const inMemory = inMemoryData(opts);
  if ((typeof opts.data !== 'string' && !inMemory) || opts.model == null) return;
  const task = taskOf(model);
  if (task.kind !== 'classification') return; // other tasks: checkTargets
  const names = inMemory ? Array.from({ length: Math.max(2, data.numClasses) }, (_, k) => String(k)) : data.classNames;
  const numeric = names.every((n) => /^[+-]?\d+(\.\d+)?$/.test(n));
  // One-hot label columns (--label a,b,c): their order is the one given there, and --label is what reorders them.
  const oneHot = !inMemory && (data.targetNames?.length ?? 0) > 1;
  // (Refused or warned as an order not given: the columns' order is the user's, but a model far better in another is refused.)
  const given = opts.labelOrder != null;
  const mapping = inMemory ? `the dataset's labels as class indices (label k = output k)`
    : oneHot ? `the label columns in the order given to --label (${names.join(', ')})`
    : given ? `--label-order ${csvNames(names)}`
    : numeric && names.every((n, k) => Number(n) === k) ? `integer labels as output indices (label k = output k: ${names.join(', ')})`
    : numeric ? `the labels in numeric order as outputs 0, 1, … (${names.join(', ')})` : `the labels in sorted order (${names.join(', ')})`;
  /** What gives the classes in another order: --label for one-hot columns, else --label-order; in memory, labels recoded. */
  const reorder = (order: string) => (inMemory ? `the labels recoded to the model's output order (label ${order.split(',')[0]} as 0${order.includes(',') ? `, ${order.split(',')[1]} as 1, …` : ''})`
    : oneHot ? `--label ${order}` : `--label-order ${order}`);
  /** How the messages say "the labels in that order". */
  const inOrder = inMemory ? 'the labels in the order' : 'the names in the order';
  const rows = data.val.labels.length;
  // One forward pass: the predicted classes give both the accuracy (the rows right in this mapping) and the
  // order of the labels that explains them best.
  // (Its probabilities give the cross-entropies below, and the likeliest of near-equal orders.)
  // Over every output, also those no name of this file maps to (a class absent from the data): the names' sorted
  // order can then put a name on another class's output, and only a search over all outputs sees the right one.
  const outputs = task.units === 1 ? 2 : task.units;
  const classes = Math.max(2, names.length, outputs);
  const y = predict(model, data.val.x);
  const t = predictedClasses(y, task);
  const logLik = classLogLikelihoods(y, task, data.val.labels, classes);
  y.dispose();
  // Under class weights (Split.weights) rows count by their weights: the model's trade is judged as it was trained.
  const w = data.val.weights;
  const order = bestLabelOrder(data.val.labels, t.dataSync(), classes, logLik, w);
  t.dispose();
  const acc = order.identity / Math.max(1, rows);
  const chance = 1 / Math.max(2, names.length);
  // On imbalanced classes "chance" (one in k) is not what a model that learned nothing scores: always answering the
  // most common class scores its share (a new user's 4-class table: "chance 25.0 %" where that gave 42 %).
  const common = majorityShare(data.val.labels, w);
  const commonShare = common.share;
  /** Rows (weighted rows under class weights) that always answering the most common class gets right. */
  const commonRows = w ? commonShare * rows : common.count;
  const baseline = commonShare > chance + 0.05 ? `chance ${(100 * chance).toFixed(1)} %, always the most common class ${(100 * commonShare).toFixed(1)} %` : `chance ${(100 * chance).toFixed(1)} %`;
  const scores = `${prefix}${inMemory ? `${dataLabel(opts, data)}: ` : ''}the model's ${w ? 'class-weighted accuracy' : 'accuracy'} on the validation split is ${(100 * acc).toFixed(1)} % (${baseline}, ${rows} rows)`;
  // Integer labels: an output no label takes gets the integer the others' offset gives it (labels 2, 3 on outputs 1, 2:
  // output 0 is 1), else the smallest one no label has — never a label of the file (a new user was told '2,2,3').
  const taken = new Set(names);
  const offsets = new Set(order.order.flatMap((k, out) => (names[k] != null && Number.isInteger(Number(names[k])) ? [Number(names[k]) - out] : [])));
  const absentNumber = (out: number): string => {
    const [c] = offsets.size === 1 ? [...offsets] : [undefined];
    let v = c != null && out + c >= 0 && !taken.has(String(out + c)) ? out + c : 0;
    while (taken.has(String(v))) v++;
    taken.add(String(v));
    return String(v);
  };
  // An output that no name of the file takes in the best order is named by its index: --label-order needs a name
  // there, any name no row has (the class the model knows and this file lacks).
  const named = order.order.map((k, out) => names[k] ?? (numeric ? absentNumber(out) : `output${out}`));
  const unnamed = named.filter((n, out) => names[order.order[out]] == null && !numeric);
  // Integer labels: an output no label of the file takes is named by its index, a class with no rows here.
  const absent = numeric ? named.filter((n, out) => names[order.order[out]] == null) : [];
  const placeholder = unnamed.length ? ` (${unnamed.join(', ')}: the name of a class this file has no rows of, or any name not in it)`
    : absent.length ? ` (${absent.join(', ')}: a class this file has no rows of; if the file's labels are not the model's classes — a 0/1 recoding, one of several one-hot columns (--label with all of them) — no order fits)` : '';
  // Named labels: no better than chance. Integer labels follow a convention (label k = output k), so only a model
  // below chance by more than a row that another mapping explains well (at least halfway from chance to every row
  // right: 0/1 coded the other way round) says the convention is not its own; a weak or untrained model does not.
  const row = 1 / Math.max(1, rows);
  const otherFits = otherOrderFits(order.identity, order.best, rows, chance, commonRows);
  // An order the user gave is theirs to answer for (it is also how a model not yet trained is pruned on purpose):
  // never refused, only warned about below. Nor is a split too small to tell a trained model from chance.
  if (!given && rows >= MIN_LABEL_CHECK_ROWS && (numeric ? acc < chance - row && otherFits : acc <= chance + row)) {
    // Another order of the labels explains the predictions: the order is wrong. None does: the inputs are not what
    // the model was trained on (other columns, or another scaling: a model trained on standardized features).
    if (otherFits) {
      throw new DataError(`${scores} with ${mapping}, but ${(100 * order.best / rows).toFixed(1)} % with ${inOrder} ${named.join(', ')}: it was not trained for these labels in this order, ` +
        `and fine-tuning would retrain it to another meaning of its outputs; pass ${reorder(csvNames(named))}${placeholder}${inMemory ? '' : ' (or the labels in the model\'s output order)'}`);
    }
    throw new DataError(`${scores} with ${mapping}, and no other order of the labels does better: it was not trained for these inputs, and fine-tuning would retrain it; check the input columns and their scaling (--ignore-columns; --standardize if it was trained on standardized features), or the label order (--label-order)`);
  }
  // Another order explains more rows: worth a warning when it is more than what a search over the orders finds
  // by chance for a weak model (a few rows of hundreds among 12 classes): 2 rows, or 3 % of them on larger splits.
  // Far more (5 rows and 10 % of the split, and a good fit in that order): the names are the model's, in another
  // order, so fine-tuning would swap the meaning of its outputs: refused, as below chance is.
  // An order the user gave is not refused on the fit alone: a fresh network on separable data fits some other order
  // by luck as well as a trained one does (iris, 15 rows: 13 % as given, 87 % in another order; refusing on the fit
  // was tried 2026-12-05 and withdrawn). Its confidence tells them apart (below).
  if (!given && rows >= MIN_LABEL_CHECK_ROWS && otherFits && order.best >= order.identity + Math.max(5, Math.ceil(0.1 * rows))) {
    throw new DataError(`${scores} with ${mapping}, but ${(100 * order.best / rows).toFixed(1)} % with ${inOrder} ${named.join(', ')}: ` +
      `it was trained with another order, and fine-tuning would retrain its outputs to new meanings; pass ${reorder(csvNames(named))}${placeholder} (or the order it was trained with)`);
  }
  // An order the user gave, far worse than another that the model is confident in (a trained model, confidently
  // right in that order and confidently wrong in theirs: a typo, or the classes of another file): refused too. A
  // model not yet trained is unsure in every order (cross-entropy near log C), so it is still only warned about.
  if (given && rows >= MIN_LABEL_CHECK_ROWS && otherFits && order.best >= order.identity + Math.max(5, Math.ceil(0.1 * rows))) {
    const ce = orderCrossEntropies(logLik, order.order, rows);
    const uniform = Math.log(outputs);
    if (ce.best <= 0.5 * uniform && ce.given >= uniform) {
      throw new DataError(`${scores} with ${mapping}, but ${(100 * order.best / rows).toFixed(1)} % with ${inOrder} ${named.join(', ')}, and it is confident in that order ` +
        `(validation cross-entropy ${ce.best.toFixed(2)} there, ${ce.given.toFixed(2)} in the order given; ${uniform.toFixed(2)} is a model unsure of every class): it was trained with that order, ` +
        `and fine-tuning would retrain its outputs to new meanings; pass ${reorder(csvNames(named))}${placeholder}, or no --label-order`);
    }
  }
  // A label the model was never trained for while the input width still fits (--label naming another 0/1 column of the
  // file): no better than always answering the most common label, and as sure of its answers as a trained model — so
  // confidently wrong about as often as right. A weak model of this label is unsure where it is wrong (its training
  // lowered exactly this cross-entropy); one not yet trained is unsure everywhere (near log C).
  if (!given && rows >= MIN_LABEL_CHECK_ROWS) {
    const base = Math.max(chance, commonShare);
    // Near it: less than a quarter of the way from it to every row right (a label the model's own one correlates with,
    // rain and city, gets a few points above it: 55.1 % against 50.0 % on 292 rows; iris with two feature columns
    // swapped, 66.7 % against 33.3 %, is past it and left to the warning after the run).
    const beatsBase = acc >= base + (1 - base) / 4;
    if (!beatsBase) {
      const ce = orderCrossEntropies(logLik, order.order, rows).given;
      const uniform = Math.log(outputs);
      if (ce >= CONFIDENTLY_WRONG * uniform) {
        throw new DataError(`${scores} with ${mapping}: near what always answering its most common label scores (${(100 * base).toFixed(1)} %), ` +
          `while sure of its answers (validation cross-entropy ${ce.toFixed(2)}; ${uniform.toFixed(2)} is a model unsure of every class): it looks trained to predict something else, ` +
          `and fine-tuning would retrain it to this label; check --label (the column the model predicts) and the input columns` +
          // A model not trained well enough scores this way too (a new user's batch-norm CNN after 10 epochs, 27 % on its own
          // labels, was told it predicts something else and given no way on): saying the order is theirs is that way.
          (inMemory || oneHot ? '' : `; if this is the label it was trained on (a model trained too little to prune scores like this too), say so with its classes in output order: ${reorder(csvNames(names))}`));
      }
    }
  }
  // Integer labels, or an order given, that leave some of the model's classes without a single training row (a 3-class
  // model given a 0/1 column): fine-tuning on these rows teaches it never to answer the others, whatever the order.
  const present = new Set(data.train.labels).size;
  if ((numeric || given) && present < outputs) {
    opts.onEvent?.({
      type: 'warning',
      message: `${prefix}the training rows have labels of ${present} of the model's ${outputs} classes: fine-tuning on them teaches it never to answer the other ${outputs - present}, ` +
        'and the accuracy reported is on these classes only; if the model was trained for all of them, give data with every class (one-hot label columns: --label with all of them, in output order)',
    });
  }
  if (order.best >= order.identity + Math.max(2, Math.ceil(0.03 * rows))) {
    opts.onEvent?.({
      type: 'warning',
      message: `${scores}${given ? ` with ${mapping}` : ''}; with ${inOrder} ${named.join(', ')} it would be ${(100 * order.best / Math.max(1, rows)).toFixed(1)} %: if the model was trained with that order, pass ${reorder(csvNames(named))}${placeholder}`,
    });
    return;
  }
  // Fewer names than outputs, none given: the sorted order puts them on the first outputs, a guess the predictions
  // cannot confirm for a class with no rows. Said, with what to do if it is wrong.
  if (!given && !numeric && names.length < outputs) {
    opts.onEvent?.({
      type: 'warning',
      message: `${prefix}the data has ${names.length} label names for the model's ${outputs} outputs: they are read as outputs 0–${names.length - 1} in sorted order (${names.join(', ')}), and output${outputs - names.length === 1 ? '' : 's'} ` +
        `${Array.from({ length: outputs - names.length }, (_, k) => names.length + k).join(', ')} as classes with no rows; if the model's outputs are in another order, pass --label-order with one name per output`,
    });
  }
  // A model no better than always answering the most common class (95 % on a 95/5 table): accuracy, the guard's
  // metric, cannot show what pruning costs the rare classes. (Under class weights, in weighted rows: balanced, 1 / classes.)
  const most = commonRows;
  if (rows >= MIN_LABEL_CHECK_ROWS && order.identity <= most + 1 && most < rows - 1e-9) {
    const metric = w ? 'class-weighted accuracy' : 'accuracy';
    opts.onEvent?.({
      type: 'warning',
      message: `the model's validation ${metric} (${(100 * acc).toFixed(1)} %) is no better than always answering the most common class '${names[common.label] ?? common.label}' ` +
        `(${(100 * most / rows).toFixed(1)} % ${w ? 'by the class weights' : `of the ${rows} rows`}): ${metric}, which the guard compares, cannot show what pruning costs the other classes`,
    });
  }
}

/**
 * A user's multi-label, regression or autoencoder model that does worse on the validation split than a constant
 * (each label's more common value, by more than a row; the mean: R² ≤ 0) was not trained for these target
 * columns (another order, another column) or these inputs: refused before any training, as fine-tuning would
 * retrain it to another task. A multi-label model level with the constants gets a warning.
 */
export function checkTargets(model: TF.LayersModel, data: Dataset, task: TaskInfo, opts: AutopruneOptions, reload?: ColumnLoader): void {
  // A CSV, or an in-memory Dataset (the API's); not the built-in data set.
  const inMemory = inMemoryData(opts);
  if ((typeof opts.data !== 'string' && !inMemory) || opts.model == null || task.kind === 'classification') return;
  const each = task.kind === 'regression' ? checkRegressionColumns(model, data, opts, inMemory ? undefined : reload) : undefined;
  const rows = data.val.labels.length;
  const score = accuracy(model, data.val, task);
  const cols = data.targetNames?.length ? ` (target columns: ${data.targetNames.join(', ')})` : '';
  const what = `${dataLabel(opts, data)}: the model's ${metricName(task.kind)} on the validation split (${rows} rows) is`;
  const fix = inMemory
    ? `give ${task.kind === 'autoencoder' ? 'its inputs' : `its targets in output order (each split's y) and its inputs`} as the model was trained on them, scaled alike`
    : task.kind === 'autoencoder'
    ? 'check that the CSV holds exactly its input columns, scaled as in training (--ignore-columns, --standardize)'
    : `name its ${task.units} target column${task.units === 1 ? '' : 's'} in output order with --label, and check the input columns and their scaling (--ignore-columns, --standardize)` +
      (task.kind === 'regression' ? ', and the targets\' scale (--standardize scales the inputs only: a model trained on standardized targets needs them so in the CSV)' : '');
  if (task.kind === 'multilabel') {
    // Per label (exact match rewards rows where mismatched labels happen to agree): the outputs' mean accuracy
    // against the best constant for each label on these rows (its more common value here).
    const yv = data.val.y!.arraySync() as number[][];
    const predicted = tf.tidy(() => tf.greater(model.predict(data.val.x) as TF.Tensor, 0.5).arraySync() as number[][]);
    const k = yv[0]?.length ?? 0;
    const perLabel = yv.reduce((a, r, i) => a + r.filter((v, j) => predicted[i][j] === v).length, 0) / Math.max(1, rows * k);
    let base = 0;
    for (let j = 0; j < k; j++) {
      const ones = yv.reduce((a, r) => a + r[j], 0) / Math.max(1, rows);
      base += Math.max(ones, 1 - ones) / Math.max(1, k);
    }
    const scores = `${what} ${(100 * score).toFixed(1)} % and its outputs are right on ${(100 * perLabel).toFixed(1)} % of the labels`;
    // Clearly worse than the constants (by more than a row): refused. Level with them (a weak model on rare
    // labels can be): a warning that says what to check.
    if (perLabel < base - 1 / Math.max(1, rows)) {
      throw new DataError(`${scores}, worse than predicting each label's more common value (${(100 * base).toFixed(1)} %)${cols}: ` +
        `it was not trained for these labels in this order, and fine-tuning would retrain it to another task; ${fix}`);
    }
    if (perLabel <= base + 1 / Math.max(1, rows)) {
      opts.onEvent?.({ type: 'warning', message: `${scores}, no better than predicting each label's more common value (${(100 * base).toFixed(1)} %)${cols}; if the labels are in another order than its outputs, ${fix}` });
    }
    return;
  }
  if (!(score > 0)) {
    // A weak model can score R² ≤ 0 on a small validation split and still have learned its training rows: refused
    // only where it does no better than the mean on the training rows too.
    const trainScore = accuracy(model, data.train, task);
    // Several targets: the mean hides which one fails (a new user's model fitted its price at R² 0.98 and its rate, a
    // hundred-thousandth of price's scale, not at all: its absolute loss never saw the rate).
    const fitting = each?.filter((t) => t.r2 >= 0.3) ?? [];
    const failing = each?.filter((t) => !(t.r2 > 0)) ?? [];
    const perTarget = each && each.length > 1 ? ` (per target: ${each.map((t) => `${t.name} ${t.r2.toFixed(3)}`).join(', ')})` : cols;
    const why = fitting.length > 0 && failing.length > 0
      ? `it fits ${fitting.map((t) => t.name).join(', ')} but not ${failing.map((t) => t.name).join(', ')}: ${failing.length === 1 ? 'a target' : 'targets'} it was not trained for, or whose scale its loss ` +
        `did not see (a target far smaller than the others adds almost nothing to an absolute or squared loss); the mean R² the guard judges would be ` +
        `${failing.map((t) => t.name).join(' and ')}'s noise; check the target columns and their order (--label), or retrain the model with its targets scaled alike`
      : undefined;
    if (trainScore > 0.1) {
      opts.onEvent?.({ type: 'warning', message: `${what} ${score.toFixed(3)}, no better than predicting the mean (R² ≤ 0)${perTarget}, though ${trainScore.toFixed(3)} on the training rows: ` +
        (why ?? `a weak model, or one not trained for these targets or inputs; if the latter, ${fix}`) });
      return;
    }
    throw new DataError(`${what} ${score.toFixed(3)}, no better than predicting the mean (R² ≤ 0)${perTarget}, and ${trainScore.toFixed(3)} on the training rows: ` +
      (why ?? `it was not trained for these targets or inputs, and fine-tuning would retrain it to another task; ${fix}`));
  }
}

/** The same CSV read again with other columns as the targets (`label`) and others ignored: the same rows and inputs. */
export type ColumnLoader = (label: string[], ignore: string[]) => Dataset;

/** R² of each output column of `pred` (rows × outputs) against each candidate column (rows each): [output][candidate]. */
function r2Matrix(pred: number[][], candidates: Float64Array[]): number[][] {
  const n = pred.length;
  return (pred[0] ?? []).map((_, i) => candidates.map((c) => {
    const mean = c.reduce((a, v) => a + v, 0) / n;
    let ss = 0;
    let res = 0;
    for (let r = 0; r < n; r++) {
      ss += (c[r] - mean) ** 2;
      res += (c[r] - pred[r][i]) ** 2;
    }
    return ss > 0 ? 1 - res / ss : Number.NEGATIVE_INFINITY;
  }));
}

/** The injective map of outputs to candidate columns with the highest mean R² (exhaustive up to 40,320 maps, else greedy). */
function bestColumns(r2: number[][]): { cols: number[]; score: number } {
  const u = r2.length;
  const c = r2[0]?.length ?? 0;
  let best = { cols: [] as number[], score: Number.NEGATIVE_INFINITY };
  let maps = 1;
  for (let i = 0; i < u; i++) maps *= c - i;
  if (maps <= 40_320) {
    const walk = (i: number, used: number[], sum: number) => {
      if (i === u) {
        if (sum / u > best.score) best = { cols: [...used], score: sum / u };
        return;
      }
      for (let j = 0; j < c; j++) if (!used.includes(j)) walk(i + 1, [...used, j], sum + r2[i][j]);
    };
    walk(0, [], 0);
    return best;
  }
  const used = new Set<number>();
  const cols = r2.map((row) => {
    let j = -1;
    row.forEach((v, k) => { if (!used.has(k) && (j < 0 || v > row[j])) j = k; });
    used.add(j);
    return j;
  });
  return { cols, score: cols.reduce((a, j, i) => a + r2[i][j], 0) / u };
}

/**
 * A regression model whose outputs fit other columns of the CSV far better than the targets given — the same
 * columns in another order, or a column the user ignored (the one it was trained to predict) — was trained for those:
 * refused before any training, naming the --label that fits, as fine-tuning would retrain it to the columns given.
 * "Far": 0.1 of mean R² (and 5 validation rows' worth), with the fitting columns at R² ≥ 0.3. Ignored columns that
 * are not numbers are skipped. Otherwise returns each output's validation R² against its target as given.
 */
function checkRegressionColumns(model: TF.LayersModel, data: Dataset, opts: AutopruneOptions, reload?: ColumnLoader): { name: string; r2: number }[] | undefined {
  const y = data.val.y;
  // An in-memory Dataset may name no targets: numbered as the report numbers them.
  const inMemory = inMemoryData(opts);
  const given = data.targetNames ?? (inMemory && y?.rank === 2 ? Array.from({ length: y.shape[1] ?? 0 }, (_, j) => `target ${j + 1}`) : []);
  if (!y || given.length === 0) return undefined;
  const rows = y.shape[0];
  const pred = tf.tidy(() => predict(model, data.val.x).arraySync() as number[][]);
  const yv = y.arraySync() as number[][];
  const names = [...given];
  const columns = given.map((_, j) => Float64Array.from(yv, (r) => r[j]));
  // The ignored columns that hold numbers (the first 8 tried), on the same validation rows (the split does not
  // depend on the targets); the other ignored columns stay ignored, so the inputs are the same.
  const ignored = opts.ignoreColumns ?? [];
  if (reload && !opts.valData) {
    for (const col of ignored.slice(0, 8)) {
      try {
        const other = reload([...given, col], ignored.filter((c) => c !== col));
        try {
          const ov = other.val.y?.arraySync() as number[][] | undefined;
          if (ov && ov.length === rows) {
            names.push(col);
            columns.push(Float64Array.from(ov, (r) => r[given.length]));
          }
        } finally {
          other.dispose();
        }
      } catch {
        // Not a number column (an id, a date): not a candidate.
      }
    }
  }
  const r2 = r2Matrix(pred, columns);
  const asGiven = given.reduce((a, _, i) => a + r2[i][i], 0) / given.length;
  const best = bestColumns(r2);
  const identity = best.cols.every((j, i) => j === i);
  // Each output's R² against its own target column, as given: what a refusal for R² ≤ 0 names (checkTargets).
  if (identity || !(best.score >= 0.3 && farAbove(best.score - asGiven, rows))) return given.map((name, i) => ({ name, r2: r2[i][i] }));
  const fits = best.cols.map((j) => names[j]);
  const extra = fits.filter((n) => !given.includes(n));
  const dropped = given.filter((n) => !fits.includes(n));
  const fitWhat = fits.length === 1 ? `the model's output fits the column ${fits[0]}` : `the model's outputs fit the columns ${fits.join(', ')} in that order`;
  throw new DataError(`${dataLabel(opts, data)}: ${fitWhat} (validation R² ${best.score.toFixed(3)}) far better than the ${given.length === 1 ? 'target' : 'targets'} given, ` +
    `${given.join(', ')} (R² ${asGiven.toFixed(3)}): it was trained for ${fits.length === 1 ? 'that' : 'those'}, and fine-tuning would retrain it to another task; ` +
    (inMemory ? `give each split's y with its columns in that order`
      : `pass --label ${csvNames(fits)}${extra.length ? ` (and no --ignore-columns for ${extra.join(', ')}${dropped.length ? `; ignore ${dropped.join(', ')} instead` : ''})` : ''}`));
}

/** A metric gain that says the model was prepared for other inputs: 10 points of accuracy (0.1 of R²), and 5 validation rows. */
export const farAbove = (gain: number, rows: number): boolean => gain >= Math.max(0.1, 5 / Math.max(1, rows));

/**
 * A model trained on standardized features and given the columns as they are (or trained on raw values and given
 * them standardized, --standardize) scores far better on the validation split with the other scaling: refused
 * before any training, since fine-tuning would retrain it to the scaling it was given and change what its users
 * must feed it. "Far": 10 points of accuracy (0.1 of R²), and at least 5 validation rows. Autoencoders are left
 * out (their targets are their inputs, so the scaling is the task itself).
 */
export function checkInputScaling(model: TF.LayersModel, data: Dataset, task: TaskInfo, opts: Pick<AutopruneOptions, 'data' | 'model' | 'inputScale' | 'onEvent'>, standardized: boolean, o: { takesInputScale?: boolean } = { takesInputScale: true }): void {
  if (opts.model == null || task.kind === 'autoencoder') return;
  // An in-memory Dataset (the API's) is checked too: loadCsv z-scores by default, and a model trained on raw values
  // would otherwise be retrained to z-scores without a word. Its fixes are said in the API's words.
  const csv = typeof opts.data === 'string';
  // A built-in data set (mnist-10k: pixels in [0, 1]) cannot be rescaled: the remedy is the user's own CSV.
  const builtIn = csv && !isCsvPath(String(opts.data));
  const remedy = (csvFix: string, apiFix: string, scaling: string) => (builtIn
    ? `the built-in '${String(opts.data)}' cannot be rescaled: give the data as a CSV file with its values as in training (${scaling})`
    : csv ? csvFix : apiFix);
  // A guess from scores, not a fact: a user who says how the values relate to training (an explicit --input-scale,
  // 1 included) is warned instead (a new user's half-trained batch-norm CNN, trained on [0, 1], scored higher × 255
  // and had no way round the refusal).
  const refuse = (e: DataError): void => {
    // (Not with --standardize, which takes no --input-scale: its refusal's remedy is to drop it.)
    // (Nor for a command without --input-scale: build-meta.)
    const sayable = csv && !builtIn && !standardized && o.takesInputScale === true;
    if (sayable && opts.inputScale != null) {
      opts.onEvent?.({ type: 'warning', message: `${e.message.replace(/; [^;]*$/, '')}; going on with the values as --input-scale ${+opts.inputScale.toPrecision(6)} gives them, as you said` });
      return;
    }
    if (sayable) e.message += '; if the values are as in training, say so with --input-scale 1 and the run goes on (with a warning)';
    throw e;
  };
  // Token ids (an input read by an Embedding) are not scaled: no other scaling is a candidate (and a negative id fails).
  if (tokenInputLayer(model)) return;
  const rows = data.val.x.shape[0];
  const features = data.val.x.size / Math.max(1, rows);
  const st = data.standardization;
  if (rows < MIN_LABEL_CHECK_ROWS || (standardized && (!st || st.mean.length !== features))) return;
  // The other scalings a user's inputs may have had in training: without --standardize, z-scores and each column
  // scaled to [0, 1] (pixels / 255, min-max); with it, the values as they are.
  const others = tf.tidy(() => {
    const flat = tf.reshape(data.val.x, [rows, features]);
    const back = (t: TF.Tensor) => tf.keep(tf.reshape(t, data.val.x.shape));
    if (standardized) return [{ name: 'raw' as const, x: back(tf.add(tf.mul(flat, tf.tensor1d(st!.std)), tf.tensor1d(st!.mean))) }];
    const train = tf.reshape(data.train.x, [data.train.x.shape[0], features]);
    const { mean, variance } = tf.moments(train, 0);
    const sd = tf.sqrt(variance);
    // A constant column is fed as 0, as --standardize does.
    const inv = tf.where(tf.greater(sd, 1e-12), tf.div(1, tf.maximum(sd, 1e-12)), tf.zerosLike(sd));
    const lo = tf.min(train, 0);
    const range = tf.sub(tf.max(train, 0), lo);
    const invRange = tf.where(tf.greater(range, 1e-12), tf.div(1, tf.maximum(range, 1e-12)), tf.zerosLike(range));
    // Inputs all in [0, 1] (pixels / 255) given to a model trained on 0–255 pixels: the other way round. And whole
    // numbers in [0, 255] (pixels as bytes) given to a model trained on pixels / 255.
    const min = tf.min(train).arraySync() as number;
    const max = tf.max(train).arraySync() as number;
    const inUnit = min >= 0 && max <= 1;
    const bytes = !inUnit && min >= 0 && max <= 255 && (tf.all(tf.equal(train, tf.round(train))).arraySync() as number) === 1;
    return [
      { name: 'z' as const, x: back(tf.mul(tf.sub(flat, mean), inv)) },
      { name: 'unit' as const, x: back(tf.mul(tf.sub(flat, lo), invRange)) },
      ...(inUnit ? [{ name: 'x255' as const, x: back(tf.mul(flat, 255)) }] : []),
      ...(bytes ? [{ name: 'd255' as const, x: back(tf.div(flat, 255)) }] : []),
    ];
  });
  let asGiven: number;
  let lossGiven: number;
  const scored: { name: 'raw' | 'z' | 'unit' | 'x255' | 'd255'; score: number; loss: number; widerLoss?: number }[] = [];
  try {
    ({ accuracy: asGiven, loss: lossGiven } = evaluate(model, data.val, task));
    for (const o of others) {
      // A heuristic: a model that cannot even run on the rescaled inputs (an index input of another kind) is no sign.
      try {
        const e = evaluate(model, { ...data.val, x: o.x }, task);
        // The same inputs half as large again: a model not yet confident fits any larger inputs better (they sharpen its
        // outputs), so a rescaling's lower loss is evidence only where larger still fits worse (its own scale).
        const wider = o.name === 'z' || o.name === 'unit' ? tf.tidy(() => evaluate(model, { ...data.val, x: tf.mul(o.x, 1.5) }, task).loss) : undefined;
        scored.push({ name: o.name, score: e.accuracy, loss: e.loss, ...(wider != null ? { widerLoss: wider } : {}) });
      } catch { continue; }
    }
  } finally {
    tf.dispose(others.map((o) => o.x));
  }
  scored.sort((a, b) => b.score - a.score);
  const [best, second] = scored;
  // Another order of the class names, at the scale given, explains the predictions as well as any rescaling: the label
  // check after this names that order (a new user's 'aversicolor', sorted before 'setosa', was blamed on the scaling).
  if (task.kind === 'classification' && best && best.score > asGiven) {
    const classes = task.units === 1 ? 2 : task.units;
    const predicted = tf.tidy(() => {
      const p = model.predict(data.val.x) as TF.Tensor;
      return (task.units === 1 ? tf.greater(tf.reshape(p, [-1]), task.output === 'binary-logit' ? 0 : 0.5) : tf.argMax(p, -1)).dataSync();
    });
    if (bestLabelOrder(data.val.labels, predicted, classes, undefined, data.val.weights).best / rows >= best.score - 1e-9) return;
  }
  const fmt = (v: number) => metricValue(task.kind, v);
  const what = `${dataLabel(opts, data)}: the model's ${metricName(task.kind)} on the validation split (${rows} rows) is ${fmt(asGiven)}`;
  const inputsWord = csv && !builtIn ? 'columns\'' : 'inputs\'';
  // The --input-scale that gives the file's values as in training, from the scale already given (none: 1).
  const scaleFlag = (times: number) => {
    const k = (opts.inputScale ?? 1) * times;
    if (Math.abs(k - 1) < 1e-9) return 'without --input-scale';
    const inv = 1 / k;
    return `--input-scale ${k < 1 && Math.abs(inv - Math.round(inv)) < 1e-6 * inv ? `1/${Math.round(inv)}` : +k.toPrecision(6)}`;
  };
  const scaled = opts.inputScale != null && opts.inputScale !== 1 ? ' after --input-scale' : '';
  const by255 = (c: { name: 'x255' | 'd255'; score: number }, how: string) => new DataError(c.name === 'x255'
    ? `${what} with the ${inputsWord} values as they are${scaled} (all in [0, 1]) and ${fmt(c.score)} with each value × 255${how}: ` +
      'it looks trained on values 255 times larger (pixels as 0–255), and fine-tuning would retrain it to these; ' +
      remedy(`give the CSV's values as in training (× 255): ${scaleFlag(255)}`, 'give the Dataset\'s inputs as in training (× 255; a CSV path takes inputScale: 255)', '× 255')
    : `${what} with the ${inputsWord} values as they are${scaled} (whole numbers in [0, 255]: pixels as bytes) and ${fmt(c.score)} with each value ÷ 255${how}: ` +
      'it looks trained on values 255 times smaller (pixels / 255), and fine-tuning would retrain it to these; ' +
      remedy(`give the CSV's values as in training (÷ 255): ${scaleFlag(1 / 255)}`, 'give the Dataset\'s inputs as in training (÷ 255; a CSV path takes inputScale: 1 / 255)', '÷ 255'));
  // Good in itself: the score of a model trained for these inputs (half the way from chance to every row right; R² or
  // exact match of 0.5), not merely less wrong.
  const chance = task.kind === 'classification' ? 1 / Math.max(2, task.units) : 0;
  const credible = (v: number) => (task.kind === 'classification' ? v >= chance + (1 - chance) / 2 : v >= 0.5);
  // Pixels 255 times off, where the metric cannot tell (a ReLU CNN ranks its classes alike at both scales, a batch norm
  // renormalises): as accurate (within two rows, 5 points) and clearly better calibrated — its validation loss under
  // 0.8 of the loss as given — is the scale the model was trained on. Fine-tuning would otherwise retrain it to the
  // other one without a word (a new user's batch-norm CNN, trained on pixels / 255, fell to 10 % on them that way).
  // A better fit by the loss: a ratio, and a gap that is not the noise of a saturated model (a model right on every row
  // either way has losses near 0 whose ratio means nothing: penguins-species' own z-scored CSV, re-standardized over
  // its training rows, had 0.000217 against 0.000597 and was refused under the CLI defaults until 2026-12-06).
  const betterFit = (loss: number, ratio: number) => loss < ratio * lossGiven && lossGiven - loss >= MIN_LOSS_GAP;
  // A batch-norm model's own record of its inputs' scale outweighs its confidence: an under-confident model (a new user's
  // half-trained batch-norm CNN, trained on [0, 1]) is sharpened by any larger inputs and fits × 255 better, while its
  // first BatchNormalization layer's moving variance matches the inputs as given and is 255² away from them × 255.
  const keptScale = (factor: number): boolean => {
    const mismatch = (k: number) => tf.tidy(() => batchNormMismatch(model, tf.mul(tf.slice(data.val.x, 0, Math.min(rows, BN_SCALE_ROWS)), k)));
    const given = mismatch(1);
    // The values as given match the statistics (within a factor of 4 in standard deviation), and the rescaled ones far less.
    if (given == null || !(given < BN_SCALE_MARGIN)) return false;
    const other = mismatch(factor);
    return other != null && given + BN_SCALE_MARGIN < other;
  };
  for (const c of scored) {
    // (Far above in the metric too: said below, by the metric alone.)
    const tie = !farAbove(c.score - asGiven, rows) && c.score >= asGiven - Math.max(0.05, 2 / rows) + 1e-9;
    if ((c.name === 'x255' || c.name === 'd255') && credible(c.score) && tie && betterFit(c.loss, 0.8) && !keptScale(c.name === 'x255' ? 255 : 1 / 255)) {
      return refuse(by255({ name: c.name, score: c.score }, ` (validation loss ${lossGiven.toPrecision(3)} as they are, ${c.loss.toPrecision(3)} so: a clearly better fit at that scale)`));
    }
  }
  // Far better (10 points, 0.1 of R², 5 rows) and good in itself — the score of a model trained for these inputs (half
  // the way from chance to every row right; R² or exact match of 0.5) — not merely less wrong: a model given other
  // targets or columns altogether scores a little less badly under some scaling, and the checks after this name those.
  // Far above and clearly better calibrated (validation loss under 0.8 of the loss as given) is evidence enough at a
  // quarter of the way from chance (R² 0.25): a new user's GRU trained on z-scores scored 51 % on raw values and 71 %
  // z-scored, under the half-way bar, and the label check then blamed the labels.
  const fair = (v: number) => (task.kind === 'classification' ? v >= chance + (1 - chance) / 4 : v >= 0.25);
  const strong = (c: (typeof scored)[number]) => farAbove(c.score - asGiven, rows) && (credible(c.score) || (fair(c.score) && betterFit(c.loss, 0.8)));
  let pick = best && strong(best) ? best : undefined;
  let how = '';
  if (!pick) {
    // As accurate or a little more (not far), good in itself, and its validation loss under half the loss as given: the
    // scaling the model was trained on (a new user's MLP trained on loadCsv's z-scores scored 79.1 % on raw values and
    // 83.2 % z-scored, cross-entropy 1.83 against 0.55; fine-tuning retrained it to raw values and reported a gain).
    // Its own scale, not merely larger inputs: a model trained on these very inputs but not yet confident (a few epochs)
    // fits z-scores better where they are larger than its inputs — they sharpen its outputs — and fits z-scores × 1.5
    // better still (a new user's 5-epoch MLP: 100 % as given, 99.4 % z-scored, loss 0.266 against 0.068, was refused
    // with no way round); a model trained on z-scores fits them better than anything larger (iris' own model given its
    // z-scores × 1.5: 0.121 against 0.620).
    const calibrated = scored
      .filter((c) => c.name !== 'x255' && c.name !== 'd255' && credible(c.score) && c.score >= asGiven - Math.max(0.05, 2 / rows) + 1e-9 && betterFit(c.loss, 0.5) &&
        (c.widerLoss == null || c.loss < c.widerLoss))
      .sort((a, b) => a.loss - b.loss)[0];
    if (calibrated) {
      pick = calibrated;
      how = ` (validation loss ${lossGiven.toPrecision(3)} as they are, ${calibrated.loss.toPrecision(3)} so: a clearly better fit at that scale)`;
    }
  }
  if (!pick) return;
  const other = fmt(pick.score);
  const zWords = 'standardized (each column\'s z-score over the training rows)';
  const unitWords = 'each column scaled to [0, 1] (by its minimum and maximum over the training rows)';
  const retrainTo = (what: string) => `fine-tuning would retrain it to ${what} (its users would have to feed it those)`;
  if (pick.name === 'raw') {
    return refuse(new DataError(csv
      ? `${what} with the columns standardized (--standardize) and ${other} with their values as they are${how}: it looks trained on the raw values, and fine-tuning would retrain it to standardized ones; drop --standardize`
      : `${what} with its standardized inputs (the Dataset's \`standardization\`; loadCsv z-scores by default) and ${other} with the values they were standardized from${how}: ` +
        'it looks trained on the raw values, and fine-tuning would retrain it to standardized ones; load the CSV with loadCsv({ ..., standardize: false })'));
  }
  if (pick.name === 'x255' || pick.name === 'd255') return refuse(by255({ name: pick.name, score: pick.score }, ''));
  // Both rescalings far above the inputs as they are and within two rows (5 points) of each other: the model was trained
  // on rescaled inputs, and these rows cannot tell which (a model that separates its classes easily scores alike under
  // both). Suggesting z-scores would retrain a min-max model to them, as the first of a tie used to.
  if (pick === best && second && (second.name === 'z' || second.name === 'unit') && farAbove(second.score - asGiven, rows) && credible(second.score) && best.score - second.score < Math.max(0.05, 2 / rows) - 1e-9) {
    const z = scored.find((o) => o.name === 'z')!;
    const unit = scored.find((o) => o.name === 'unit')!;
    return refuse(new DataError(`${what} with the ${inputsWord} values as they are, ${fmt(z.score)} with them ${zWords} and ${fmt(unit.score)} with ${unitWords}: ` +
      `it looks trained on rescaled inputs, these rows cannot tell which of the two, and ${retrainTo('the values as they are')}; ` +
      remedy('scale the CSV\'s columns as in training (--standardize only if that was z-scores over these training rows)',
        'scale the Dataset\'s inputs as in training (loadCsv({ ..., standardize: true }) only if that was z-scores over these training rows)', 'rescaled')));
  }
  return refuse(new DataError(pick.name === 'z'
    ? `${what} with the ${inputsWord} values as they are and ${other} with them ${zWords}${how}: ` +
      `it looks trained on standardized features, and ${retrainTo('raw ones')}; ${remedy('pass --standardize', 'load the CSV with loadCsv({ ..., standardize: true }) (its default), or z-score the inputs over the training rows', 'z-scores')}`
    : `${what} with the ${inputsWord} values as they are and ${other} with ${unitWords}${how}: ` +
      'it looks trained on inputs scaled so (pixels / 255, min-max), and fine-tuning would retrain it to these; ' +
      remedy('scale the CSV\'s columns as in training (--standardize gives z-scores, not this)', 'scale the Dataset\'s inputs as in training (loadCsv\'s standardize gives z-scores, not this)', 'pixels / 255, min-max')));
}
