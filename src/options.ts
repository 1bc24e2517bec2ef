import type * as TF from '@tensorflow/tfjs';
import { checkGranularity, checkObjective, type Granularity } from './agent/granularity.js';
import { isCsvPath } from './data/registry.js';
import type { Objective } from './pruning/prunable-model.js';
import type { AutopruneOptions } from './prune-service.js';
import type { Scorer } from './policy/types.js';
import { UsageError } from './errors.js';
import { refuseUnknownKeys } from './util/unknown-keys.js';
import { tf } from './backend/tf.js';
import { TASK_KINDS } from './models/task.js';
import type { ClassWeightSpec } from './data/class-weight.js';

/**
 * Throws a UsageError naming `what` where the model's weights were freed (`model.dispose()`): tfjs's own error names
 * a variable and is no AutopruneError.
 */
export function checkNotDisposed(model: TF.LayersModel, what: string): void {
  const gone = model.weights.find((w) => (w as unknown as { val?: { isDisposed?: boolean } }).val?.isDisposed === true);
  if (gone) throw new UsageError(`${what}: the model '${model.name}' was disposed (its weight ${gone.originalName} is freed): pass a model that is not, e.g. loaded again`);
}

/** Why a model or callback from another copy of tfjs cannot be used (its variables live in another engine). */
export const FOREIGN_TFJS = 'it was built with another copy of @tensorflow/tfjs than the one autoprune runs on (its tensors live in another engine); ' +
  "build or load it with autoprune's copy (import { tf } from 'autoprune'), or let npm dedupe @tensorflow/tfjs-node to one package";

/**
 * Every option of a run with its default applied, resolved by one function for the CLI, the API and the
 * service. `undefined` always means "the default" (an explicit `budgetEpochs: undefined` is not 0 and not a
 * hole in the defaults). The fine-tuning budget and batch size depend on the data's size and are resolved
 * by the agent (resolveBudget); report.json records what both used.
 */
export interface ResolvedRunOptions {
  target: number;
  maxDrop: number;
  policy: string | Scorer;
  force: boolean;
  seed: number;
  /** Seed of the data split (default: seed). */
  splitSeed: number;
  granularity: Granularity;
  objective: Objective;
  /** undefined: the agent's default (on at unit granularity). */
  distill: false | { weight: number; temperature: number } | undefined;
  /** Class weights (single-label classification; checked against the data's classes by the run), undefined: none. */
  classWeight: ClassWeightSpec | undefined;
  /** Glob patterns of kernels never pruned (empty: none). */
  exclude: readonly string[];
  /** Lower targets recorded on the way, ascending (empty: none). */
  frontier: readonly number[];
  /** undefined: the rule in resolveBudget. */
  budgetEpochs: number | undefined;
  budgetSteps: number | undefined;
  batchSize: number | undefined;
  /** CSV feature standardisation; undefined for data that is not a CSV path. */
  standardize: boolean | undefined;
  /** CSV: the factor every input value is multiplied by (undefined: none). */
  inputScale: number | undefined;
  compact: boolean;
  /** Samples per predict call to serve at (objective 'latency', compact); undefined: the default (32). */
  servingBatch: number | undefined;
  overwrite: boolean;
  resume: boolean;
}

/** The largest seed: the random generators take 32-bit seeds. */
export const MAX_SEED = 2 ** 32 - 1;

export const RUN_DEFAULTS = Object.freeze({ maxDrop: 1, policy: 'default', force: false, seed: 0, objective: 'params' as Objective });

const wholeAtLeast1 = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1;

/** Every option `autoprune()` takes (checked against AutopruneOptions by the compiler): anything else is a typo. */
const OPTION_KEYS: Record<keyof AutopruneOptions, true> = {
  target: true, model: true, data: true, label: true, ignoreColumns: true, task: true, split: true, labelOrder: true, valData: true,
  testData: true, standardize: true, inputScale: true, maxDrop: true, policy: true, force: true, seed: true, splitSeed: true, budgetEpochs: true,
  budgetSteps: true, batchSize: true, granularity: true, objective: true, servingBatch: true, distill: true, classWeight: true, exclude: true, frontier: true, compact: true, logdir: true,
  out: true, overwrite: true, resume: true, signal: true, onEvent: true,
};

/** A Dataset object has what the run reads: three splits of x and labels, numClasses, inputShape (one line naming what is missing). */
function checkDatasetShape(d: Record<string, unknown>): void {
  const missing: string[] = [];
  for (const k of ['train', 'val', 'test'] as const) {
    const s = d[k] as Record<string, unknown> | undefined;
    if (s == null || typeof s !== 'object') missing.push(k);
    else {
      if (!(s.x instanceof tf.Tensor)) missing.push(`${k}.x (a tensor)`);
      if (!(s.labels instanceof Int32Array)) missing.push(`${k}.labels (an Int32Array)`);
    }
  }
  if (!(typeof d.numClasses === 'number' && Number.isInteger(d.numClasses) && d.numClasses >= 0)) missing.push('numClasses (a whole number: the classes, or 0 where the targets are values, each split\'s y)');
  if (!Array.isArray(d.inputShape)) missing.push('inputShape (an array)');
  if (d.classNames != null && !(Array.isArray(d.classNames) && (d.numClasses === 0 || d.classNames.length === d.numClasses))) {
    // Said as what disagrees where both are given (it read as if classNames were missing).
    missing.push(Array.isArray(d.classNames)
      ? `classNames and numClasses to agree (optional classNames: one name per class; here ${d.classNames.length} name${d.classNames.length === 1 ? '' : 's'} for numClasses ${String(d.numClasses)})`
      : `classNames (optional: an array of numClasses names, here ${String(d.numClasses)})`);
  }
  if (missing.length) throw new UsageError(`data: a Dataset needs ${missing.join(', ')}; see the Dataset type (or pass a CSV path)`);
  // A freed tensor fails deep inside tfjs ("Tensor is disposed", no split named): said here, naming it.
  const freed = (['train', 'val', 'test'] as const).flatMap((k) => {
    const s = d[k] as { x: TF.Tensor; y?: unknown };
    return [...(s.x.isDisposed ? [`${k}.x`] : []), ...(s.y instanceof tf.Tensor && s.y.isDisposed ? [`${k}.y`] : [])];
  });
  if (freed.length) throw new UsageError(`data: the Dataset's ${freed.join(', ')} ${freed.length > 1 ? 'tensors were' : 'tensor was'} disposed: pass tensors that are not (dispose them after the run)`);
}

/**
 * A given value as a message quotes it: a number as it is, anything else with its type (`'0.5'` alone would read as a
 * valid number; `string '0.5'` says why it is refused).
 */
export function shownValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'number') return String(v);
  // Tensors by their shape (not `instanceof tf.Tensor`: touching tf chooses the backend, which a wasm start does asynchronously).
  const tensorLike = (t: unknown): t is { dtype: string; shape: number[] } => t != null && typeof t === 'object' && typeof (t as { dataSync?: unknown }).dataSync === 'function' && Array.isArray((t as { shape?: unknown }).shape);
  if (tensorLike(v)) return `a ${v.dtype} tensor of shape [${v.shape.join(', ')}]`;
  if (Array.isArray(v) && v.length > 0 && v.every(tensorLike)) return `an array of ${v.length} tensor${v.length > 1 ? 's' : ''}`;
  if (Array.isArray(v)) return `an array ${JSON.stringify(v).slice(0, 60)}`;
  return `${typeof v} '${typeof v === 'object' ? JSON.stringify(v).slice(0, 60) : String(v)}'`;
}

/** Validates types and ranges (one UsageError naming the option) and applies the defaults. */
export function resolveRunOptions(o: AutopruneOptions): ResolvedRunOptions {
  if (o == null || typeof o !== 'object') throw new UsageError('options must be an object, e.g. { target: 0.8 }');
  // The CLI's names where the API's differ (--targets is `frontier`).
  refuseUnknownKeys(o, Object.keys(OPTION_KEYS), 'autoprune()', { targets: 'frontier' });
  if (o.onEvent != null && typeof o.onEvent !== 'function') throw new UsageError(`onEvent must be a function (event) => void, got '${String(o.onEvent)}'`);
  if (o.signal != null && (typeof o.signal !== 'object' || typeof (o.signal as { aborted?: unknown }).aborted !== 'boolean')) {
    throw new UsageError(`signal must be an AbortSignal (e.g. new AbortController().signal), got '${String(o.signal)}'`);
  }
  if (typeof o.target !== 'number' || !(o.target > 0 && o.target < 1)) {
    // A percentage (90 for 0.9) is the likely slip: said.
    const percent = typeof o.target === 'number' && o.target >= 2 && o.target < 100 ? ` (${o.target} % would be ${+(o.target / 100).toFixed(6)})` : '';
    throw new UsageError(`target must be a number strictly between 0 and 1, got ${shownValue(o.target)}${percent}`);
  }
  if (o.maxDrop != null && !(typeof o.maxDrop === 'number' && o.maxDrop >= 0 && o.maxDrop <= 100)) {
    throw new UsageError(`maxDrop must be a number in [0, 100] percentage points, got ${shownValue(o.maxDrop)}`);
  }
  for (const k of ['budgetEpochs', 'budgetSteps', 'batchSize'] as const) {
    if (o[k] != null && !wholeAtLeast1(o[k])) throw new UsageError(`${k} must be a whole number ≥ 1, got ${shownValue(o[k])}`);
  }
  for (const k of ['seed', 'splitSeed'] as const) {
    const v = o[k];
    // Seeds are 32-bit in the generators: 2^32 would run as 0 while report.json said 4294967296.
    if (v != null && !(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_SEED)) throw new UsageError(`${k} must be a whole number from 0 to ${MAX_SEED}, got ${shownValue(v)}`);
  }
  if (o.data != null && typeof o.data !== 'string' && (typeof o.data !== 'object' || !('train' in o.data))) {
    throw new UsageError(`data must be a dataset name, a CSV path or a Dataset, got ${typeof o.data === 'object' ? 'an object without splits' : `'${String(o.data)}'`}`);
  }
  if (o.data != null && typeof o.data === 'object') checkDatasetShape(o.data as unknown as Record<string, unknown>);
  if (o.model != null && typeof o.model !== 'string' && (typeof o.model !== 'object' || typeof (o.model as { predict?: unknown }).predict !== 'function')) {
    throw new UsageError(`model must be a model.json path or a tfjs LayersModel, got '${String(o.model)}'`);
  }
  if (o.model != null && typeof o.model === 'object' && !(o.model instanceof tf.LayersModel)) throw new UsageError(`model: ${FOREIGN_TFJS}`);
  // (tf only where the model is an object: touching it chooses the backend, which a wasm start must do asynchronously.)
  if (o.model != null && typeof o.model === 'object') checkNotDisposed(o.model, 'model');
  if (o.policy != null && typeof o.policy !== 'string' && typeof (o.policy as Scorer).score !== 'function') {
    throw new UsageError(`policy must be a policy name, a policy file or a Scorer (an object with a score function), got ${typeof o.policy === 'object' ? `an object without score (keys: ${Object.keys(o.policy).slice(0, 6).join(', ') || 'none'})` : shownValue(o.policy)}`);
  }
  for (const k of ['force', 'compact', 'overwrite', 'resume', 'standardize'] as const) {
    if (o[k] != null && typeof o[k] !== 'boolean') throw new UsageError(`${k} must be true or false, got ${shownValue(o[k])}`);
  }
  // An output folder is a path; '' (nothing would be written, silently) and non-strings are refused like logdir.
  if (o.out != null && (typeof o.out !== 'string' || o.out.trim() === '')) throw new UsageError(`out must be a folder path, got '${typeof o.out === 'object' ? JSON.stringify(o.out) : String(o.out)}'`);
  if (o.task != null && !(TASK_KINDS as readonly unknown[]).includes(o.task)) {
    throw new UsageError(`task must be one of ${TASK_KINDS.join(', ')}, got '${String(o.task)}'`);
  }
  // CSV options, typed as the CLI's flags are after parsing: lists are arrays, not comma-separated strings.
  const column = (v: unknown) => typeof v === 'string' && v.trim() !== '';
  const label = o.label as unknown;
  if (label != null && !(typeof label === 'string' && label.trim() !== '') && !(Array.isArray(label) && label.length > 0 && label.every(column))) {
    throw new UsageError(`label must be a column name or 0-based index as a string ('species', '4'), or a list of them for several target columns (['a', 'b']), got ${JSON.stringify(label)}`);
  }
  const ignore = o.ignoreColumns as unknown;
  if (ignore != null && !(Array.isArray(ignore) && ignore.every(column))) {
    throw new UsageError(`ignoreColumns must be a list of column names or 0-based indices as strings, e.g. ['id', 'date'] or ['0'], got ${JSON.stringify(ignore)}`);
  }
  const order = o.labelOrder as unknown;
  if (order != null && !(Array.isArray(order) && order.length > 0 && order.every((v) => typeof v === 'string' && v !== ''))) {
    throw new UsageError(`labelOrder must be a list of the label names in the order of the model's outputs, e.g. ['Adelie', 'Chinstrap', 'Gentoo'], got ${JSON.stringify(order)}`);
  }
  const split = o.split as unknown;
  if (split != null && !(Array.isArray(split) && split.length === 3 && split.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0) && (split as number[]).some((v) => v > 0))) {
    throw new UsageError(`split must be [train, val, test] fractions, e.g. [0.8, 0.1, 0.1], got ${JSON.stringify(split)}`);
  }
  if (o.inputScale != null) {
    if (!(typeof o.inputScale === 'number' && Number.isFinite(o.inputScale) && o.inputScale > 0)) throw new UsageError(`inputScale must be a positive number (e.g. 1 / 255), got ${shownValue(o.inputScale)}`);
    // (In the CLI's words: autoprune() names its options in them.)
    if (!(typeof o.data === 'string' && isCsvPath(o.data))) throw new UsageError('--input-scale applies only to CSV data: the built-in data sets are read as they are (an API Dataset: scale its inputs yourself)');
    if (o.standardize === true) throw new UsageError('--input-scale and --standardize together: z-scores undo any scale; give one of them');
  }
  for (const k of ['valData', 'testData'] as const) {
    if (o[k] != null && !(typeof o[k] === 'string' && o[k].trim() !== '')) throw new UsageError(`${k} must be a CSV path, got ${JSON.stringify(o[k])}`);
  }
  if (o.exclude != null && !(Array.isArray(o.exclude) && o.exclude.every((g) => typeof g === 'string' && g.trim() !== ''))) {
    throw new UsageError(`exclude must be a list of layer-name patterns, e.g. ['dense_1', 'backbone/*'], got '${String(o.exclude)}'`);
  }
  if (o.frontier != null && !(Array.isArray(o.frontier) && o.frontier.every((t) => typeof t === 'number' && t > 0 && t < o.target))) {
    throw new UsageError(`frontier must be a list of targets strictly between 0 and target (${o.target}), got ${shownValue(o.frontier)}`);
  }
  const d = o.distill;
  if (d != null && d !== false && !(typeof d === 'object' && typeof d.weight === 'number' && d.weight >= 0 && d.weight <= 1 && typeof d.temperature === 'number' && d.temperature > 0 && Number.isFinite(d.temperature))) {
    throw new UsageError(`distill must be false or { weight: 0..1, temperature: > 0 }, got '${JSON.stringify(d)}'`);
  }
  const cw = o.classWeight as unknown;
  if (cw != null && cw !== 'balanced' && !(typeof cw === 'object' && !Array.isArray(cw) && Object.keys(cw).length > 0 &&
    Object.values(cw).every((w) => typeof w === 'number' && Number.isFinite(w) && w > 0))) {
    throw new UsageError(`classWeight must be 'balanced' or class weights such as { damaged: 5 } (a class name or 0-based output index to a number > 0), got ${shownValue(cw)}`);
  }
  if (o.servingBatch != null && !wholeAtLeast1(o.servingBatch)) throw new UsageError(`servingBatch must be a whole number ≥ 1, got ${shownValue(o.servingBatch)}`);
  const granularity = checkGranularity(o.granularity ?? (o.objective === 'flops' || o.objective === 'latency' ? 'unit' : 'connection'));
  const objective = checkObjective(o.objective ?? RUN_DEFAULTS.objective, granularity);
  if (o.servingBatch != null && objective !== 'latency' && !o.compact) {
    throw new UsageError('--serving-batch applies to --objective latency (the batch the model is timed at) and to --compact (the batch the compact model is rewritten and timed for); this run has neither');
  }
  const data = o.data ?? 'mnist-10k';
  return {
    target: o.target,
    maxDrop: o.maxDrop ?? RUN_DEFAULTS.maxDrop,
    policy: o.policy ?? RUN_DEFAULTS.policy,
    force: o.force ?? RUN_DEFAULTS.force,
    seed: o.seed ?? RUN_DEFAULTS.seed,
    // The split does not follow --seed: a sweep over seeds must not judge the user's model on rows it was trained on
    // (until 2026-12-06 it did, documented, and a new user's AutoML sweep reported 100 % dense test accuracy).
    splitSeed: o.splitSeed ?? RUN_DEFAULTS.seed,
    granularity,
    objective,
    distill: o.distill == null ? undefined : o.distill === false ? false : { weight: o.distill.weight, temperature: o.distill.temperature },
    classWeight: cw == null ? undefined : cw === 'balanced' ? 'balanced' : { ...(cw as Record<string, number>) },
    exclude: (o.exclude ?? []).map((g) => g.trim()),
    frontier: [...new Set(o.frontier ?? [])].sort((a, b) => a - b),
    budgetEpochs: o.budgetEpochs,
    budgetSteps: o.budgetSteps,
    batchSize: o.batchSize,
    // A scale given: the values are fed scaled, not z-scored (the built-in model trains on them so).
    standardize: o.standardize ?? (typeof data === 'string' && isCsvPath(data) ? o.model == null && o.inputScale == null : undefined),
    inputScale: o.inputScale,
    compact: o.compact ?? false,
    servingBatch: o.servingBatch,
    overwrite: o.overwrite ?? false,
    resume: o.resume ?? false,
  };
}
