import 'reflect-metadata';
import type * as TF from '@tensorflow/tfjs';
import { inject, injectable } from 'inversify';
import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { isLastTry, runAgent, type AgentResult } from './agent/loop.js';
import { writeFileAtomicSync } from './util/atomic-write.js';
import { makeDirs } from './util/make-dirs.js';
import { discoverKernels } from './pruning/layer-kinds.js';
import { cacheDir } from './models/cache.js';
import { Checkpointer, type RunIdentity } from './agent/checkpoint.js';
import type { AgentEvent } from './agent/events.js';
import { selectBackendAsync, tf } from './backend/tf.js';
import { csvNames } from './data/csv.js';
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
import { cloneModel, compileSettingsDropped, countParams, danglingLink, jsonFormatOf, lossSettingsDropped, modelFiles, probeWritable, quantizedStorage, writableFolderFor } from './models/io.js';
import { isMountPoint, recoverInterruptedWrite } from './report/write.js';
import { realPathOf } from './util/real-path.js';

export { realPathOf };
import { accuracy, classRecall, evaluate, labelRecall, predict, targetFit } from './models/train.js';
import { checkModelShape, checkToldTask, compiledLoss, setTargetWeights, csvTargetsOf, fitDatasetToModel, fixedInputDims, lossName, metricName, metricValue, predictedClasses, regressionLossOf, rememberTask, taskOf, tokenInputLayer, type TaskInfo, type TaskKind } from './models/task.js';
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

/**
 * The cache folder of the runs writing to `out` (its real path, hashed): their checkpoint and lock live there,
 * not beside `out`, so nothing is written outside `--out` and the cache, and `out` only ever appears complete.
 */
export function runDirFor(out: string): string {
  return join(cacheDir(), 'runs', createHash('sha256').update(realPathOf(resolve(out))).digest('hex').slice(0, 16));
}

/** Checkpoint folder of a run writing to `out` (in the cache: runDirFor). */
export function checkpointDirFor(out: string): string {
  return join(runDirFor(out), 'checkpoint');
}

/** Lock file of the runs writing to `out` (in the cache: runDirFor). */
export function lockFileFor(out: string): string {
  return join(runDirFor(out), 'lock');
}

function nonEmptyDir(p: string): boolean {
  return existsSync(p) && (!statSync(p).isDirectory() || readdirSync(p).length > 0);
}

/**
 * Validates the output folder before any work starts, so a long run never fails at its last step. `inputs`
 * (the model's folder, data files) must not be the folder or inside it: replacing it would delete them.
 * Paths are compared as real paths (symlinks resolved), so a link to the model's folder is caught too.
 * The folder's parent must be writable: probed by creating and removing an empty folder there.
 */
export function checkOutDir(out: string, overwrite: boolean, resume: boolean, inputs: { what: string; path: string; folder?: boolean }[] = []): void {
  const abs = resolve(out);
  // A run killed while swapping in its outputs left them moved aside: they come back before anything is judged.
  recoverInterruptedWrite(abs);
  const real = realPathOf(abs);
  if (dirname(real) === real) throw new UsageError(`output folder '${out}' is a filesystem root; choose another --out`);
  const cwd = realPathOf(process.cwd());
  if (cwd === real || cwd.startsWith(real + sep)) {
    throw new UsageError(`output folder '${out}' holds the current working directory, which writing the outputs would delete; choose another --out`);
  }
  for (const input of inputs) {
    const p = realPathOf(input.path);
    if (p === real || p.startsWith(real + sep)) {
      throw new UsageError(p === real
        ? `output folder '${out}' is the ${input.folder ? `${input.what}'s folder` : input.what}, which writing the outputs would delete; choose another --out`
        : `output folder '${out}' holds the ${input.what} '${input.path}', which writing the outputs would delete; choose another --out`);
    }
    // A model's folder is never written to, not even a new subfolder (as --logdir there is refused). (A model.json
    // given by its path in the working folder, or above it, is not in a model folder: see inputsOf.)
    if (input.what === 'input model' && input.folder && real.startsWith(p + sep)) {
      throw new UsageError(`output folder '${out}' is inside the input model's folder '${input.path}', which is never written to; choose another --out`);
    }
  }
  let link: string | undefined;
  try { link = lstatSync(abs).isSymbolicLink() ? readlinkSync(abs) : undefined; } catch { /* does not exist */ }
  if (link !== undefined) {
    // The outputs replace the folder whole (a rename), which a link cannot take: refused before any work.
    throw new UsageError(`output path '${out}' is a symbolic link (to '${link}'${existsSync(abs) ? '' : ', which does not exist'}); give the folder itself or another --out`);
  }
  if (existsSync(abs) && !statSync(abs).isDirectory()) throw new UsageError(`output path '${out}' exists and is not a folder; choose another --out`);
  // A folder the user made read-only is theirs to keep so: the run would replace it (its parent being writable) and
  // drop its permissions with it.
  if (existsSync(abs) && !writable(abs)) throw new UsageError(`output folder '${out}' is not writable (its permissions); make it writable or choose another --out`);
  // Nothing to resume is said before anything loads or trains (the built-in model's first training included).
  if (resume && !nonEmptyDir(abs) && !new Checkpointer(checkpointDirFor(abs)).exists()) {
    throw new UsageError(`nothing to resume: no checkpoint for output folder '${out}' (expected '${checkpointDirFor(abs)}'); run again without --resume`);
  }
  if (nonEmptyDir(abs) && !overwrite && !(resume && new Checkpointer(checkpointDirFor(abs)).exists())) {
    throw new UsageError(resume
      ? `nothing to resume: output folder '${out}' holds no checkpoint (the run finished, or never reached its first accepted step); run again without --resume, with --overwrite to replace it`
      : `output folder '${out}' already exists; pass --overwrite or choose another --out`);
  }
  // A mount point is written in place (report/write.ts), so it is the folder itself that must be writable.
  if (existsSync(abs) && isMountPoint(abs)) probeWritable(abs, `cannot write output folder '${out}'`);
  else writableFolderFor(dirname(abs), `cannot write output folder '${out}'`);
}


/** Whether this process may write into `dir` (its permissions; root may write anywhere). */
function writable(dir: string): boolean {
  try {
    accessSync(dir, fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * `--overwrite` replaces a previous run's output folder (one holding its report.json or masks.json), or an
 * empty one; a folder with other contents is refused, so that a mistyped --out never deletes a user's files.
 */
export function checkOverwritable(out: string, overwrite: boolean, resume: boolean): void {
  const abs = resolve(out);
  if (!nonEmptyDir(abs)) return;
  // A resumed run replaces the folder too when it writes its outputs: only autoprune's own entries may be there (an
  // interrupted run may not have written a report yet). Until 2026-12-05 a resume deleted a user's files put there.
  if (resume && new Checkpointer(checkpointDirFor(abs)).exists()) {
    const foreign = foreignEntries(abs);
    if (foreign.length > 0) {
      throw new UsageError(`output folder '${out}' holds ${entriesNotOurs(foreign)}, which the resumed run's outputs would replace; move ${foreign.length === 1 ? 'it' : 'them'} out and rerun with --resume`);
    }
    return;
  }
  if (!overwrite) return;
  // Ours when its report.json or masks.json says so, and nothing else is there.
  if (!isAutopruneOutput(abs)) {
    throw new UsageError(`output folder '${out}' is not an autoprune output (no autoprune report.json or masks.json in it): --overwrite only replaces a previous run's output; choose another --out`);
  }
  const foreign = foreignEntries(abs);
  if (foreign.length > 0) {
    throw new UsageError(`output folder '${out}' holds ${entriesNotOurs(foreign)}, which --overwrite would delete; move ${foreign.length === 1 ? 'it' : 'them'} or choose another --out`);
  }
}

/** Everything an output folder holds (a run's files, `autoprune compact`'s, a frontier's): --overwrite replaces only these. */
const OUTPUT_ENTRIES = new Set(['model', 'masks.json', 'report.json', 'report.html', 'frontier.json', 'frontier', 'compact', 'model.sparse', 'model.int8.sparse']);

/** What one target's folder of a frontier holds: its model and masks, and `autoprune compact`'s files. */
const FRONTIER_ENTRIES = new Set(['model', 'masks.json', 'compact', 'model.sparse', 'model.int8.sparse']);

/** Whether `dir` holds an autoprune run's report.json or masks.json, by their `format` (a file of that name alone is anyone's). */
export function isAutopruneOutput(dir: string): boolean {
  return jsonFormatOf(join(dir, 'report.json')) === 'autoprune-report' || jsonFormatOf(join(dir, 'masks.json')) === 'autoprune-masks';
}

/** What a saved tfjs model folder of ours holds: model.json and its weight files. */
const isModelFile = (name: string) => name === 'model.json' || /^(weights|group\d+-shard\d+of\d+)\.bin$/.test(name);

/** "an entry autoprune does not write (x)" / "entries … (x, y, z, …)", for the messages that name them. */
function entriesNotOurs(foreign: readonly string[]): string {
  return `${foreign.length === 1 ? 'an entry' : 'entries'} autoprune does not write (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''})`;
}

/** Everything in an output folder that autoprune does not write (relative paths): what replacing the folder would delete. */
function foreignEntries(abs: string): string[] {
  return [...readdirSync(abs).filter((e) => !OUTPUT_ENTRIES.has(e)), ...foreignInside(abs)];
}

/**
 * Entries inside an output folder's subfolders that autoprune does not write (relative paths): model/ and
 * compact/ hold a saved model (model.json, weight files), frontier/ one folder per target (model/, masks.json).
 * A symlink is never looked through (removing the folder unlinks it, its target stays).
 */
export function foreignInside(abs: string): string[] {
  const out: string[] = [];
  const modelDir = (rel: string) => {
    const p = join(abs, rel);
    if (!isRealDir(p)) return;
    for (const e of readdirSync(p)) if (!isModelFile(e) || isRealDir(join(p, e))) out.push(`${rel}/${e}`);
  };
  modelDir('model');
  modelDir('compact');
  const fr = join(abs, 'frontier');
  if (isRealDir(fr)) {
    for (const t of readdirSync(fr)) {
      const rel = `frontier/${t}`;
      if (!/^(0|1)(\.\d+)?$/.test(t) || !isRealDir(join(fr, t))) { out.push(rel); continue; }
      // A target's folder: its model/ and masks.json, and what `autoprune compact frontier/<t>` adds.
      for (const e of readdirSync(join(fr, t))) if (!FRONTIER_ENTRIES.has(e)) out.push(`${rel}/${e}`);
      modelDir(`${rel}/model`);
      modelDir(`${rel}/compact`);
    }
  }
  return out;
}

function isRealDir(p: string): boolean {
  try {
    return lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * `--logdir`: a folder (or a path to create) outside the input model's folder (inputs are never written to)
 * and outside `out` (which is replaced whole when the run ends).
 */
export function checkLogDir(logdir: string, modelDir: string | undefined, out: string | undefined): void {
  if (typeof logdir !== 'string' || logdir.trim() === '') throw new UsageError(`logdir must be a folder path, got '${String(logdir)}'`);
  const link = danglingLink(resolve(logdir));
  if (link !== undefined) throw new UsageError(`--logdir '${logdir}' is a symbolic link to '${link}', which does not exist; give a folder, or a path to create`);
  const real = realPathOf(resolve(logdir));
  if (dirname(real) === real) throw new UsageError(`--logdir '${logdir}' is a filesystem root; give a folder of its own for the TensorBoard files`);
  const within = (dir: string) => { const d = realPathOf(resolve(dir)); return real === d || real.startsWith(d + sep); };
  if (modelDir != null && within(modelDir)) {
    throw new UsageError(`--logdir '${logdir}' is inside the input model's folder '${modelDir}', which is never written to; choose another --logdir`);
  }
  if (out != null && within(out)) throw new UsageError(`--logdir '${logdir}' is inside the output folder '${out}', which is replaced when the run ends; choose another --logdir`);
  if (existsSync(real) && !statSync(real).isDirectory()) throw new UsageError(`--logdir '${logdir}' exists and is not a folder`);
  writableFolderFor(real, `cannot write TensorBoard files to --logdir '${logdir}'`);
}

/**
 * The smallest gap in validation loss (per row, the task's loss) that the input-scaling check reads as a better fit:
 * iris given its z-scores × 1.5 scores as well but 0.620 against 0.121; a model right on every row either way moves in
 * thousandths.
 */
const MIN_LOSS_GAP = 0.05;

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
 * Takes the lock of an output folder (lockFileFor: a file in the cache holding the pid), so a second run on the
 * same `--out` fails at once instead of after its whole run. A lock whose process is gone is taken over.
 * Returns the release function.
 */
/** Lock files held by runs of this process (a pid alone cannot tell two runs of one process apart). */
const heldLocks = new Set<string>();

export function lockOutDir(out: string): () => void {
  const file = lockFileFor(out);
  // A run of this same process (concurrent API calls, e.g. AutoML trials under Promise.all) holds it.
  if (heldLocks.has(file)) throw new UsageError(`output folder '${out}' is in use by another autoprune run in this process; wait for it or choose another out folder`);
  makeDirs(dirname(file));
  const release = () => {
    heldLocks.delete(file);
    rmSync(file, { force: true });
    try { rmdirSync(dirname(file)); } catch { /* the run's checkpoint is still there (interrupted, resumable) */ }
  };
  for (let tries = 0; ; tries++) {
    try {
      writeFileSync(file, JSON.stringify(lockOwner(process.pid)), { flag: 'wx' });
      heldLocks.add(file);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 0) {
        throw new UsageError(`cannot lock output folder '${out}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      const holder = readLockOwner(file);
      const state = holder ? holderState(holder) : 'gone';
      if (state === 'alive') {
        throw new UsageError(`output folder '${out}' is in use by another autoprune run (pid ${holder!.pid}); wait for it or choose another --out`);
      }
      if (state === 'unknown') {
        throw new UsageError(`output folder '${out}' is locked by an autoprune run of pid ${holder!.pid} on ${holder!.host ?? 'another host'}${holder!.pidns ? ` (process namespace ${holder!.pidns})` : ''}, which this process cannot see ` +
          `(another machine or container sharing the cache): wait for it, or, if no run is active there, delete '${file}'`);
      }
      rmSync(file, { force: true });
    }
  }
  return release;
}

/** Who holds a lock: the pid, and what tells a live holder from a reused pid or one of another machine or container. */
interface LockOwner { pid: number; host?: string; pidns?: string; start?: string }

/** Start time of a process (clock ticks since boot, /proc/<pid>/stat field 22), where /proc has it. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function pidNamespace(): string | undefined {
  try { return readlinkSync('/proc/self/ns/pid'); } catch { return undefined; }
}

function lockOwner(pid: number): LockOwner {
  return { pid, host: hostname(), pidns: pidNamespace(), start: processStart(pid) };
}

/** A lock file's holder: JSON, or a bare pid (locks written before 2026-12-05). */
function readLockOwner(file: string): LockOwner | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim();
    const o = (/^\d+$/.test(text) ? { pid: Number(text) } : JSON.parse(text)) as LockOwner;
    return Number.isInteger(o.pid) && o.pid > 0 ? o : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a lock's holder still runs: 'gone' (its pid is free, or now another process's: a start time that differs),
 * 'alive', or 'unknown' (another host or process namespace: its pid means nothing here).
 */
function holderState(o: LockOwner): 'alive' | 'gone' | 'unknown' {
  if ((o.host != null && o.host !== hostname()) || (o.pidns != null && pidNamespace() != null && o.pidns !== pidNamespace())) return 'unknown';
  // Our own pid without the lock in heldLocks: left by a run of this process that crashed before releasing it.
  if (o.pid === process.pid) return 'gone';
  if (!alive(o.pid)) return 'gone';
  const start = o.start != null ? processStart(o.pid) : undefined;
  return start != null && start !== o.start ? 'gone' : 'alive';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `--label-order` names at most one class per output (checked before the data is fitted to the model). */
function checkLabelOrderLength(task: TaskInfo, opts: AutopruneOptions): void {
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
export function bestLabelOrder(labels: Int32Array, predicted: ArrayLike<number>, classes: number, logLik?: readonly Float64Array[]): { identity: number; best: number; order: number[] } {
  const c = Array.from({ length: classes }, () => new Float64Array(classes));
  for (let i = 0; i < labels.length; i++) if (predicted[i] < classes) c[labels[i]][predicted[i]]++;
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
function checkValidationRows(data: Dataset, opts: AutopruneOptions, force: boolean | undefined): void {
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
 * where the dense model found some (a class the pruned model no longer predicts on its rows, however few the dense
 * model found: the message gives the rows): what accuracy hides on imbalanced data.
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
  const order = bestLabelOrder(data.val.labels, t.dataSync(), classes, logLik);
  t.dispose();
  const acc = order.identity / Math.max(1, rows);
  const chance = 1 / Math.max(2, names.length);
  // On imbalanced classes "chance" (one in k) is not what a model that learned nothing scores: always answering the
  // most common class scores its share (a new user's 4-class table: "chance 25.0 %" where that gave 42 %).
  const commonShare = majorityShare(data.val.labels).share;
  const baseline = commonShare > chance + 0.05 ? `chance ${(100 * chance).toFixed(1)} %, always the most common class ${(100 * commonShare).toFixed(1)} %` : `chance ${(100 * chance).toFixed(1)} %`;
  const scores = `${prefix}${inMemory ? `${dataLabel(opts, data)}: ` : ''}the model's accuracy on the validation split is ${(100 * acc).toFixed(1)} % (${baseline}, ${rows} rows)`;
  // An output that no name of the file takes in the best order is named by its index: --label-order needs a name
  // there, any name no row has (the class the model knows and this file lacks).
  const named = order.order.map((k, out) => names[k] ?? (numeric ? String(k) : `output${out}`));
  const unnamed = named.filter((n, out) => names[order.order[out]] == null && !numeric);
  // Integer labels: an output no label of the file takes is named by its index, a class with no rows here.
  const absent = numeric ? named.filter((n, out) => names[order.order[out]] == null) : [];
  const placeholder = unnamed.length ? ` (${unnamed.join(', ')}: the name of a class this file has no rows of, or any name not in it)`
    : absent.length ? ` (${absent.join(', ')}: a class this file has no rows of; if the file's labels are not the model's classes — a 0/1 recoding, one of several one-hot columns (--label with all of them) — no order fits)` : '';
  // Named labels: no better than chance. Integer labels follow a convention (label k = output k), so only a model
  // below chance by more than a row that another mapping explains well (at least halfway from chance to every row
  // right: 0/1 coded the other way round) says the convention is not its own; a weak or untrained model does not.
  const row = 1 / Math.max(1, rows);
  const otherFits = otherOrderFits(order.identity, order.best, rows, chance, majorityShare(data.val.labels).count);
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
    const base = Math.max(chance, majorityShare(data.val.labels).share);
    // Near it: less than a quarter of the way from it to every row right (a label the model's own one correlates with,
    // rain and city, gets a few points above it: 55.1 % against 50.0 % on 292 rows; iris with two feature columns
    // swapped, 66.7 % against 33.3 %, is past it and left to the warning after the run).
    const beatsBase = acc >= base + (1 - base) / 4;
    if (!beatsBase) {
      const ce = orderCrossEntropies(logLik, order.order, rows).given;
      const uniform = Math.log(outputs);
      if (ce >= CONFIDENTLY_WRONG * uniform) {
        throw new DataError(`${scores} with ${mapping}: near what always answering its most common label scores (${(100 * base).toFixed(1)} %), ` +
          `while sure of its answers (validation cross-entropy ${ce.toFixed(2)}; ${uniform.toFixed(2)} is a model unsure of every class): it was trained to predict something else, ` +
          `and fine-tuning would retrain it to this label; check --label (the column the model predicts) and the input columns`);
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
  // metric, cannot show what pruning costs the rare classes.
  const { label: common, count: most } = majorityShare(data.val.labels);
  if (rows >= MIN_LABEL_CHECK_ROWS && order.identity <= most + 1 && most < rows) {
    opts.onEvent?.({
      type: 'warning',
      message: `the model's validation accuracy (${(100 * acc).toFixed(1)} %) is no better than always answering the most common class '${names[common] ?? common}' ` +
        `(${(100 * most / rows).toFixed(1)} % of the ${rows} rows): accuracy, which the guard compares, cannot show what pruning costs the other classes`,
    });
  }
}

/**
 * A user's multi-label, regression or autoencoder model that does worse on the validation split than a constant
 * (each label's more common value, by more than a row; the mean: R² ≤ 0) was not trained for these target
 * columns (another order, another column) or these inputs: refused before any training, as fine-tuning would
 * retrain it to another task. A multi-label model level with the constants gets a warning.
 */
function checkTargets(model: TF.LayersModel, data: Dataset, task: TaskInfo, opts: AutopruneOptions, reload?: ColumnLoader): void {
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
type ColumnLoader = (label: string[], ignore: string[]) => Dataset;

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
const farAbove = (gain: number, rows: number): boolean => gain >= Math.max(0.1, 5 / Math.max(1, rows));

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
    if (bestLabelOrder(data.val.labels, predicted, classes).best / rows >= best.score - 1e-9) return;
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
  for (const c of scored) {
    // (Far above in the metric too: said below, by the metric alone.)
    const tie = !farAbove(c.score - asGiven, rows) && c.score >= asGiven - Math.max(0.05, 2 / rows) + 1e-9;
    if ((c.name === 'x255' || c.name === 'd255') && credible(c.score) && tie && betterFit(c.loss, 0.8)) {
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
    const all = c.compute.allKernels;
    // report.json says what the compact model runs too (the masked model's live-weight count is not that at
    // connection or hierarchical granularity).
    const summary: NonNullable<RunReport['compact']> = {
      path, paramsBefore: c.compact.paramsBefore, paramsAfter: c.compact.paramsAfter,
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
          text: 'every smaller step left a model that answers only the most common class (the others are too rare for the pruned model to keep): ' +
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

/**
 * The cache (the default model, run checkpoints) must be a writable folder before any work: a read-only or
 * mistyped AUTOPRUNE_CACHE_DIR would otherwise fail after the training, with a raw file-system error.
 */
export function checkCacheDir(modelDir?: string): void {
  const dir = cacheDir();
  const hint = 'set AUTOPRUNE_CACHE_DIR to a writable folder';
  const link = danglingLink(dir);
  if (link !== undefined) throw new UsageError(`the cache folder '${dir}' is a symbolic link to '${link}', which does not exist; ${hint}`);
  // The run writes its lock and checkpoints into the cache: never into the input model's folder.
  if (modelDir != null) {
    const real = realPathOf(dir);
    const model = realPathOf(modelDir);
    if (real === model || real.startsWith(model + sep)) throw new UsageError(`the cache folder '${dir}' is the input model's folder '${modelDir}' (or inside it), which is never written to; ${hint} elsewhere`);
  }
  try {
    makeDirs(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'EEXIST' || code === 'ENOTDIR'
      ? `the cache folder '${dir}' is a file, or a folder above it is; ${hint}`
      : `cannot create the cache folder '${dir}' (${code}); ${hint}`);
  }
  if (!statSync(dir).isDirectory()) throw new UsageError(`the cache folder '${dir}' is not a folder; ${hint}`);
  probeWritable(dir, `cannot write the cache folder (${hint})`);
}

/** The files a run reads that an output folder must never hold: the model's folder and data files. */
function inputsOf(opts: AutopruneOptions): { what: string; path: string; folder?: boolean }[] {
  const inputs: { what: string; path: string; folder?: boolean }[] = [];
  if (typeof opts.model === 'string') {
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
    let loaded: LoadedModel | undefined;
    let data: Dataset | undefined;
    let fitted: Dataset | undefined;
    try {
      const onEpoch = (e: { epoch: number; loss: number; epochs?: number; steps?: number }) => opts.onEvent?.({ type: 'epoch', phase: 'dense', epochs: e.epochs ?? TRAIN_DEFAULTS.epochs, step: 0, epoch: e.epoch, loss: e.loss, ...(e.steps != null ? { steps: e.steps } : {}) });
      // A user's model first: its task says how the data's targets are read (one class label, k values, or the inputs).
      if (opts.model != null) {
        loaded = typeof opts.model === 'object'
          ? { model: await cloneModel(opts.model), label: opts.model.name }
          : await this.modelSource.load(opts.model, undefined, { seed, onEpoch, signal: opts.signal });
        checkModelShape(loaded.model, typeof opts.model === 'object' ? undefined : `model '${loaded.label}'`);
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
        loaded = await this.modelSource.load(undefined, data, { seed, onEpoch: (e) => { trained = true; onEpoch(e); }, signal: opts.signal });
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
      fitted = fitDatasetToModel(data, loaded.model, task);
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
      const result: AgentResult = await runAgent(model, fitted, policy.scorer, {
        identity, ...budgetIn,
        target: r.target, maxDrop, force: r.force, seed,
        checkpointDir: ckptDir, resume: r.resume, signal: opts.signal, onEvent: opts.onEvent,
        extractor: this.extractor, backend: { name: backend.name, native: backend.native }, granularity, objective, exclude: r.exclude, distill: r.distill,
        milestones: r.frontier, ...(r.servingBatch != null ? { servingBatch: r.servingBatch } : {}),
      });
      Object.assign(phases, result.phases);
      const prunedFit = targetFit(model, fitted.test, task);
      const prunedRecall = classCount ? classRecall(model, fitted.test, classCount, task) : undefined;
      const prunedLabelRecall = multi ? labelRecall(model, fitted.test, task) : undefined;
      const finite = (v: number) => (Number.isFinite(v) ? v : null);
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
        task: { kind: task.kind, metric: metricName(task.kind), evidence: task.evidence, ...(task.regressionLoss ? { fineTuneLoss: task.regressionLoss } : {}), loss: lossName(taskOf(model)) /* after setTargetWeights: the loss the run used, as the start event says it */, ...(task.kind === 'classification' ? { classNames: [...fitted.classNames] } : {}) },
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
          ...(denseRecall && prunedRecall ? { classes: fitted.classNames.map((name, c) => ({ name, testRows: denseRecall.rows[c], denseRecall: finite(denseRecall.recall[c]), recall: finite(prunedRecall.recall[c]) })) } : {}),
          ...(denseLabelRecall && prunedLabelRecall ? {
            labels: denseLabelRecall.rows.map((n, j) => ({ name: labelNames[j] ?? `label ${j + 1}`, testPositives: n, denseRecall: finite(denseLabelRecall.recall[j]), recall: finite(prunedLabelRecall.recall[j]) })),
          } : {}),
          targetReached: result.targetReached, stopReason: result.stopReason, exitCode: result.exitCode,
          ...(advice ? { advice: advice.text, ...(advice.retry ? { retry: advice.retry } : {}) } : {}),
        },
        guard: {
          rule: `paired on the validation rows against the lower-scoring of the dense model and the dense model fine-tuned like one step (the control): accept when the drop below it ≤ maxDrop + ${result.guard.z} standard errors, the standard errors counting for at most ${(100 * result.guard.final.cap).toFixed(2)} points (two validation rows for right/wrong rows, maxDrop for continuous scores)`,
          valRows: result.guard.valRows, ...(rowScores ? { pointsPerRow: res.pointsPerRow } : {}), maxDrop, z: result.guard.z, noiseCap: 100 * result.guard.final.cap,
          finerThanData: res.finerThanData,
          controlValAccuracy: result.guard.controlValAccuracy, ...(result.guard.fineTunedControlValAccuracy != null ? { fineTunedControlValAccuracy: result.guard.fineTunedControlValAccuracy } : {}), reference: result.guard.reference,
          finalDrop: result.guard.final.drop, finalStandardError: result.guard.final.se, finalAllowedDrop: result.guard.final.allowed,
        },
        ...(r.frontier.length > 0 ? { frontier: frontierRows(r.target, r.frontier, result, params, opts.out != null) } : {}),
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
      for (const m of result.milestones) disposeSnapshot(m.snapshot);
      result.masks.dispose();
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
      loaded?.model.dispose();
      throw err;
    } finally {
      if (fitted && fitted !== data) fitted.dispose();
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
    const why = apart != null && apart >= 3
      ? `; validation and test rows are two samples, but these differ by ${apart.toFixed(1)} standard errors, more than chance makes likely: the validation rows may not stand for new data ` +
        '(rows the model was trained or early-stopped on, in this file\'s validation split but not its test split, or an ordered file): give rows the model never saw with --val-data and --test-data'
      : '; validation and test rows are two samples, and their estimates differ by about that standard error either way: more validation rows (--split, --val-data) make the guard finer, a smaller --max-drop stricter';
    out.push(r.force && report.final.targetReached
      ? `with --force the target was taken at a test drop of ${testDrop.toFixed(2)} points (the test metric, dense − pruned), beyond --max-drop ${r.maxDrop}`
      : `the test split lost ${testDrop.toFixed(2)} points, more than --max-drop ${r.maxDrop}: ${est}${why}`);
  }
  // The dense model far better on the validation rows than on the test rows, before any pruning: validation rows it was
  // trained on (a new user's CNN trained on the whole --data file, given --test-data: 99.50 % on 400 validation rows,
  // 96.10 % on 1,000 test rows), so the guard judged on what it memorised. Rows of a 0/1 metric only (R² has no such SE).
  const nv = report.samples?.val;
  const nt = report.samples?.test;
  if ((task.kind === 'classification' || task.kind === 'multilabel') && nv && nt) {
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
      'so a step can end past the target; report.json layers says what each layer lost' + (flops || latency ? '' : ', and --granularity connection stops within one weight of the target'));
  }
  // A lower target of --targets reached far past it is a frontier point elsewhere than asked (a new user's 0.3 row at 42.8 %).
  if (report.config.granularity !== 'connection') {
    for (const row of report.frontier ?? []) {
      const at = flops ? row.compute?.reduction : row.sparsity;
      if (!row.reached || row.target >= report.config.target || at == null || at - row.target <= OVERSHOOT_NOTE) continue;
      out.push(`the frontier's target ${(100 * row.target).toFixed(1)} % was kept at ${(100 * at).toFixed(1)} % ${flops ? 'of the compute removed' : 'sparsity'}: the step that crossed it ` +
        'removed whole units at once, and its branch to the lower target did too; frontier.json has the row as reached');
    }
  }
  // A class that lost far more recall than the accuracy shows (a rare class the pruned model stopped predicting).
  for (const c of classRecallLosses(report.final.classes ?? [], report.dense.testAccuracy - report.final.testAccuracy, r.maxDrop)) {
    const found = Math.round(c.testRows * c.denseRecall!);
    if (c.recall === 0) {
      out.push(`class '${c.name}' is no longer recalled: none of its ${c.testRows} test rows is predicted as '${c.name}' (the dense model found ${found} of them, ${(100 * c.denseRecall!).toFixed(1)} %)` +
        `${found <= 2 ? `; ${found === 1 ? 'one row' : 'two rows'} can be chance, yet it may mean the pruned model stopped predicting the class` : ''}: accuracy, which the guard compares, weighs each class by its rows (report.json final.classes)`);
      continue;
    }
    out.push(`class '${c.name}' lost ${(100 * (c.denseRecall! - c.recall!)).toFixed(1)} points of test recall (${(100 * c.denseRecall!).toFixed(1)} → ${(100 * c.recall!).toFixed(1)} % of its ${c.testRows} test rows), ` +
      'more than the accuracy shows: accuracy, which the guard compares, weighs each class by its rows (report.json final.classes)');
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
    out.push(`the pruned model's validation ${metricName(task.kind)} is far above the dense model's (${fmt(report.dense.valAccuracy)} → ${fmt(report.final.valAccuracy)}): ` +
      'fine-tuning taught it what its own training did not: either the dense model was under-trained (stopped early), or the data is prepared otherwise than for that training (scaling, columns, label order); ' +
      'in the second case its outputs now answer inputs prepared as here, so check that its users feed it these');
  }
  if (task.kind === 'classification') {
    const floor = majorityShare(fitted.test.labels);
    const rows = fitted.test.labels.length;
    // The pruned model fell to what always answering the most common class scores, where the dense one was above it.
    if (rows > 0 && report.final.testAccuracy <= floor.share + 0.5 / rows && report.dense.testAccuracy > floor.share + 1 / rows) {
      // What it still finds of the other classes, in figures: accuracy alone cannot say whether it stopped predicting them.
      const others = (report.final.classes ?? []).filter((c, k) => k !== floor.label && c.testRows > 0 && c.denseRecall != null && c.recall != null)
        .map((c) => `'${c.name}' ${(100 * c.denseRecall!).toFixed(1)} → ${(100 * c.recall!).toFixed(1)} %`);
      out.push(`the pruned model's test accuracy (${(100 * report.final.testAccuracy).toFixed(2)} %) is no better than always answering the most common class ` +
        `'${fitted.classNames[floor.label] ?? floor.label}' (${(100 * floor.share).toFixed(2)} % of the ${rows} test rows; dense ${(100 * report.dense.testAccuracy).toFixed(2)} %)` +
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
function frontierRows(target: number, frontier: readonly number[], result: AgentResult, params: number, written: boolean): ReportFrontierRow[] {
  const row = (t: number, s: { pruned: number; global: number }, compute: ReportFrontierRow['compute'], val: number, test: number, steps: number, path: string): ReportFrontierRow => ({
    target: t, reached: true, sparsity: s.global, sparsityOfAllParams: params > 0 ? s.pruned / params : 0, valAccuracy: val, testAccuracy: test, compute, fineTuneSteps: steps,
    ...(written ? { path } : {}),
  });
  const rows = frontier.map((t) => {
    const m = result.milestones.find((x) => x.target === t);
    if (m) return row(t, m.sparsity, m.compute, m.valAccuracy, m.testAccuracy, m.fineTuneSteps, frontierPath(t));
    const missed = result.missedMilestones?.find((x) => x.target === t);
    return { target: t, reached: false, ...(missed ? { why: `its branch lost ${(100 * missed.drop).toFixed(2)} validation points, more than the ${(100 * missed.allowed).toFixed(2)} allowed` } : {}) };
  });
  // The final model's own steps: the branches to the lower targets made other models (totals.frontierSteps).
  rows.push({ ...row(target, result.sparsity, result.compute, result.valAccuracy, result.testAccuracy, result.totals.fineTuneSteps - (result.totals.frontierSteps ?? 0), ''), reached: result.targetReached });
  return rows;
}

/** frontier.json: the report's frontier rows, for AutoML tools. */
function frontierJson(report: RunReport): string {
  return `${JSON.stringify({ format: 'autoprune-frontier', metric: report.task?.metric ?? 'accuracy', denseTestAccuracy: report.dense.testAccuracy, rows: report.frontier }, null, 2)}\n`;
}

/** frontier/<t>/model/ and masks.json of every recorded lower target, and frontier.json (the rows, for AutoML tools). */
async function frontierFiles(result: AgentResult, report: RunReport): Promise<OutputFile[]> {
  if (!report.frontier) return [];
  const files: OutputFile[] = [{ relPath: 'frontier.json', data: frontierJson(report) }];
  if (result.milestones.length === 0) return files;
  const pm = result.masks;
  const final = pm.snapshot();
  try {
    for (const m of result.milestones) {
      pm.restore(m.snapshot);
      files.push(...(await modelFiles(pm.model, `${frontierPath(m.target)}model/`)));
      files.push({ relPath: `${frontierPath(m.target)}masks.json`, data: JSON.stringify(masksToJson(pm)) });
    }
  } finally {
    pm.restore(final);
    disposeSnapshot(final);
  }
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
