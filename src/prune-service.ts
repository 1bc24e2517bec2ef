import 'reflect-metadata';
import type * as TF from '@tensorflow/tfjs';
import { inject, injectable } from 'inversify';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { isLastTry, runAgent, type AgentResult } from './agent/loop.js';
import { writeFileAtomicSync } from './util/atomic-write.js';
import { discoverKernels } from './pruning/layer-kinds.js';
import { cacheDir } from './models/cache.js';
import { Checkpointer, type RunIdentity } from './agent/checkpoint.js';
import type { AgentEvent } from './agent/events.js';
import { selectBackendAsync, slowBackendWarning, tf } from './backend/tf.js';
import { classWeightIdentity, classWeightsForTask, resolveClassWeights, withClassWeights, type ClassWeightSpec } from './data/class-weight.js';
import { checkDataset, hashSplits, looksLikeRegressionTarget, withDatasetDefaults, type Dataset, type DatasetInput, type SplitOrigin } from './data/dataset.js';
import { abortedError, AutopruneError, DataError, InterruptedError, UsageError } from './errors.js';
import { resolveBudget } from './agent/budget.js';
import type { Granularity } from './agent/granularity.js';
import { disposeSnapshot, PrunableModel, type LatencyProfile, type Objective } from './pruning/prunable-model.js';
import { profileRows } from './pruning/latency-profile.js';
import { defaultModelArgs } from './models/default-model.js';
import { buildModel } from './models/families.js';
import { majorityShare, resolution } from './agent/guard.js';
import { resolveRunOptions, type ResolvedRunOptions } from './options.js';
import { checkSchema } from './policy/policy.js';
import type { FeatureSchema } from './features/types.js';
import { checkActivationSize, cloneModel, type QuantizedStorage, compileSettingsDropped, countParams, lossSettingsDropped, modelFiles, quantizedStorage } from './models/io.js';
import { realPathOf } from './util/real-path.js';

import { classRecall, labelRecall, targetFit } from './models/train.js';
import { checkModelShape, checkToldTask, compiledLoss, setTargetWeights, csvTargetsOf, fitDatasetToModel, fixedInputDims, lossName, metricName, metricValue, regressionLossOf, rememberTask, taskOf, type TaskInfo, type TaskKind } from './models/task.js';
import { isCsvPath } from './data/registry.js';
import { TRAIN_DEFAULTS } from './models/train.js';
import { masksToJson } from './pruning/mask-io.js';
import { foldableBatchNorms, SERVING_BATCH_DEFAULT } from './pruning/rewrite.js';
import type { ReportFrontierRow, RunReport } from './report/report.js';
import { renderReportHtml } from './report/html.js';
import { tensorBoardSink, type TensorBoardSink } from './report/tensorboard.js';
import type { DataSource, FeatureExtractor, LoadedModel, ModelSource, OutputFile, OutputWriter, PolicySource } from './services.js';
import type { Scorer } from './policy/types.js';
import { checkedScorer } from './policy/checked.js';
import { domainOf } from './policy/domain.js';
import { TOKENS } from './types.js';
import { VERSION } from './version.js';
import { checkCacheDir, checkLogDir, checkOutDir, checkOverwritable, checkpointDirFor, foreignEntries, lockOutDir } from './output-dir.js';
import { checkHeldOutRows, checkInputScaling, checkLabelOrder, checkLabelOrderLength, checkTargets, checkValidationRows, classRecallLosses, farAbove, inputLayout, type ColumnLoader } from './run-checks.js';

/** Options of one pruning run (the CLI's flags, typed). */
export interface AutopruneOptions {
  /** Target global sparsity in (0, 1): the fraction of the prunable kernel weights to remove (pruning/layer-kinds.ts; report.json's dense.prunableFraction says what share of all parameters they are). */
  target: number;
  /** A model.json path or folder, or a LayersModel (not modified). Default: LeNet-300-100 trained on the data (cached). */
  model?: string | TF.LayersModel;
  /** 'mnist-10k' (default), 'synthetic', a .csv path, or a Dataset. */
  data?: string | DatasetInput;
  /**
   * CSV label column (header name or 0-based index of the file). Models with k outputs read as values
   * (multi-label, regression): k columns, in the order of the outputs. Default: the last column(s).
   */
  label?: string | readonly string[];
  /** CSV: columns that are neither inputs nor targets (IDs, names, dates), header names or 0-based indices. */
  ignoreColumns?: readonly string[];
  /**
   * What the model was trained for, when its file does not say: 'classification', 'multilabel' (k sigmoid
   * outputs; the CSV's last k columns are 0/1 labels), 'regression' (the CSV's last k columns are the
   * targets), 'autoencoder' (the inputs are the targets). Default: from the loss saved in model.json, else
   * from the output layer (models/task.ts).
   */
  task?: TaskKind;
  /** CSV: [train, val, test] fractions of `data` (seeded, stratified; rescaled to add up to 1). Default [0.8, 0.1, 0.1]; parts with their own file are not split off. */
  split?: readonly [number, number, number];
  /**
   * CSV: the label names in the order of the model's outputs (output i is labelOrder[i]). Default: numeric
   * labels as output indices, names in sorted order.
   */
  labelOrder?: readonly string[];
  /** CSV: a separate validation file with the same columns as `data`. */
  valData?: string;
  /** CSV: a separate test file with the same columns as `data`. */
  testData?: string;
  /**
   * CSV: z-score each feature with the training split's mean and standard deviation. Default: true for
   * the built-in default model (trained here on standardised features), false for your `model`, which
   * gets the values as they are in the file, as it was presumably trained.
   */
  standardize?: boolean;
  /**
   * CSV: multiply every input value by this factor before anything reads it (1/255: pixels stored as 0–255 for a model
   * trained on [0, 1]); the pruned model then expects inputs so scaled, and report.json's `config.inputScale` says so.
   * Not with `standardize` (z-scores undo any scale).
   */
  inputScale?: number;
  /**
   * Largest accepted accuracy drop in percentage points, as expected on unseen data. Default 1. The guard
   * compares the pruned model with the lower-scoring of the dense model and a dense copy fine-tuned like one step, on the
   * same validation rows, and allows 1.64 standard errors of that paired
   * estimate on top (docs/agent.md), so a small split's one-row noise does not decide a step.
   */
  maxDrop?: number;
  /** Policy name ('default', a baseline such as 'global-magnitude') or a policy file, or a Scorer. Default 'default'. */
  policy?: string | Scorer;
  /** Reach the target even if the guard cannot be held. Default false. */
  force?: boolean;
  /**
   * Seed of data shuffling and fine-tuning. Default 0. A CSV's split into training, validation and test rows is
   * `splitSeed`'s, whatever this says: a sweep over `seed` keeps judging the model on rows it was not trained on.
   */
  seed?: number;
  /**
   * Seed of the data split (and the order of its rows). Default 0, the split build-meta and the docs train models on;
   * another split judges a model trained on split 0's training rows on rows it trained on. (Until 2026-12-06 it
   * defaulted to `seed`.)
   */
  splitSeed?: number;
  /**
   * Fine-tuning budget of the whole run in passes over the training data (converted to optimizer steps).
   * Default: 60,000 samples seen within 15–60 epochs, at least 900 optimizer steps, so small data sets get
   * enough steps to recover (MNIST-10k keeps 15 epochs).
   */
  budgetEpochs?: number;
  /** Fine-tuning budget in optimizer steps (wins over budgetEpochs). Default: see budgetEpochs. */
  budgetSteps?: number;
  /** Fine-tuning batch size. Default: from the training split's size (16–128, about 32 steps per epoch). */
  batchSize?: number;
  /** What a step removes: 'connection' (default; 'unit' with objective 'flops' or 'latency'), 'unit' (whole units/filters) or 'hierarchical'. */
  granularity?: Granularity;
  /**
   * What `target` counts: 'params' (fraction of prunable weights, default), 'flops' (fraction of their
   * multiply-accumulates, i.e. compute a compacted model saves; needs granularity 'unit') or 'latency' (fraction of
   * the model's serving time per call at `servingBatch`, predicted from a cost table measured on this machine at the
   * start: docs/compaction.md; needs granularity 'unit').
   */
  objective?: Objective;
  /**
   * Samples per `predict` call the pruned model will serve: objective 'latency' times the model at it, and `compact`
   * rewrites and times the compact model for it (from 128 on, one-channel feature maps too). Default 32, tfjs's own.
   */
  servingBatch?: number;
  /**
   * Knowledge distillation in the fine-tunes (single-label classifiers): `{ weight, temperature }` trains on
   * `(1 − weight)·labels + weight·the given model's probabilities at temperature`, `false` on plain labels.
   * Default: `{ weight: 0.5, temperature: 4 }` at granularity 'unit', off otherwise (docs/agent.md).
   */
  distill?: false | { weight: number; temperature: number };
  /**
   * Class weights (single-label classification), as the model was trained with Keras' `classWeight` or oversampled rows:
   * `'balanced'` (each class inversely to its rows, scikit-learn's rule) or `{ className: weight }` (a class name or
   * 0-based output index; classes not named weigh 1). Fine-tuning draws its batches by them, and the guard and every
   * accuracy figure weigh each split's rows by them (with 'balanced': balanced accuracy, report.json task.metric).
   * Default: none (every row alike).
   */
  classWeight?: ClassWeightSpec;
  /**
   * Kernels never to prune, as glob patterns (`*`, `?`) over kernel names as `inspect` lists them (a layer's name,
   * or `container/layer/role` inside nested models and RNNs), e.g. `['conv2d_1', 'backbone/*']`. They stay dense,
   * are listed as excluded in the report, and the target counts the other kernels. Default: none.
   */
  exclude?: readonly string[];
  /**
   * Lower targets to record on the way to `target` (the accuracy–sparsity frontier in one run, e.g.
   * `[0.5, 0.8, 0.9]` with target 0.95): each is reached on a branch of the step that crosses it (docs/agent.md),
   * and its state is written to `out/frontier/<t>/`
   * (model/, masks.json) and listed in report.frontier and `out/frontier.json`. Default: none.
   */
  frontier?: readonly number[];
  /** Also write a physically compacted model (compact/) and sparse files (model.sparse, model.int8.sparse) into `out`. */
  compact?: boolean;
  /**
   * Also write TensorBoard summaries into this folder (sparsity and the task's metric per step, rollbacks,
   * fine-tune loss per epoch, the final figures; src/report/tensorboard.ts lists the tags). Needs the native
   * backend. Default: none.
   */
  logdir?: string;
  /** Output folder. When unset, nothing is written (library use) unless the CLI sets it. */
  out?: string;
  /** Replace an existing output folder. Default false. */
  overwrite?: boolean;
  /** Continue from the checkpoint of an interrupted run with the same `out`. */
  resume?: boolean;
  signal?: AbortSignal;
  /** Called with every event (the CLI's `--json` lines); may be async: a rejection fails the run (eventSink). */
  onEvent?: (e: AgentEvent) => void;
}

export interface AutopruneResult {
  /** The pruned model (pruned weights exactly 0). Dispose it when done. */
  model: TF.LayersModel;
  report: RunReport;
  /** Where outputs were written, if `out` was set. */
  outDir?: string;
}


/** sha256 of the policy files a run scores with (the file, or an 'X@a+Y' combination's), for a checkpoint's identity. */
function policyContents(p: { file?: string; parts?: { file?: string }[] }): { policyContents?: string } {
  const files = [p.file, ...(p.parts ?? []).map((x) => x.file)].filter((f): f is string => f != null && existsSync(f));
  if (files.length === 0) return {};
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(f));
  return { policyContents: h.digest('hex').slice(0, 16) };
}

/** sha256 of a model's weights (names, shapes, values): a checkpoint of another model is refused. */
function hashWeights(model: TF.LayersModel): string {
  const h = createHash('sha256');
  for (const w of model.weights) {
    // Shapes and values only: tfjs suffixes weight names ('kernel_1') when the same model is loaded twice in
    // a process, which must not make an API resume in the same process look like another run.
    h.update(`${w.shape.join('x')};`);
    const v = w.read().dataSync() as Float32Array;
    h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}

/** sha256 of a dataset's splits (features and labels). */
function hashDataset(d: Dataset): string {
  return hashSplits(createHash('sha256'), [d.train, d.val, d.test]).digest('hex').slice(0, 16);
}


/**
 * The options of the first thing a run that stopped short suggests (report.json `final.retry`): set on the same command
 * (`flags`) or call (`options`), they are what the advice's "rerun with" names. Not a promise: the rerun takes its own
 * path (a new user's MLP at 0.97 stopped again and asked for a larger --max-drop); the small-data benchmark takes it on
 * every exit-3 run and reports whether the rerun reaches the target (docs/benchmarks.md).
 */
export interface Retry {
  options: { budgetSteps?: number; maxDrop?: number; force?: true };
  flags: string[];
}

function retryOf(options: Retry['options']): Retry {
  const flags: string[] = [];
  if (options.budgetSteps != null) flags.push('--budget-steps', String(options.budgetSteps));
  if (options.maxDrop != null) flags.push('--max-drop', options.maxDrop.toFixed(1));
  if (options.force) flags.push('--force');
  return { options, flags };
}

/**
 * The smallest --max-drop (points, rounded up to a tenth) under which the guard would have accepted a step that lost
 * `drop` where it allowed `allowed` (fractions) under `maxDrop` (points). The guard allows maxDrop + min(Z·se, cap):
 * the noise's share (allowed − maxDrop) stays for right/wrong rows (cap: two rows) and grows with maxDrop for
 * continuous scores (cap: maxDrop), so maxDrop + its share ≥ drop holds at max(drop − share, drop / 2) either way.
 * The --max-drop equal to the drop itself (the advice until 2026-12-06) let a rerun accept up to twice that on R².
 */
export function maxDropAccepting(drop: number, allowed: number, maxDrop: number): number {
  const share = Math.max(0, allowed - maxDrop / 100);
  return Math.ceil(1000 * Math.max(drop - share, drop / 2) - 1e-6) / 10;
}


/**
 * `--compact`: compacts the written run folder into itself (and, with --targets, every lower target's folder), filling
 * report.compact and the frontier rows' compact figures; the events to emit once report.json holds them. `val`: the
 * run's validation inputs (up to 256 rows compare the compact model with the pruned one).
 */
async function compactOutputs(out: string, report: RunReport, val: TF.Tensor, servingBatch: number | undefined, signal?: AbortSignal): Promise<{ events: AgentEvent[]; seconds: number }> {
  // Ctrl-C or SIGTERM while compacting stops the run as anywhere else (exit 130, resumable): checked between the models.
  const checkAbort = () => { if (signal?.aborted) throw abortedError('interrupted while compacting', signal); };
  const compactStart = Date.now();
  const { compactPruned, COMPACT_TIME_BUDGET_MS } = await import('./compact-service.js');
  // The pruned model is written by now: a compaction that fails says so, and is not "bad input, nothing
  // written" (exit 2) but a failure of this step (exit 1), retried with `autoprune compact <out>`.
  const rows = Math.min(256, val.shape[0] ?? 0);
  const probe = rows > 0 ? tf.slice(val, 0, rows) : undefined;
  /** Compacts the run folder (or a frontier target's folder in it) into itself: the figures for report.json, and the event. */
  const compactIn = async (dir: string, target?: number): Promise<{ summary: NonNullable<RunReport['compact']>; event: AgentEvent }> => {
    checkAbort();
    const c = await compactPruned(dir, { out: dir, int8: true, timeBudgetMs: COMPACT_TIME_BUDGET_MS, ...(servingBatch != null ? { servingBatch } : {}), ...(probe ? { probe: { x: probe, what: `${rows} validation rows` } } : {}) }).catch((err: unknown) => {
      throw new AutopruneError(`the pruned model is written to '${out}' (model/, masks.json, report.json, report.html; exit code ${report.final.exitCode} in report.json), ` +
        `but --compact failed${target != null ? ` for the frontier's target ${target} (${dir})` : ''}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    const path = join(resolve(dir), 'compact');
    // In report.json and frontier.json relative to the run folder, as the rows' own `path` (a shipped folder moves).
    const shipped = `${relative(resolve(out), path).split(sep).join('/')}/`;
    const all = c.compute.allKernels;
    // report.json says what the compact model runs too (the masked model's live-weight count is not that at
    // connection or hierarchical granularity).
    const summary: NonNullable<RunReport['compact']> = {
      path: shipped, paramsBefore: c.compact.paramsBefore, paramsAfter: c.compact.paramsAfter,
      macs: { dense: c.compute.dense, live: c.compute.live, compact: c.compute.compact, reduction: c.compute.dense > 0 ? 1 - c.compute.compact / c.compute.dense : 0,
        ...(all ? { allKernels: { ...all, reduction: all.dense > 0 ? 1 - all.compact / all.dense : 0 } } : {}) }, ...(c.latency ? { latency: c.latency } : {}),
    };
    const event: AgentEvent = {
      type: 'compact', path, paramsBefore: c.compact.paramsBefore, paramsAfter: c.compact.paramsAfter, ...(target != null ? { target } : {}),
      unitsRemoved: c.compact.layers.map((l) => l.unitsBefore - l.unitsAfter), unitsBefore: c.compact.layers.map((l) => l.unitsBefore), layers: c.compact.layers.map((l) => l.name), skipped: c.compact.skipped,
      rewrites: c.rewrites, maxAbsDiff: c.maxAbsDiff, ...(c.int8ClassChanges ? { int8ClassChanges: c.int8ClassChanges } : {}), ...(c.largeBatchRewrites ? { largeBatchRewrites: c.largeBatchRewrites } : {}), probeInputs: c.probeInputs, compactMacs: c.compute.compact, denseMacs: c.compute.dense, ...(all ? { allKernelsMacs: all } : {}), ...(c.latency ? { latency: c.latency } : {}),
    };
    return { summary, event };
  };
  try {
    const main = await compactIn(out);
    report.compact = main.summary;
    // With --targets, every lower target's folder gets its compact model too: the frontier's rows then say what each runs.
    const events = [main.event];
    for (const row of report.frontier ?? []) {
      // The final row is the run folder's own model: report.compact, repeated so that every row of frontier.json has it.
      if (row.path === '') row.compact = main.summary;
      if (!row.path) continue;
      const f = await compactIn(join(out, row.path), row.target);
      row.compact = f.summary;
      events.push(f.event);
    }
    checkAbort();
    return { events, seconds: (Date.now() - compactStart) / 1000 };
  } finally {
    probe?.dispose();
  }
}

/**
 * The largest --max-drop (points) a retry suggests. A run whose guard would need more to accept the target has lost
 * most of what the model does there (a new user's 3-class table: a last try 47 points down, and the retry's
 * --max-drop 47 gave exit 0 at 62 % test accuracy against 94 % at the stop): an AutoML loop taking `retry` as it comes
 * must not get that; the advice still names what the target cost, and --force.
 */
export const RETRY_MAX_DROP = 10;

/**
 * What a user can do about a run that stopped short (exit 3), in terms of its own figures, and the options of its first
 * suggestion (none where nothing the run could be given helps: every layer at its floor, or every smaller step collapsing
 * to the most common class).
 */
export function advise(result: AgentResult, maxDrop: number, trainRows: number, objective: Objective = 'params'): { text: string; retry?: Retry } {
  const b = result.budget;
  switch (result.stopReason) {
    case 'budget': {
      // Twice this budget, and at least the default for this data (a user-set budget may have been small).
      const more = Math.max(2 * b.budgetSteps, resolveBudget(trainRows, { batchSize: b.batchSize }).budgetSteps);
      const moreWords = more === 2 * b.budgetSteps ? 'twice the budget' : 'the default budget for this data, more than twice this one';
      // A last try at the target that the guard rejected: the guard, not only the budget, stood at the target.
      const last = result.steps[result.steps.length - 1];
      const lastTry = last && !last.accepted && last.drop != null && isLastTry(last) ? last.drop : undefined;
      const need = lastTry != null ? maxDropAccepting(lastTry, last.allowedDrop ?? maxDrop / 100, maxDrop) : undefined;
      // In the target's own measure: the compute removed under --objective flops (weight sparsity there is another figure).
      const reached = objective === 'flops' ? `${(100 * result.compute.reduction).toFixed(1)} % of the prunable kernels' compute removed`
        : objective === 'latency' && result.latency ? `${(100 * result.latency.final.reduction).toFixed(1)} % of the predicted time removed` : `${(100 * result.sparsity.global).toFixed(1)} % sparsity`;
      const head = `the fine-tuning budget (${b.budgetSteps} optimizer steps) ran out at ${reached}`;
      if (need != null && need > maxDrop && need <= RETRY_MAX_DROP) {
        // Measured on the small-data suite (docs/agent.md, "Advice"): more budget alone, or the --max-drop alone, often
        // stops short again (the rerun takes another path); both together reached the target on every case tried.
        const retry = retryOf({ budgetSteps: more, maxDrop: need });
        return {
          retry,
          text: `${head}, and its last try at the target lost ${(100 * lastTry!).toFixed(2)} validation points (allowed ${(100 * (last.allowedDrop ?? 0)).toFixed(2)}): rerun with ${retry.flags.join(' ')} ` +
            `(${moreWords}, and the smallest --max-drop under which the guard would have accepted that try; the rerun takes its own path and may still stop short, ` +
            'and its report says what the final model lost), ' +
            `or --budget-steps ${more} alone to keep the guard (it may stop short again), or --force to take the target with what is left`,
        };
      }
      const retry = retryOf({ budgetSteps: more });
      if (need != null && need > RETRY_MAX_DROP) {
        return {
          retry,
          text: `${head}, and its last try at the target lost ${(100 * lastTry!).toFixed(2)} validation points (allowed ${(100 * (last.allowedDrop ?? 0)).toFixed(2)}), ` +
            `more than a retry loosens the guard by (${RETRY_MAX_DROP} points): rerun with ${retry.flags.join(' ')} (it may stop short again), a lower --target, or --force to take the target and report the drop`,
        };
      }
      return { retry, text: `${head}: rerun with ${retry.flags.join(' ')}, or --force to take the target with what is left` };
    }
    case 'stalled':
      return { text: 'every prunable layer is at its floor: no more weights can be removed at this granularity' };
    default: {
      const rejected = result.steps.filter((s) => !s.accepted && s.drop != null && s.collapsedTo == null);
      // The rejected step the smallest --max-drop would have accepted.
      const needs = rejected.map((s) => ({ drop: s.drop!, need: maxDropAccepting(s.drop!, s.allowedDrop ?? maxDrop / 100, maxDrop) }));
      const easiest = needs.length ? needs.reduce((a, b) => (b.need < a.need ? b : a)) : undefined;
      const worst = easiest?.drop;
      const need = easiest?.need;
      // Every smaller step was refused for answering only the most common class: a larger --max-drop changes nothing.
      if (!rejected.length && result.steps.some((s) => s.collapsedTo != null)) {
        return {
          text: `every smaller step left a model no better than always answering the most common class${result.classWeight ? ` (by ${result.metric})` : ''} (the others are too rare for the pruned model to keep): ` +
            'more rows of the rare classes, or a lower --target; --force takes the target and reports what it costs them',
        };
      }
      // --max-drop takes at most 100 points: a step that lost more (an R² that fell by several) has no --max-drop to offer.
      if (need != null && need > 100) {
        return {
          text: `the rejected step nearest to the guard lost ${(100 * worst!).toFixed(2)} validation points, more than any --max-drop (at most 100) accepts: --force takes the target and reports the drop, or a lower --target`,
        };
      }
      // A last try at the target (taken with half the budget the too-small steps left): what the target itself cost is
      // what a rerun's --max-drop must allow; the nearest rejected step says only what the next small step cost.
      const last = result.steps[result.steps.length - 1];
      if (last && !last.accepted && last.drop != null && last.collapsedTo == null && isLastTry(last)) {
        const atTarget = maxDropAccepting(last.drop, last.allowedDrop ?? maxDrop / 100, maxDrop);
        if (atTarget > maxDrop && atTarget <= RETRY_MAX_DROP) {
          const retry = retryOf({ maxDrop: atTarget });
          return { retry, text: `the steps became too small to try, and a last try at the target (${last.fineTuneSteps} fine-tune steps) lost ${(100 * last.drop).toFixed(2)} validation points (allowed ${(100 * (last.allowedDrop ?? 0)).toFixed(2)}): rerun with ${retry.flags.join(' ')}, the smallest --max-drop under which the guard would have accepted that try (the rerun takes its own path and may still stop short, and its report says what the final model lost), or --force to take the target and report the drop` };
        }
        // The target itself cost more than a retry loosens the guard by: no retry (the nearest small step's cheaper
        // --max-drop led a new user's regression from 82.6 % to a stop at 89.7 % asking for 0.1 more, its last try 12 points down).
        if (atTarget > RETRY_MAX_DROP) {
          return {
            text: `the steps became too small to try, and a last try at the target (${last.fineTuneSteps} fine-tune steps) lost ${(100 * last.drop).toFixed(2)} validation points (allowed ${(100 * (last.allowedDrop ?? 0)).toFixed(2)}), ` +
              `more than a retry loosens the guard by (${RETRY_MAX_DROP} points): a lower --target, or --force to take the target and report the drop`,
          };
        }
      }
      if (need != null && need > RETRY_MAX_DROP) {
        return {
          text: `the rejected step nearest to the guard lost ${(100 * worst!).toFixed(2)} validation points, more than a retry loosens the guard by (${RETRY_MAX_DROP} points): ` +
            `a lower --target, or --force to take the target and report the drop (or a --max-drop of ${need.toFixed(1)}, the smallest under which the guard accepts that step, if that loss is acceptable)`,
        };
      }
      if (need != null && need > maxDrop) {
        const retry = retryOf({ maxDrop: need });
        return { retry, text: `the rejected step nearest to the guard lost ${(100 * worst!).toFixed(2)} validation points: rerun with ${retry.flags.join(' ')}, the smallest --max-drop under which the guard accepts that step (it allows --max-drop plus what the validation rows' noise excuses; the rerun takes its own path and may still stop short), or --force to take the target and report the drop` };
      }
      return { text: 'rerun with a larger --max-drop, or --force to take the target and report the drop' };
    }
  }
}


/** The files a run reads that an output folder must never hold: the model's folder and data files. */
function inputsOf(opts: AutopruneOptions): { what: string; path: string; folder?: boolean }[] {
  const inputs: { what: string; path: string; folder?: boolean }[] = [];
  // (A model path that does not exist is no input to keep --out from: the load says it is missing. Its parent was taken
  // for the model's folder, and a mistyped --model was answered with a complaint about --out.)
  if (typeof opts.model === 'string' && existsSync(resolve(opts.model))) {
    const m = resolve(opts.model);
    const given = existsSync(m) && statSync(m).isDirectory();
    // The model's folder (given, or the model.json's) is never written to, unless it is the working folder or above it:
    // `--model model.json --out pruned` (or `--model .`) in a project folder; either form alike.
    const cwd = realPathOf(process.cwd());
    const dir = realPathOf(given ? m : dirname(m));
    const folder = !(cwd === dir || cwd.startsWith(dir + sep));
    inputs.push({ what: 'input model', path: given ? m : dirname(m), folder });
  }
  if (typeof opts.data === 'string' && existsSync(opts.data)) inputs.push({ what: 'data file', path: opts.data });
  if (opts.valData) inputs.push({ what: 'validation file', path: opts.valData });
  if (opts.testData) inputs.push({ what: 'test file', path: opts.testData });
  if (typeof opts.policy === 'string' && /[\\/]|\.json$/.test(opts.policy) && existsSync(opts.policy)) inputs.push({ what: 'policy file', path: opts.policy });
  inputs.push({ what: 'cache folder (AUTOPRUNE_CACHE_DIR)', path: cacheDir(), folder: true });
  return inputs;
}

/** An already aborted signal stops the run before anything is loaded; the rejection carries its reason. */
function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError('interrupted before the run started', signal);
}

/**
 * The user's event handler as the run calls it. A handler may be async (`onEvent: async (e) => …`, e.g. a
 * logger writing to a database): its promise is not awaited between steps, but a rejection is caught — never
 * an unhandled rejection that ends the process — and fails the run at its next event, or at its end once the
 * pending handlers have settled, as a synchronous throw fails it at once.
 */
export function eventSink(handler: (e: AgentEvent) => unknown): { emit: (e: AgentEvent) => void; settle: () => Promise<void> } {
  let failed: { error: unknown } | undefined;
  const pending = new Set<PromiseLike<unknown>>();
  return {
    emit(e) {
      if (failed) throw failed.error;
      // The handler gets its own copy: events share arrays and objects with the report (final.classes, compute, the
      // policy's domain), and a handler that sorts or rescales one for display must not change the report returned or
      // written (a new user's sort of the done event's classes reordered report.final.classes).
      const r = handler(structuredClone(e));
      if (r != null && typeof (r as PromiseLike<unknown>).then === 'function') {
        const p = Promise.resolve(r as PromiseLike<unknown>).then(
          () => { pending.delete(p); },
          (error: unknown) => { pending.delete(p); failed ??= { error }; },
        );
        pending.add(p);
      }
    },
    async settle() {
      await Promise.all([...pending]);
      if (failed) throw failed.error;
    },
  };
}

@injectable()
export class PruneService {
  constructor(
    @inject(TOKENS.DataSource) private readonly dataSource: DataSource,
    @inject(TOKENS.ModelSource) private readonly modelSource: ModelSource,
    @inject(TOKENS.PolicySource) private readonly policySource: PolicySource,
    @inject(TOKENS.FeatureExtractor) private readonly extractor: FeatureExtractor,
    @inject(TOKENS.OutputWriter) private readonly writer: OutputWriter,
  ) {}

  async run(opts: AutopruneOptions): Promise<AutopruneResult> {
    const t0 = Date.now();
    const r = resolveRunOptions(opts);
    if (r.compact && !opts.out) throw new UsageError('compact writes the compact model and sparse files into the output folder: give --out too');
    throwIfAborted(opts.signal);
    if (opts.out) checkOutDir(opts.out, r.overwrite, r.resume, inputsOf(opts));
    if (r.resume && !opts.out) throw new UsageError('--resume needs the --out folder of the interrupted run');
    if (r.overwrite && !opts.out) throw new UsageError('--overwrite replaces an earlier run\'s --out folder: give --out too (without it nothing is written)');
    const modelFolder = inputsOf(opts).find((i) => i.what === 'input model' && i.folder)?.path;
    if (opts.logdir != null) checkLogDir(opts.logdir, modelFolder, opts.out);
    if (opts.out) checkOverwritable(opts.out, r.overwrite, r.resume);
    if (opts.out || opts.model == null) checkCacheDir(modelFolder);
    const sink = opts.onEvent ? eventSink(opts.onEvent) : undefined;
    if (sink) opts = { ...opts, onEvent: sink.emit };
    // Async: the backend may be wasm (AUTOPRUNE_BACKEND=wasm), which starts asynchronously; once chosen it stays.
    await selectBackendAsync();
    const releaseLock = opts.out ? lockOutDir(opts.out) : undefined;
    // Made inside the try: its writer (a file, tensors) is closed however the run ends, a refused lock included.
    let tb: TensorBoardSink | undefined;
    try {
      if (opts.logdir != null) {
        const board = tensorBoardSink(opts.logdir);
        tb = board;
        const user = opts.onEvent;
        opts = { ...opts, onEvent: (e) => { board.onEvent(e); user?.(e); } };
      }
      const result = await this.runLocked(opts, r, t0);
      // A handler's late rejection fails the run: the pruned model, which the caller then never gets, is freed.
      await sink?.settle().catch((err: unknown) => {
        result.model.dispose();
        throw err;
      });
      return result;
    } finally {
      tb?.close();
      releaseLock?.();
    }
  }

  private async runLocked(opts: AutopruneOptions, r: ResolvedRunOptions, t0: number): Promise<AutopruneResult> {
    const phases: Record<string, number> = {};
    // Every warning of the run also goes into report.json (and report.html): a reader of the files sees what the console said.
    const warnings: string[] = [];
    const forward = opts.onEvent;
    opts = { ...opts, onEvent: (e) => { if (e.type === 'warning') warnings.push(e.message); forward?.(e); } };
    const { seed, maxDrop, granularity, objective, standardize } = r;
    const policySpec = r.policy;
    const backend = await selectBackendAsync();
    // Every run on a slow backend says so (the API's handlers and report.json had nothing but start.native).
    const slow = slowBackendWarning(backend);
    if (slow) opts.onEvent?.({ type: 'warning', message: slow });

    // Resolve everything that can fail on bad input before any training starts.
    const policy = typeof policySpec === 'string'
      ? { ...this.policySource.resolve(policySpec), name: policySpec }
      : { scorer: checkedScorer(policySpec), kind: 'custom', name: policySpec.name, file: undefined, parts: undefined, weight: undefined };
    // A policy trained on other feature columns is refused here, before any training, not at its first scoring.
    const trainedOn = (policy.scorer as { schema?: FeatureSchema }).schema;
    if (trainedOn && this.extractor.schema) checkSchema(policy.name, trainedOn, this.extractor.schema);
    const dataSpec = opts.data ?? 'mnist-10k';
    const tLoad = Date.now();
    const ownsData = typeof dataSpec === 'string';
    let droppedSettings: string[] = [];
    let inputStored: QuantizedStorage | undefined;
    // The agent's masks and frontier states, freed once: on the way out, whatever fails after the agent (writing the
    // outputs, compacting, a stop while compacting: 12 tensors were left per stop).
    let held: AgentResult | undefined;
    const release = () => {
      if (!held) return;
      for (const m of held.milestones) disposeSnapshot(m.snapshot);
      held.masks.dispose();
      held = undefined;
    };
    let loaded: LoadedModel | undefined;
    let data: Dataset | undefined;
    let fitted: Dataset | undefined;
    /** The data fitted to the model (fitted is it, with class weights on its rows where given: the same tensors). */
    let fittedBase: Dataset | undefined;
    try {
      const onEpoch = (e: { epoch: number; loss: number; epochs?: number; steps?: number }) => opts.onEvent?.({ type: 'epoch', phase: 'dense', epochs: e.epochs ?? TRAIN_DEFAULTS.epochs, step: 0, epoch: e.epoch, loss: e.loss, ...(e.steps != null ? { steps: e.steps } : {}) });
      // A user's model first: its task says how the data's targets are read (one class label, k values, or the inputs).
      if (opts.model != null) {
        loaded = typeof opts.model === 'object'
          ? { model: await cloneModel(opts.model), label: opts.model.name }
          : await this.modelSource.load(opts.model, undefined, { seed, onEpoch, signal: opts.signal });
        checkModelShape(loaded.model, typeof opts.model === 'object' ? undefined : `model '${loaded.label}'`);
        checkActivationSize(typeof opts.model === 'object' ? `model '${loaded.model.name}'` : `model '${loaded.label}'`, loaded.model);
        rememberTask(loaded.model, opts.task);
        if (opts.task != null) checkToldTask(loaded.model, opts.task);
        droppedSettings = lossSettingsDropped(loaded.model); // before any copy (a fixed input length) forgets the file
        const lostCompile = compileSettingsDropped(loaded.model);
        if (lostCompile) {
          opts.onEvent?.({
            type: 'warning',
            message: lostCompile.loss
              ? `model '${loaded.label}' was saved compiled with ${lostCompile.settings} and the loss ${lostCompile.loss}, which tfjs cannot compile: the pruned model.json keeps the loss for autoprune (its userDefinedMetadata) but has no training config, so these settings are not in it (compile it again to train it on with yours)`
              : `model '${loaded.label}' was saved compiled with ${lostCompile.settings}, which tfjs has not: the pruned model.json names its loss with tfjs' Adam at its defaults (compile it again to train it on with yours)`,
          });
        }
        const quantized = quantizedStorage(loaded.model);
        inputStored = quantized;
        if (quantized) {
          opts.onEvent?.({
            type: 'warning',
            message: `model '${loaded.label}' stores its weights quantized (${quantized.dtypes.join(', ')}); autoprune fine-tunes in float32 and writes float32 weights ` +
              '(up to 4× its file): quantize the output again with tensorflowjs_converter (--quantize_uint8 / --quantize_float16), or use the sparse+int8 files of autoprune compact',
          });
        }
      }
      // The built-in default model (loaded after the data, which it is trained on) is a classifier: another task is
      // refused, not trained as one (a new user's --task regression got a 117-class softmax over the MPG values).
      if (!loaded && opts.task != null && opts.task !== 'classification') {
        throw new UsageError(`--task ${opts.task} needs your model (--model): the built-in model autoprune trains when none is given is a classifier`);
      }
      const targets = loaded ? csvTargetsOf(taskOf(loaded.model)) : undefined;
      data = typeof dataSpec === 'string' ? this.dataSource.load(dataSpec, {
        seed: r.splitSeed, label: opts.label, ignoreColumns: opts.ignoreColumns, labelOrder: opts.labelOrder, split: opts.split, valPath: opts.valData, testPath: opts.testData, standardize, inputScale: r.inputScale,
        ...(targets != null && isCsvPath(dataSpec) ? { targets } : {}),
      }) : withDatasetDefaults(dataSpec);
      // A label of many distinct numbers is a regression target, not classes for it.
      if (!loaded && looksLikeRegressionTarget(data.classNames)) {
        const column = data.targetNames?.length === 1 ? ` '${data.targetNames[0]}'` : '';
        throw new DataError(`data '${data.source}': the label column${column} holds ${data.numClasses} distinct numbers (${data.classNames.slice(0, 3).join(', ')}, …): ` +
          'that looks like a regression target, and the built-in model autoprune trains when no --model is given is a classifier; give your regression model ' +
          'with --model (and --task regression unless its file names its loss), or name a class column with --label');
      }
      // The built-in model trains on the data first: a split no guard can judge is refused before that training.
      if (!loaded) checkValidationRows(data, opts, r.force);
      // … and so are --exclude patterns its layers do not have (checked on the untrained architecture).
      if (!loaded && r.exclude.length > 0) {
        const shape = buildModel(defaultModelArgs(data, seed));
        try { new PrunableModel(shape, { exclude: r.exclude }).dispose(); } finally { shape.dispose(); }
      }
      if (!loaded) {
        // The built-in model's first training (a cache miss) is a phase of its own, not "loading" (a new user's report
        // gave 8.3 s to loading, 7.7 s of it the training).
        const t = Date.now();
        let trained = false;
        const classWeight = r.classWeight != null ? resolveClassWeights(r.classWeight, data.classNames, '--class-weight') : undefined;
        loaded = await this.modelSource.load(undefined, data, { seed, onEpoch: (e) => { trained = true; onEpoch(e); }, signal: opts.signal, ...(classWeight ? { classWeight } : {}) });
        if (trained) phases.denseTraining = (Date.now() - t) / 1000;
      }
      const task = taskOf(loaded.model);
      if (!ownsData) {
        // An in-memory Dataset brings its own splits, labels and scaling: CSV options would be silently ignored.
        const csvOnly = ([['label', opts.label], ['ignoreColumns', opts.ignoreColumns], ['labelOrder', opts.labelOrder], ['split', opts.split], ['valData', opts.valData], ['testData', opts.testData], ['standardize', opts.standardize], ['inputScale', opts.inputScale]] as const)
          .filter(([, v]) => v != null).map(([k]) => k);
        if (csvOnly.length) throw new UsageError(`${csvOnly.join(', ')} ${csvOnly.length > 1 ? 'apply' : 'applies'} only to CSV data; an in-memory Dataset brings its own splits and labels`);
        checkDataset(data, task.kind === 'classification');
        // Value targets (numClasses 0, each split's y) given to a model read as a classifier: fine-tuning it to class 0
        // of nothing would wreck it (a linear output reads as a binary classifier's logit unless the model says otherwise).
        if (task.kind === 'classification' && data.numClasses === 0 && data.train.y) {
          throw new UsageError(`dataset '${data.name}' has value targets (numClasses 0, each split's y) but the model reads as a classifier (${task.evidence}): ` +
            "pass task: 'regression' (or 'multilabel' for 0/1 label columns), or give class labels (numClasses, labels)");
        }
      }
      checkLabelOrderLength(task, opts);
      const dims = fixedInputDims(loaded.model, data);
      if (dims) {
        // A model saved with an unknown length (an Embedding without inputLength, an RNN over [null, k]): the rows fix it.
        const before = (loaded.model.inputs[0].shape.slice(1) as (number | null)[]).map((d) => d ?? 'null').join(', ');
        const copy = await cloneModel(loaded.model, { inputDims: dims });
        loaded.model.dispose();
        loaded = { ...loaded, model: copy };
        opts.onEvent?.({ type: 'warning', message: `the model's input shape [${before}] has an unknown length: the data's rows fix it to [${dims.join(', ')}] (the weights do not depend on it), ` +
          `and the pruned model is written with input shape [${dims.join(', ')}] (to feed it other lengths, set the null back in its model.json's batch_input_shape)` });
      }
      fittedBase = fitDatasetToModel(data, loaded.model, task);
      // Class weights: refused for other tasks and checked against the classes before anything runs; the checks below
      // then judge the model on the weighted figure it was trained for (a model trained balanced sits below the majority's
      // share by design: plain accuracy read it as trained at another input scale, or its labels in no order).
      fitted = r.classWeight != null ? withClassWeights(fittedBase, classWeightsForTask(r.classWeight, task.kind, fittedBase.classNames, '--class-weight')) : fittedBase;
      const layout = inputLayout(data, fitted);
      if (layout) opts.onEvent?.({ type: 'warning', message: layout });
      checkValidationRows(fitted, opts, r.force);
      checkHeldOutRows(fitted, opts, loaded.model, task);
      checkInputScaling(loaded.model, fitted, task, opts, ownsData ? standardize === true : data.standardization != null);
      checkLabelOrder(loaded.model, fitted, opts);
      // A policy with a recorded domain needs no warning: the run's start line names the layers outside it, and LAMP allocates.
      const kindsWarning = domainOf(policy.scorer) ? undefined : policyKindsWarning(policy.name, (policy.scorer as { provenance?: { layerKinds?: unknown } }).provenance?.layerKinds, loaded.model);
      if (kindsWarning) opts.onEvent?.({ type: 'warning', message: kindsWarning });
      // Compute removed is not time removed where the time goes elsewhere: a recurrent layer runs its time steps one after
      // another, each a few small calls (docs/coverage.md: the LSTM with 81 % of its MACs removed ran 4 % faster, the GRU 3 %).
      const recurrent = granularity !== 'connection' && objective === 'flops' ? recurrentLayerNames(loaded.model) : []; // (latency measures them)
      if (recurrent.length) {
        opts.onEvent?.({ type: 'warning', message: `--objective flops counts multiply-accumulates, and ${recurrent.map((n) => `'${n}'`).join(', ')} ${recurrent.length > 1 ? 'are recurrent layers' : 'is a recurrent layer'}, ` +
          'whose time goes mostly to running its time steps one after another, not to their MACs: measured on the coverage suite, an LSTM with 81 % of its MACs removed ran 4 % faster, a GRU 3 % (docs/coverage.md); time the compact model before counting on a speed-up' });
      }
      const reload: ColumnLoader = (label, ignore) => this.dataSource.load(dataSpec as string, {
        seed: r.splitSeed, label, ignoreColumns: ignore, split: opts.split, valPath: opts.valData, testPath: opts.testData, standardize, inputScale: r.inputScale, targets: label.length,
      });
      checkTargets(loaded.model, fitted, task, opts, reload);
      // A numeric task named with --task for a model.json without a loss: the loss fine-tuning uses is autoprune's choice.
      // An autoencoder read from its shape (as many outputs as inputs) too: its loss is autoprune's choice as well.
      if ((opts.task === 'regression' || task.kind === 'autoencoder') && compiledLoss(loaded.model) == null && task.regressionLoss) {
        opts.onEvent?.({ type: 'warning', message: `the model.json names no loss: fine-tuning uses mean squared error for its ${task.kind} outputs, and the pruned model.json names it ` +
          '(a model trained with another loss, MAE or Huber, is fine-tuned best saved with it: model.save(url, { includeOptimizer: true }))' });
      }
      // The CSV of an autoencoder holds its inputs only: fine-tuning and the guard reconstruct them as given, which is not the
      // task of a model trained on other targets (a denoising one: noisy in, clean out; a new user's was retrained to x → x).
      if (task.kind === 'autoencoder') {
        opts.onEvent?.({ type: 'warning', message: 'an autoencoder is fine-tuned and judged on reconstructing its inputs as given (x → x): a model trained on other targets ' +
          '(denoising: noisy inputs, clean targets) would be retrained to that; give such a model a CSV of its inputs and then its targets, with --task regression (the last columns, as many as its outputs, are the targets)' });
      }
      if (droppedSettings.length) {
        const them = droppedSettings.length > 1 ? 'them' : 'it';
        const logits = droppedSettings.includes('from_logits: true') && (task.output === 'binary-logit' || task.output === 'logits');
        const others = droppedSettings.some((d) => d !== 'from_logits: true') || !logits;
        const fineTune = [logits ? 'reads the linear outputs as logits, as the loss did' : '', others ? `uses the loss's defaults${task.regressionLoss === 'huber' ? ' (Huber with δ = 1)' : ''}` : ''];
        opts.onEvent?.({ type: 'warning', message: `the model's saved loss has ${droppedSettings.join(', ')}, which the pruned model.json does not keep (it names the loss without ${them}: ` +
          `set ${them} again before training it further in Keras); fine-tuning here ${fineTune.filter(Boolean).join(' and ')}` });
      }
      // Several regression targets count alike in the fine-tune, as in the guard's average R², whatever their units.
      if (task.kind === 'regression' && fitted.train.y) setTargetWeights(loaded.model, fitted.train.y);
      // A numeric model saved with a loss autoprune does not train with is fine-tuned with MSE: said, not hidden.
      const replaced = task.output === 'regression' ? regressionLossOf(compiledLoss(loaded.model), task.regressionLoss === 'bce').replaced : undefined;
      if (replaced) {
        opts.onEvent?.({ type: 'warning', message: `the model was trained with the loss '${replaced}', which autoprune does not fine-tune with for its ${task.kind} outputs: it fine-tunes with mean squared error (it keeps mean absolute error, Huber, and binary cross-entropy on sigmoid outputs)` });
      }
      phases.load = (Date.now() - tLoad) / 1000 - (phases.denseTraining ?? 0);
      const model = loaded.model;
      const params = countParams(model);
      const ckptDir = opts.out ? checkpointDirFor(opts.out) : undefined;
      if (r.resume && ckptDir && !new Checkpointer(ckptDir).exists()) {
        throw new UsageError(`nothing to resume: no checkpoint for output folder '${opts.out}' (expected '${ckptDir}')`);
      }
      if (!r.resume && ckptDir && new Checkpointer(ckptDir).exists()) {
        // An interrupted run of this --out (a kill -9 prints no hint): starting over replaces its checkpoint.
        opts.onEvent?.({ type: 'warning', message: `an interrupted run of output folder '${opts.out}' left a checkpoint; this run starts over and replaces it (--resume would have continued it)` });
      }
      const budgetIn = { budgetEpochs: r.budgetEpochs, budgetSteps: r.budgetSteps, batchSize: r.batchSize };
      // What a checkpoint belongs to (hashing weights and data is only needed when there is a checkpoint).
      const budget = resolveBudget(fitted.train.labels.length, budgetIn);
      const identity: RunIdentity | undefined = ckptDir ? {
        target: r.target, maxDrop, objective, granularity, exclude: r.exclude.join(','), frontier: r.frontier.join(','), policy: policy.name,
        // The policy by its contents too: a policy file retrained in place while the run was interrupted is another policy.
        ...policyContents(policy), seed, splitSeed: r.splitSeed, budgetSteps: budget.budgetSteps,
        batchSize: budget.batchSize, force: r.force, model: hashWeights(model), data: hashDataset(fitted), ...(r.distill !== undefined ? { distill: JSON.stringify(r.distill) } : {}),
        // (As resolved, each class's weight by name: damaged=5 and 1=5 are the same weights.)
        ...(r.classWeight != null ? { classWeight: classWeightIdentity(r.classWeight, fitted.classNames) } : {}),
        ...(objective === 'latency' ? { servingBatch: r.servingBatch ?? SERVING_BATCH_DEFAULT } : {}),
      } : undefined;
      const denseFit = targetFit(model, fitted.test, task);
      const columns = fitted.targetNames;
      const errorNames = task.kind === 'autoencoder' ? ['reconstruction']
        : denseFit.errors.map((_, t) => columns?.[t] ?? (denseFit.errors.length > 1 ? `target ${t + 1}` : 'target'));
      // Several regression targets: each one's test R² before and after (the metric is their average), named as the
      // errors are (an in-memory Dataset may name none: 'target 1', 'target 2', …).
      const targetNames = task.kind === 'regression' && denseFit.r2.length > 1 ? errorNames : [];
      const classCount = task.kind === 'classification' ? fitted.classNames.length : 0;
      const denseRecall = classCount ? classRecall(model, fitted.test, classCount, task) : undefined;
      const multi = task.kind === 'multilabel';
      const denseLabelRecall = multi ? labelRecall(model, fitted.test, task) : undefined;
      const labelNames = fitted.targetNames ?? [];
      const result: AgentResult = held = await runAgent(model, fitted, policy.scorer, {
        identity, ...budgetIn,
        target: r.target, maxDrop, force: r.force, seed,
        checkpointDir: ckptDir, resume: r.resume, signal: opts.signal, onEvent: opts.onEvent,
        extractor: this.extractor, backend: { name: backend.name, native: backend.native }, granularity, objective, exclude: r.exclude, distill: r.distill,
        ...(r.classWeight != null ? { classWeight: r.classWeight } : {}),
        milestones: r.frontier, ...(r.servingBatch != null ? { servingBatch: r.servingBatch } : {}),
        // A policy given by its path is named by the file's own name field: the file is said beside it.
        ...(policy.file && typeof r.policy === 'string' && r.policy !== policy.scorer.name && /[\\/]|\.json$/i.test(r.policy) ? { policyFile: policy.file } : {}),
      });
      Object.assign(phases, result.phases);
      const prunedFit = targetFit(model, fitted.test, task);
      const prunedRecall = classCount ? classRecall(model, fitted.test, classCount, task) : undefined;
      const prunedLabelRecall = multi ? labelRecall(model, fitted.test, task) : undefined;
      const finite = (v: number) => (Number.isFinite(v) ? v : null);
      /** Each class's test recall, dense and of a model (`recall`), as report.json's `classes`. */
      const names = fitted.classNames;
      const classesOf = (recall: { recall: number[]; precision: number[] }) => names.map((name, c) => ({
        name, testRows: denseRecall!.rows[c], denseRecall: finite(denseRecall!.recall[c]), recall: finite(recall.recall[c]),
        densePrecision: finite(denseRecall!.precision[c]), precision: finite(recall.precision[c]),
      }));
      // A lower target's model is judged per class too (a new user's frontier row at 0.8 answered the majority class on every row without a word).
      const test = fitted.test;
      const frontierClasses = new Map<number, ReturnType<typeof classesOf>>();
      if (denseRecall) await eachMilestone(result, (m) => { frontierClasses.set(m.target, classesOf(classRecall(result.masks.model, test, classCount, task))); });
      const coverage = result.masks.coverage();
      // A row of R² has no fixed worth: "finer than one row" only means something for right/wrong rows.
      const rowScores = metricName(task.kind) !== 'R²';
      const res = { ...resolution(result.guard.valRows, maxDrop), ...(rowScores ? {} : { finerThanData: false }) };
      const advice = result.exitCode === 3 ? advise(result, maxDrop, fitted.train.labels.length, objective) : undefined;
      const report: RunReport = {
        format: 'autoprune-report', schemaVersion: 1, createdAt: new Date().toISOString(), autopruneVersion: VERSION,
        config: {
          target: r.target, maxDrop, policy: policy.name, granularity, objective, seed, splitSeed: r.splitSeed,
          model: loaded.label, data: typeof dataSpec === 'string' ? dataSpec : data.name, force: r.force,
          budgetSteps: result.budget.budgetSteps, budgetEpochs: Math.round((100 * result.budget.budgetSteps) / result.budget.stepsPerEpoch) / 100,
          budgetSource: result.budget.source, ...(result.budget.extensions ? { budgetExtensions: result.budget.extensions } : {}), batchSize: result.budget.batchSize, roundSteps: result.budget.roundSteps, distill: result.distill,
          ...(result.classWeight ? { classWeight: result.classWeight } : {}),
          resumed: r.resume,
          ...(r.exclude.length > 0 ? { exclude: [...r.exclude] } : {}),
          ...(r.frontier.length > 0 ? { frontier: [...r.frontier] } : {}),
          ...(opts.label != null ? { label: typeof opts.label === 'string' ? opts.label : [...opts.label] } : {}),
          ...(opts.ignoreColumns?.length ? { ignoreColumns: [...opts.ignoreColumns] } : {}),
          ...(opts.labelOrder?.length ? { labelOrder: [...opts.labelOrder] } : {}),
          ...(opts.task != null ? { task: opts.task } : {}),
          ...(opts.logdir != null ? { logdir: resolve(opts.logdir) } : {}),
          ...(opts.split ? { split: [...opts.split] } : {}),
          ...(opts.valData ? { valData: opts.valData } : {}),
          ...(opts.testData ? { testData: opts.testData } : {}),
          ...(standardize != null ? { standardize } : {}),
          ...(r.inputScale != null ? { inputScale: r.inputScale } : {}),
          ...(r.servingBatch != null ? { servingBatch: r.servingBatch } : {}),
        },
        task: { kind: task.kind, metric: result.metric, evidence: task.evidence, ...(task.regressionLoss ? { fineTuneLoss: task.regressionLoss } : {}), loss: lossName(taskOf(model)) /* after setTargetWeights: the loss the run used, as the start event says it */, ...(task.kind === 'classification' ? { classNames: [...fitted.classNames] } : {}) },
        samples: { train: fitted.train.labels.length, val: fitted.val.labels.length, test: fitted.test.labels.length },
        ...(data.val.origin && data.test.origin ? { rows: { val: originOf(data.val.origin), test: originOf(data.test.origin) } } : {}),
        ...(data.inputNames ? { columns: { inputs: [...data.inputNames], targets: [...(data.targetNames ?? [])] } } : {}),
        ...(data.standardization ? { standardization: data.standardization } : {}),
        backend: { name: backend.tfBackend, native: backend.native, source: backend.source },
        policy: { name: policy.scorer.name, kind: policy.kind, file: policy.file, ...(policy.parts ? { parts: policy.parts } : {}), ...(policy.weight !== undefined ? { weight: policy.weight } : {}), ...(result.policyDomain ? { outsideDomain: result.policyDomain } : {}) },
        dense: {
          valAccuracy: result.denseValAccuracy, testAccuracy: result.denseTestAccuracy, params, prunable: result.sparsity.total,
          prunableFraction: coverage.prunableFraction, untouched: coverage.untouched,
          ...(coverage.untouched.some((u) => u.className === 'BatchNormalization') ? { foldableBatchNorms: foldableBatchNorms(model) } : {}),
          ...(inputStored ? { stored: inputStored } : {}),
          ...(result.givenSparsity ? { sparsity: result.givenSparsity } : {}),
        },
        final: {
          valAccuracy: result.valAccuracy, testAccuracy: result.testAccuracy, sparsity: result.sparsity.global,
          sparsityOfAllParams: params > 0 ? result.sparsity.pruned / params : 0,
          compute: result.compute,
          ...(result.latency ? { latency: { ...result.latency.final, profile: profileSummary(result.latency.profile, result.masks) } } : {}),
          ...(result.unitsKept ? { unitsKept: result.unitsKept } : {}),
          ...(targetNames.length ? { targets: targetNames.map((name, t) => ({ name, denseTestR2: denseFit.r2[t], testR2: prunedFit.r2[t] })) } : {}),
          ...(denseFit.errors.length ? {
            testErrors: {
              metric: task.kind === 'autoencoder' ? 'mse' as const : 'rmse' as const,
              values: denseFit.errors.map((dense, t) => ({ name: errorNames[t], dense, pruned: prunedFit.errors[t] })),
            },
          } : {}),
          ...(denseRecall && prunedRecall ? { classes: classesOf(prunedRecall) } : {}),
          ...(denseLabelRecall && prunedLabelRecall ? {
            labels: denseLabelRecall.rows.map((n, j) => ({ name: labelNames[j] ?? `label ${j + 1}`, testPositives: n, denseRecall: finite(denseLabelRecall.recall[j]), recall: finite(prunedLabelRecall.recall[j]) })),
          } : {}),
          targetReached: result.targetReached, stopReason: result.stopReason, exitCode: result.exitCode,
          ...(advice ? { advice: advice.text, ...(advice.retry ? { retry: advice.retry } : {}) } : {}),
        },
        guard: {
          rule: `paired on the validation rows against the lower-scoring of the dense model and the dense model fine-tuned like one step (the control): accept when the drop below it ≤ maxDrop + ${result.guard.z} standard errors, the standard errors counting for at most ${(100 * result.guard.final.cap).toFixed(2)} points (two validation rows for right/wrong rows${result.classWeight ? ', rows of mean weight under class weights: one rare row may outweigh them' : ''}, maxDrop for continuous scores)`,
          valRows: result.guard.valRows, ...(rowScores ? { pointsPerRow: res.pointsPerRow } : {}), maxDrop, z: result.guard.z, noiseCap: 100 * result.guard.final.cap,
          finerThanData: res.finerThanData,
          controlValAccuracy: result.guard.controlValAccuracy, ...(result.guard.fineTunedControlValAccuracy != null ? { fineTunedControlValAccuracy: result.guard.fineTunedControlValAccuracy } : {}), reference: result.guard.reference,
          finalDrop: result.guard.final.drop, finalStandardError: result.guard.final.se, finalAllowedDrop: result.guard.final.allowed,
        },
        ...(r.frontier.length > 0 ? { frontier: frontierRows(r.target, r.frontier, result, params, opts.out != null, frontierClasses) } : {}),
        layers: result.sparsity.layers,
        steps: result.steps,
        totals: result.totals,
        ...(result.polish ? { polish: result.polish } : {}),
        phases,
      };
      // What the outcome says beyond the guard (test rows, classes, the majority-class floor): warned after the
      // summary, and written into the report with the run's other warnings.
      const outcome = outcomeWarnings(report, r, fitted, task);
      report.warnings = [...warnings, ...outcome];
      if (opts.out) {
        const tw = Date.now();
        const files: OutputFile[] = [
          ...(await modelFiles(model, 'model/')),
          { relPath: 'masks.json', data: JSON.stringify(masksToJson(result.masks)) },
          ...(await frontierFiles(result, report)),
        ];
        phases.write = (Date.now() - tw) / 1000;
        phases.total = (Date.now() - t0) / 1000 + result.earlierSeconds;
        files.push({ relPath: 'report.json', data: `${JSON.stringify(report, null, 2)}\n` });
        files.push({ relPath: 'report.html', data: await renderReportHtml(report) });
        try {
          await this.writer.write(opts.out, files, { overwrite: r.overwrite || r.resume, foreign: foreignEntries });
        } catch (err) {
          // A full disk at the very end: the work is not lost, the checkpoint is still there.
          if (err instanceof UsageError && ckptDir && /\((ENOSPC|EDQUOT)\)/.test(err.message)) {
            throw new UsageError(`${err.message}; or free space: the run's checkpoint is kept, and the same command with --resume continues from its last accepted step`);
          }
          throw err;
        }
        // The checkpoint goes once the run's last output is written (below): a run killed while --compact works has its
        // pruned outputs but no compact ones and no compact figures in report.json, and --resume must finish it (a new
        // user's kill -9 there left a folder --resume refused as finished). A compaction that fails removes it too.
        let interrupted = false;
        try {
          if (r.compact) {
            const compacted = await compactOutputs(opts.out, report, fitted.val.x, r.servingBatch, opts.signal);
            // Its seconds are a phase of the run too (the compact models, their checks and their timing), in the total.
            phases.compact = compacted.seconds;
            phases.total = (Date.now() - t0) / 1000 + result.earlierSeconds;
            // Rewritten in place, atomically.
            writeFileAtomicSync(join(resolve(opts.out), 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
            writeFileAtomicSync(join(resolve(opts.out), 'report.html'), await renderReportHtml(report));
            if (report.frontier) writeFileAtomicSync(join(resolve(opts.out), 'frontier.json'), frontierJson(report));
            for (const e of compacted.events) opts.onEvent?.(e);
          }
        } catch (err) {
          // Interrupted while compacting: the checkpoint stays, and --resume finishes the run (its compact outputs too).
          if (err instanceof InterruptedError) interrupted = true;
          throw err;
        } finally {
          if (ckptDir && !interrupted) new Checkpointer(ckptDir).remove();
        }
      } else {
        phases.total = (Date.now() - t0) / 1000 + result.earlierSeconds;
      }
      release();
      for (const message of outcome) opts.onEvent?.({ type: 'warning', message });
      opts.onEvent?.({
        type: 'done', sparsity: report.final.sparsity, sparsityOfAllParams: report.final.sparsityOfAllParams, prunableFraction: report.dense.prunableFraction,
        valAccuracy: report.final.valAccuracy, testAccuracy: report.final.testAccuracy,
        denseTestAccuracy: report.dense.testAccuracy, targetReached: report.final.targetReached, stopReason: report.final.stopReason, exitCode: report.final.exitCode,
        ...(report.final.advice ? { advice: report.final.advice } : {}), ...(report.final.retry ? { retry: report.final.retry } : {}), ...(report.final.compute ? { compute: report.final.compute } : {}),
        ...(report.final.testErrors ? { testErrors: report.final.testErrors } : {}),
        ...(report.final.classes ? { classes: report.final.classes } : {}), ...(report.final.labels ? { labels: report.final.labels } : {}),
        ...(report.final.targets ? { targets: report.final.targets } : {}),
        totalEpochs: report.totals.fineTuneEpochs, seconds: phases.total, out: opts.out ? resolve(opts.out) : undefined,
      });
      return { model, report, outDir: opts.out ? resolve(opts.out) : undefined };
    } catch (err) {
      release();
      loaded?.model.dispose();
      throw err;
    } finally {
      if (fittedBase && fittedBase !== data) fittedBase.dispose();
      if (ownsData) data?.dispose();
    }
  }
}

/** How far past the target (a fraction: 5 points) whole units may land before the run says why. */
export const OVERSHOOT_NOTE = 0.05;

/**
 * Why a regression target that lost more than --max-drop on the test rows got through: the guard judges the average R²
 * over the targets on the validation rows. Gains or smaller losses of the other targets hide a loss in that average;
 * where every target lost, nothing was hidden: the validation rows simply did not show the loss.
 */
function averagedAway(all: ReadonlyArray<{ denseTestR2: number; testR2: number }>, lost: ReadonlyArray<unknown>): string {
  const others = all.filter((t) => !lost.includes(t));
  if (!others.length) return `the guard judges the average over the ${all.length} targets on the validation rows, where it held: every target lost on the test rows, which the validation rows did not show`;
  return `the guard judges the average over the ${all.length} targets, where ${others.some((t) => t.testR2 > t.denseTestR2) ? 'gains' : 'smaller losses'} on the others hide it`;
}

/**
 * Warnings about the outcome that the guard's verdict does not carry: a test drop beyond --max-drop (the guard judged
 * other rows; with --force, the drop the user took), whole units far past the target, a class that lost far more recall
 * than the accuracy shows, and a classifier fallen to the majority-class score.
 */
export function outcomeWarnings(report: RunReport, r: Pick<ResolvedRunOptions, 'maxDrop' | 'force'>, fitted: Dataset, task: TaskInfo): string[] {
  const out: string[] = [];
  const testDrop = 100 * (report.dense.testAccuracy - report.final.testAccuracy);
  if (testDrop > r.maxDrop + 1e-9) {
    // The guard judged the validation rows; the test rows are another sample of the same uncertainty: say its estimate and standard error.
    const g = report.guard;
    // No validation row changed (right/wrong rows): the standard error estimate is 0, not the uncertainty; one row's
    // worth stands in for it (at least one discordant row is what a split of this size can tell apart from none).
    const unchanged = g != null && g.finalStandardError === 0 && g.pointsPerRow != null;
    let est = 'the guard judges the validation rows';
    // The test drop is against the dense model; the guard's against its reference, which may be the fine-tuned control
    // scoring lower: compared like with like, the validation drop against the dense model, and the control's own loss said.
    const valVsDense = report.dense.valAccuracy - report.final.valAccuracy;
    const controlLost = g?.reference === 'control' && g.controlValAccuracy != null ? report.dense.valAccuracy - g.controlValAccuracy : 0;
    if (g) {
      const row = g.pointsPerRow ? `one row = ${g.pointsPerRow.toFixed(2)} points` : '';
      // A negative drop is a gain: said as one ("−6.00 points below" read as a loss).
      const head = `the guard's paired estimate on its ${g.valRows} validation rows was`;
      const amount = `${g.finalDrop < 0 ? 'a gain' : 'a drop'} of ${Math.abs(100 * g.finalDrop).toFixed(2)}`;
      est = unchanged ? `${head} 0.00 points (no validation row changed; ${row})` : `${head} ${amount} ± ${(100 * g.finalStandardError).toFixed(2)} points${row ? ` (${row})` : ''}`;
      if (controlLost > 1e-9) {
        est += ` against the fine-tuned dense control, which itself scored ${(100 * controlLost).toFixed(2)} points below the dense model there` +
          // (A drop said as a drop, a gain as a gain; the hint at a control far below the dense model only beyond what a few
          // rows of noise or plain over-fitting explain: 4 points and 4 rows — a new user's 113-row split lost 3 rows, 2.65 points.)
          ` (against the dense model, as the test figure is: ${valVsDense < 0 ? `a gain of ${(-100 * valVsDense).toFixed(2)}` : `a drop of ${(100 * valVsDense).toFixed(2)}`} points` +
          `${controlLost >= Math.max(0.04, 4 / g.valRows) ? '; a control that loses this much to plain fine-tuning is itself a sign that the fine-tuning does not suit the model as trained, or of data prepared otherwise than for its training' : ''})`;
      }
    }
    // How far apart the two samples are, against the same model (the dense one): the test estimate's standard error taken
    // as the validation one's scaled to the test rows (same per-row spread), the two combined.
    const testN = report.samples?.test;
    const se = g ? (unchanged ? 1 / g.valRows : g.finalStandardError) : 0;
    const apart = g && testN && se > 0
      ? (testDrop / 100 - (controlLost > 1e-9 ? valVsDense : g.finalDrop)) / (se * Math.sqrt(1 + g.valRows / testN))
      : undefined;
    // Both given as files of their own: not a split of the data file, so what can differ is what the two files hold (a new
    // user's time-ordered weather windows: winter validation rows, summer test rows, told to give the files they had given).
    const ownFiles = report.config.valData != null && report.config.testData != null;
    const why = apart != null && Math.abs(apart) >= 3
      ? `; validation and test rows are two samples, but these differ by ${Math.abs(apart).toFixed(1)} standard errors, more than chance makes likely: ` + (ownFiles
        ? 'the validation file may not stand for the test file\'s rows (another period, season or source: a split by time puts different seasons in each, or rows the model was trained or early-stopped on): the guard judges the validation file, so give one drawn as the test rows are (e.g. a random sample of the same period)'
        : 'the validation rows may not stand for new data (rows the model was trained or early-stopped on, in this file\'s validation split but not its test split, or an ordered file): give rows the model never saw with --val-data and --test-data')
      // The figure compared is said: "about that standard error" read as a promise when the two were 2.6 apart (a new user's 39-row splits).
      : `; validation and test rows are two samples${apart != null ? `, whose estimates differ by ${Math.abs(apart).toFixed(1)} standard errors of their difference (the validation one's, combined with the same for ${testN} test rows), which chance can give` : ''}: ` +
        'more validation rows (--split, --val-data) make the guard finer, a smaller --max-drop stricter';
    out.push(r.force && report.final.targetReached
      ? `with --force the target was taken at a test drop of ${testDrop.toFixed(2)} points (the test metric, dense − pruned), beyond --max-drop ${r.maxDrop}`
      : `the test split lost ${testDrop.toFixed(2)} points, more than --max-drop ${r.maxDrop}: ${est}${why}`);
  }
  // The dense model far better on the validation rows than on the test rows, before any pruning: validation rows it was
  // trained on (a new user's CNN trained on the whole --data file, given --test-data: 99.50 % on 400 validation rows,
  // 96.10 % on 1,000 test rows), so the guard judged on what it memorised. Rows of a 0/1 metric only (R² has no such SE).
  const nv = report.samples?.val;
  const nt = report.samples?.test;
  // (Not under class weights: a weighted figure's error rests on the rare classes' few rows, not on √(p(1 − p)/n).)
  if ((task.kind === 'classification' || task.kind === 'multilabel') && nv && nt && !report.config.classWeight) {
    const pv = report.dense.valAccuracy;
    const pt = report.dense.testAccuracy;
    const gap = pv - pt;
    const se = Math.max(Math.sqrt((pv * (1 - pv)) / nv + (pt * (1 - pt)) / nt), 1 / Math.min(nv, nt));
    if (gap >= 0.02 && gap > 3 * se) {
      out.push(`the dense model scores ${(100 * pv).toFixed(2)} % on the ${nv} validation rows and ${(100 * pt).toFixed(2)} % on the ${nt} test rows, ` +
        `${(100 * gap).toFixed(2)} points (${(gap / se).toFixed(1)} standard errors) apart: the validation rows look like rows it was trained on, and the guard judged on them; ` +
        'give rows the model never saw with --val-data (and --test-data)');
    }
  }
  // Whole units overshooting the target by far (a run's only step removed 70.7 % of the compute for a 0.5 target: a new
  // user's residual CNN whose 16-filter convolutions joined by an Add go 8 at a time): said, with why and what stops closer.
  const flops = report.config.objective === 'flops';
  const latency = report.config.objective === 'latency';
  const reached = flops ? report.final.compute?.reduction : latency ? report.final.latency?.reduction : report.final.sparsity;
  if (report.final.targetReached && reached != null && report.config.granularity !== 'connection' && reached - report.config.target > OVERSHOOT_NOTE) {
    out.push(`reached ${(100 * reached).toFixed(1)} % ${flops ? 'of the compute removed' : latency ? 'of the predicted time removed' : 'sparsity (of the prunable kernel weights)'} for a target of ${(100 * report.config.target).toFixed(1)} %: ` +
      `whole units go at once${flops || latency ? ` (a convolution's filters in blocks of 8 under --objective ${report.config.objective}, and layers joined by Add or Concatenate together: docs/compaction.md)` : ' (layers joined by Add or Concatenate together)'}, ` +
      'so a step can end past the target; report.json layers says what each layer lost' + (flops || latency ? '' : ', and --granularity connection stops at the target (rounded up to a whole weight)'));
  }
  // A lower target of --targets reached far past it is a frontier point elsewhere than asked (a new user's 0.3 row at 42.8 %).
  if (report.config.granularity !== 'connection') {
    for (const row of report.frontier ?? []) {
      const at = flops ? row.compute?.reduction : row.sparsity;
      // (A row beyond its target because its branch was rejected was said when it was kept, with why.)
      if (!row.reached || row.beyond || row.target >= report.config.target || at == null || at - row.target <= OVERSHOOT_NOTE) continue;
      out.push(`the frontier's target ${(100 * row.target).toFixed(1)} % was kept at ${(100 * at).toFixed(1)} % ${flops ? 'of the compute removed' : 'sparsity'}: the step that crossed it ` +
        'removed whole units at once, and its branch to the lower target did too; frontier.json has the row as reached');
    }
  }
  // A class that lost far more recall than the accuracy shows (a rare class the pruned model stopped predicting).
  const weighs = report.config.classWeight ? `${report.task?.metric ?? 'accuracy'}, which the guard compares, weighs each class by its weight and rows` : 'accuracy, which the guard compares, weighs each class by its rows';
  for (const c of classRecallLosses(report.final.classes ?? [], report.dense.testAccuracy - report.final.testAccuracy, r.maxDrop)) {
    const found = Math.round(c.testRows * c.denseRecall!);
    if (c.recall === 0) {
      out.push(`class '${c.name}' is no longer recalled: none of its ${c.testRows} test rows is predicted as '${c.name}' (the dense model found ${found} of them, ${(100 * c.denseRecall!).toFixed(1)} %)` +
        `${found <= 2 ? `; ${found === 1 ? 'one row' : 'two rows'} can be chance, yet it may mean the pruned model stopped predicting the class` : ''}: ${weighs} (report.json final.classes)`);
      continue;
    }
    out.push(`class '${c.name}' lost ${(100 * (c.denseRecall! - c.recall!)).toFixed(1)} points of test recall (${(100 * c.denseRecall!).toFixed(1)} → ${(100 * c.recall!).toFixed(1)} % of its ${c.testRows} test rows), ` +
      `more than the ${report.config.classWeight ? report.task?.metric ?? 'accuracy' : 'accuracy'} shows: ${weighs} (report.json final.classes)`);
  }
  // The same for each lower target's model (its row's `classes`).
  // (A row kept beyond its target holds a model another row may hold too, the final one's included: said once.)
  const said = new Set<number>([report.final.sparsity]);
  for (const row of report.frontier ?? []) {
    if (!row.classes || row.testAccuracy == null || row.sparsity == null || row.target >= report.config.target || said.has(row.sparsity)) continue;
    said.add(row.sparsity);
    const lost = classRecallLosses(row.classes, report.dense.testAccuracy - row.testAccuracy, r.maxDrop);
    if (lost.length === 0) continue;
    out.push(`the frontier's ${row.target} model: ${lost.map((c) => `class '${c.name}' ${c.recall === 0 ? 'no longer recalled' : 'lost'} (test recall ${(100 * c.denseRecall!).toFixed(1)} → ${(100 * c.recall!).toFixed(1)} % of its ${c.testRows} rows)`).join(', ')}, ` +
      `more than the ${report.config.classWeight ? report.task?.metric ?? 'accuracy' : 'accuracy'} shows (the report's frontier row, its classes; frontier.json where the run writes one)`);
  }
  // Several regression targets: the guard judges their average R²; a target that lost more than --max-drop on its own is said.
  const perTarget = report.final.targets ?? [];
  const lostTargets = perTarget.filter((t) => t.denseTestR2 - t.testR2 > r.maxDrop / 100 + 1e-9);
  if (perTarget.length > 1 && lostTargets.length > 0) {
    out.push(`${lostTargets.map((t) => `target '${t.name}' lost ${(t.denseTestR2 - t.testR2).toFixed(3)} of test R² (${t.denseTestR2.toFixed(3)} → ${t.testR2.toFixed(3)})`).join(', ')}, ` +
      `more than --max-drop ${r.maxDrop} (${(r.maxDrop / 100).toFixed(3)} of R²) on ${lostTargets.length > 1 ? 'their' : 'its'} own: ${averagedAway(perTarget, lostTargets)} (report.json final.targets)`);
  }
  // The same for a multi-label model's labels (recall of each label's positive rows, at least 10 of them).
  const labels = (report.final.labels ?? []).map((l) => ({ ...l, testRows: l.testPositives }));
  for (const l of classRecallLosses(labels, report.dense.testAccuracy - report.final.testAccuracy, r.maxDrop)) {
    if (l.recall === 0) {
      out.push(`label '${l.name}' is no longer predicted on any of its ${l.testPositives} positive test rows (the dense model found ${Math.round(l.testPositives * l.denseRecall!)} of them, ${(100 * l.denseRecall!).toFixed(1)} %): ` +
        'the exact-match accuracy, which the guard compares, hides it (report.json final.labels)');
      continue;
    }
    out.push(`label '${l.name}' lost ${(100 * (l.denseRecall! - l.recall!)).toFixed(1)} points of test recall (${(100 * l.denseRecall!).toFixed(1)} → ${(100 * l.recall!).toFixed(1)} % of its ${l.testPositives} positive test rows), ` +
      'more than the exact-match accuracy shows, which the guard compares (report.json final.labels)');
  }
  // Far better than dense on its own validation rows (10 points, 0.1 of R², and 5 rows): fine-tuning taught the model
  // what its training did not, the sign of inputs or labels prepared otherwise than for its training (a scaling,
  // columns or a label order that the checks before the run could not tell). Its outputs now answer these inputs.
  const valRows = fitted.val.x.shape[0];
  const gain = report.final.valAccuracy - report.dense.valAccuracy;
  if (valRows > 0 && farAbove(gain, valRows)) {
    const fmt = (v: number) => metricValue(task.kind, v);
    out.push(`the pruned model's validation ${report.task?.metric ?? metricName(task.kind)} is far above the dense model's (${fmt(report.dense.valAccuracy)} → ${fmt(report.final.valAccuracy)}): ` +
      `fine-tuning taught it what its own training did not: either the dense model was under-trained (stopped early)${report.config.classWeight ? ', or trained without these class weights (--class-weight: its common classes now count less)' : ''}, or the data is prepared otherwise than for that training (scaling, columns, label order); ` +
      'in the second case its outputs now answer inputs prepared as here, so check that its users feed it these');
  }
  if (task.kind === 'classification') {
    // (Under class weights, what always answering it scores in the weighted metric.)
    const cw = report.config.classWeight;
    const floor = majorityShare(fitted.test.labels, fitted.test.weights);
    const rows = fitted.test.labels.length;
    // The pruned model fell to what always answering the most common class scores, where the dense one was above it.
    if (rows > 0 && report.final.testAccuracy <= floor.share + 0.5 / rows && report.dense.testAccuracy > floor.share + 1 / rows) {
      // What it still finds of the other classes, in figures: accuracy alone cannot say whether it stopped predicting them.
      const others = (report.final.classes ?? []).filter((c, k) => k !== floor.label && c.testRows > 0 && c.denseRecall != null && c.recall != null)
        .map((c) => `'${c.name}' ${(100 * c.denseRecall!).toFixed(1)} → ${(100 * c.recall!).toFixed(1)} %`);
      out.push(`the pruned model's test ${cw ? report.task?.metric ?? 'accuracy' : 'accuracy'} (${(100 * report.final.testAccuracy).toFixed(2)} %) is no better than always answering the most common class ` +
        `'${fitted.classNames[floor.label] ?? floor.label}' (${(100 * floor.share).toFixed(2)} % ${cw ? 'by the class weights' : `of the ${rows} test rows`}; dense ${(100 * report.dense.testAccuracy).toFixed(2)} %)` +
        (others.length ? `; test recall of the other classes, dense → pruned: ${others.slice(0, 8).join(', ')}${others.length > 8 ? ', …' : ''} (report.json final.classes)` : ''));
    }
  }
  return out;
}

/** Folder of a frontier target's files inside the output folder. */
export const frontierPath = (target: number): string => `frontier/${target}/`;

/** report.frontier: every requested lower target (reached or not) and the final state, ascending. */
/**
 * The frontier's rows. `written`: the run writes an output folder; without one no lower target's files exist, so
 * no row has a `path` (the API's caller gets the final model only).
 */
function frontierRows(target: number, frontier: readonly number[], result: AgentResult, params: number, written: boolean, classes: ReadonlyMap<number, NonNullable<ReportFrontierRow['classes']>> = new Map()): ReportFrontierRow[] {
  const row = (t: number, s: { pruned: number; global: number }, compute: ReportFrontierRow['compute'], val: number, test: number, steps: number, path: string): ReportFrontierRow => ({
    target: t, reached: true, sparsity: s.global, sparsityOfAllParams: params > 0 ? s.pruned / params : 0, valAccuracy: val, testAccuracy: test, compute, fineTuneSteps: steps,
    ...(written ? { path } : {}),
  });
  const rows = frontier.map((t): ReportFrontierRow => {
    const m = result.milestones.find((x) => x.target === t);
    if (!m) return { target: t, reached: false };
    const cs = classes.get(t);
    const r = { ...row(t, m.sparsity, m.compute, m.valAccuracy, m.testAccuracy, m.fineTuneSteps, frontierPath(t)), ...(cs ? { classes: cs } : {}) };
    return m.beyond ? { ...r, beyond: `its branch lost ${(100 * m.beyond.drop).toFixed(2)} validation points, more than the ${(100 * m.beyond.allowed).toFixed(2)} allowed: ${m.beyond.branch != null ? `the model of the branch to ${m.beyond.branch}, the nearest beyond it` : 'the model of the step that crossed it'}` } : r;
  });
  // The final model's own steps: the branches to the lower targets made other models (totals.frontierSteps).
  rows.push({ ...row(target, result.sparsity, result.compute, result.valAccuracy, result.testAccuracy, result.totals.fineTuneSteps - (result.totals.frontierSteps ?? 0), ''), reached: result.targetReached });
  return rows;
}

/** Calls `f` with each lower target's state put in place (its weights and masks), in order; the final state restored after. */
async function eachMilestone(result: AgentResult, f: (m: AgentResult['milestones'][number]) => Promise<void> | void): Promise<void> {
  if (result.milestones.length === 0) return;
  const pm = result.masks;
  const final = pm.snapshot();
  try {
    for (const m of result.milestones) {
      pm.restore(m.snapshot);
      await f(m);
    }
  } finally {
    pm.restore(final);
    disposeSnapshot(final);
  }
}

/** frontier.json: the report's frontier rows, for AutoML tools. */
function frontierJson(report: RunReport): string {
  return `${JSON.stringify({ format: 'autoprune-frontier', metric: report.task?.metric ?? 'accuracy', denseTestAccuracy: report.dense.testAccuracy, rows: report.frontier }, null, 2)}\n`;
}

/** frontier/<t>/model/ and masks.json of every recorded lower target, and frontier.json (the rows, for AutoML tools). */
async function frontierFiles(result: AgentResult, report: RunReport): Promise<OutputFile[]> {
  if (!report.frontier) return [];
  const files: OutputFile[] = [{ relPath: 'frontier.json', data: frontierJson(report) }];
  const pm = result.masks;
  await eachMilestone(result, async (m) => {
    files.push(...(await modelFiles(pm.model, `${frontierPath(m.target)}model/`)));
    files.push({ relPath: `${frontierPath(m.target)}masks.json`, data: JSON.stringify(masksToJson(pm)) });
  });
  return files;
}

/** Names of the recurrent layers (LSTM, GRU, SimpleRNN; in wrappers and nested models too) whose kernels autoprune prunes. */
function recurrentLayerNames(model: TF.LayersModel): string[] {
  return [...new Set(discoverKernels(model).filter((k) => k.kind === 'lstm' || k.kind === 'gru' || k.kind === 'simple_rnn').map((k) => k.layer.name))];
}

/**
 * A policy trained on rows of one kind of layer only (report of train-policy's `provenance.layerKinds`: 'convolution'
 * and/or 'other') given a model with layers of the other kind: it scores them as it scores the layers it saw, said in a
 * warning (a new user's policy of a tabular family ran on their CNN without a word). Policies without the record
 * (written before 2026-12-06, or combinations) say nothing.
 */
export function policyKindsWarning(policy: string, kinds: unknown, model: TF.LayersModel): string | undefined {
  if (!Array.isArray(kinds) || kinds.length === 0) return undefined;
  const layers = discoverKernels(model);
  const conv = layers.filter((k) => /conv/.test(k.kind));
  const other = layers.filter((k) => !/conv/.test(k.kind));
  const unseen = !kinds.includes('convolution') && conv.length ? { what: 'convolutions', names: conv, saw: 'no convolution' }
    : !kinds.includes('other') && other.length ? { what: 'layers other than convolutions', names: other, saw: 'convolutions only' } : undefined;
  if (!unseen) return undefined;
  const names = [...new Set(unseen.names.map((k) => k.layer.name))];
  return `policy '${policy}' was trained on ${unseen.saw}, and the model's ${unseen.what} (${names.slice(0, 4).map((n) => `'${n}'`).join(', ')}${names.length > 4 ? ', …' : ''}) ` +
    'are scored as it scores the layers it saw: retrain it with such models among its --models, or use the default policy for this model';
}

/** report.json's view of where a split's rows came from: the file and each row's line. */
function originOf(o: SplitOrigin): { file: string; lines: number[] } {
  return { file: o.file, lines: Array.from(o.lines) };
}

/** report.json's view of a latency profile: per kernel its dense MACs and predicted ms, and the probes it was fitted from. */
function profileSummary(p: LatencyProfile, pm: PrunableModel): NonNullable<RunReport['final']['latency']>['profile'] {
  return { kernels: profileRows(p, pm), probes: p.probes.map((q) => ({ layer: q.layer, savedMs: q.savedMs, macs: [...q.macs] })) };
}
