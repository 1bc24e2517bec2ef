/**
 * `compact` as a library function (compactPruned): a pruned model folder → the compact model, the sparse (+int8) files and
 * what they measure. The console command that prints it is src/cli/compact.ts.
 */
import type * as TF from '@tensorflow/tfjs';
import { closeSync, existsSync, lstatSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { tf } from './backend/tf.js';
import { AutopruneError, ModelError, UsageError } from './errors.js';
import { checkActivationSize, copyTrainingConfig, jsonFormatOf, loadModel, modelFiles, quantizedStorage, writableFolderFor, type QuantizedStorage } from './models/io.js';
import { csvTargetsOf, fitDatasetToModel, rememberLoss, savedLoss, taskOf } from './models/task.js';
import { isCsvPath, loadDataset, type LoadDatasetOptions } from './data/registry.js';
import { compactModel, type CompactReport } from './pruning/compact.js';
import { excludedIn, loadMasksFrom, MASKS_FILE } from './pruning/mask-io.js';
import { PrunableModel } from './pruning/prunable-model.js';
import { layerPaths, notRunnable } from './pruning/layer-kinds.js';
import { ONE_CHANNEL_MIN_BATCH, oneChannelRewrites, rewriteForSpeed, SERVING_BATCH_DEFAULT, type Rewrite } from './pruning/rewrite.js';
import { decodeSparse, encodeSparse, sizeReport, SPARSE_MAGIC, type SizeReport } from './pruning/sparse-format.js';
import { foreignInside, isAutopruneOutput } from './output-dir.js';
import { realPathOf } from './util/real-path.js';
import { atomicWriteFile, writeOutputsAtomically } from './report/write.js';
import type { CompactLatency } from './report/report.js';
import { sampleLatency, summarize } from './bench/latency.js';


export interface CompactOptions {
  /** Folder to write compact/ and model.sparse into. Default: the autoprune output folder given (a user's own model folder needs it: never written to). */
  out?: string;
  /** Also write model.int8.sparse (int8 kernel values). Default false; an earlier one of this same model is kept either way. */
  int8?: boolean;
  /** Seed of the random inputs the outputs are compared on. Default 0. */
  seed?: number;
  /**
   * The serving rewrites (src/pruning/rewrite.ts): batch norms and activation layers folded into the layer before
   * them, one-channel feature maps computed over fewer, wider positions — the same outputs, faster on TensorFlow's
   * kernels, the layers replaced listed in `rewrites`. Default true; false keeps the compact model layer for layer.
   */
  rewrite?: boolean;
  /**
   * Samples per `predict` call the compact model will be served with: the one-channel rewrites are made from 128 on
   * (below, their extra ops cost what they save). Default 32, tfjs `predict`'s own batch size.
   */
  servingBatch?: number;
  /**
   * Real inputs to compare the outputs on (a run's `--compact` passes up to 256 of its validation rows): random values
   * in [0, 1) understate the int8 error of a model that reads larger values (raw table columns). Not disposed here.
   */
  probe?: { x: TF.Tensor; what: string };
  /**
   * Real rows to compare the outputs on where no `probe` is given, read as a run reads its data: 'mnist-10k' or a CSV
   * file, its columns as the folder's report.json says the run read them (label, ignored columns, input scale,
   * standardization, split) where the folder is an autoprune output, else the defaults; up to 256 rows of its
   * validation split, then of its training split. Without it (and `probe`) the inputs are random, on which a classifier
   * is often sure of its class whatever the weights: the int8 figures then understate what int8 costs on real rows.
   */
  data?: string;
  /**
   * Milliseconds to spend timing `predict` at the serving batch, the pruned model at full shape against the compact model
   * (alternating turns of 10 calls, sampleLatency): what compaction buys on this machine, which MACs alone do not say (a recurrent
   * layer, a model small enough that per-call overhead is its time). Default 0: no timing (the CLI's `compact` and a
   * run's `--compact` give 1500).
   */
  timeBudgetMs?: number;
}

export interface CompactResult {
  /** The model read, and the masks.json applied (null: the model's zeros were the masks). */
  input: { model: string; masks: string | null };
  /** Files written (absolute paths). */
  files: string[];
  /**
   * Files removed: an earlier compaction's model.int8.sparse of another model, where this one wrote no int8 file (it would
   * describe another model). One of this same model is kept (`kept`), its figures given as if `int8` were.
   */
  removed?: string[];
  /** Files an earlier compaction wrote that hold exactly what this one would: left as they were (an earlier model.int8.sparse). */
  kept?: string[];
  /** Global sparsity of the prunable kernels. */
  sparsity: number;
  sizes: SizeReport;
  /**
   * Where the input's file stored its weights quantized (tensorflowjs_converter --quantize_*): the dtypes and the bytes
   * its weights files held. `sizes` counts float32 (tfjs dequantizes on load), so the compact and sparse files can be
   * larger than the input's own; absent for a float32 file.
   */
  inputStored?: QuantizedStorage;
  compact: CompactReport;
  /** Largest |difference| to the masked model's outputs on the probe inputs (`probeInputs`), per stored form. */
  maxAbsDiff: { compact: number; sparse: number; sparseInt8?: number };
  /**
   * The int8 file's predicted classes (highest output) that differ from the masked model's on the probe inputs, for a
   * single-label classifier of several outputs: rows changed of rows probed. What int8 costs a classifier, which
   * `maxAbsDiff` alone does not say.
   */
  int8ClassChanges?: { rows: number; of: number };
  /**
   * One-channel maps the serving rewrites would also rewrite for a serving batch of ONE_CHANNEL_MIN_BATCH or more
   * (`--serving-batch`), left out at the batch asked for (they slow small batches); absent when none.
   */
  largeBatchRewrites?: number;
  /** What the inputs of `maxAbsDiff` were: the run's validation rows (`probe`), or random token ids (an input read by an Embedding) or values in [0, 1). */
  probeInputs: string;
  /**
   * Multiply-accumulates per sample of the kernels: the dense model's, the masked model's live weights' (what
   * report.json's `final.compute` claims), and the compact model's own (what it runs: its zeros included).
   */
  compute: {
    dense: number; live: number; compact: number;
    /**
     * Where the run left kernels out (frozen, `--exclude`d): every kernel's MACs, those counted as they are — the dense
     * model's and what the compact model runs. The figures above count the prunable kernels only, as the run's target did.
     */
    allKernels?: { dense: number; compact: number };
  };
  /** The serving rewrites made (empty with `rewrite: false` or where none applies); `compute.compact` includes the MACs they add. */
  rewrites: Rewrite[];
  /**
   * With `timeBudgetMs`: median ms of one `predict` of `batch` samples (output read back), the pruned model at full shape
   * (its zeros cost what the weights did: tfjs has no sparse kernels) and the compact model, in alternating turns of
   * `runs` calls each, on this machine's default threads; absent for a model of several inputs.
   */
  latency?: CompactLatency;
}

/** `file` relative to the working folder where it lies inside it (how a user names it), else as it is. */
export function asTyped(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? file : rel;
}

/** Where the model and its masks are, for a pruned output folder, a model folder or a model.json. */
export function locate(path: string): { modelFile: string; masksDirs: string[]; outDefault: string } {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new ModelError(`'${path}' does not exist; give a folder written by 'autoprune --out', or a model.json`);
  if (statSync(abs).isDirectory()) {
    if (existsSync(join(abs, 'model', 'model.json'))) return { modelFile: join(abs, 'model', 'model.json'), masksDirs: [abs, join(abs, 'model')], outDefault: abs };
    if (existsSync(join(abs, 'model.json'))) return { modelFile: join(abs, 'model.json'), masksDirs: masksDirsOf(abs), outDefault: outBeside(abs) };
    throw new ModelError(`'${path}' holds neither model/model.json nor model.json; give a folder written by 'autoprune --out', or a model.json`);
  }
  // The file itself, whatever its name (a model saved as net.json is read as such, and a data file is
  // reported as not being a model, instead of its folder's model.json being read or reported missing).
  const modelDir = dirname(abs);
  return { modelFile: abs, masksDirs: masksDirsOf(modelDir), outDefault: outBeside(modelDir) };
}

/** The default output folder for a model in `modelDir`: the run folder above an autoprune output's `model/`, else the model's folder (refused later: it is an input). */
function outBeside(modelDir: string): string {
  const run = dirname(modelDir);
  return basename(modelDir) === 'model' && isAutopruneOutput(run) ? run : modelDir;
}

/**
 * What compact may write into `out` (resolved): never a filesystem root, never the input model's own folder or
 * one inside it (the outputs beside `<run>/model/` go into `<run>`, above it), and it replaces only its own
 * earlier outputs — a `compact/` holding only a saved model, `.sparse` files in autoprune's format.
 */
function checkCompactOut(out: string, modelDir: string, shown: string): void {
  const real = realPathOf(out);
  if (dirname(real) === real) throw new UsageError(`output folder '${shown}' is a filesystem root; choose another --out`);
  const model = realPathOf(modelDir);
  if (real === model || real.startsWith(model + sep)) {
    throw new UsageError(`output folder '${shown}' is the input model's folder '${modelDir}' (or inside it), which is never written to; choose another --out`);
  }
  if (existsSync(real) && !statSync(real).isDirectory()) throw new UsageError(`output path '${shown}' exists and is not a folder; choose another --out`);
  // Another model's folder (through a link too): compact/ and model.sparse beside its model.json would read as that model's.
  if (existsSync(join(real, 'model.json'))) {
    throw new UsageError(`output folder '${shown}' holds a model (model.json): compact writes into no model's folder, whose files its outputs would read as that model's; choose another --out`);
  }
  // Writable, probed where the folder would be made (a path under /proc made a recursive mkdir spin forever).
  writableFolderFor(real, `cannot write output folder '${shown}'`);
  const foreign = foreignInside(real).filter((e) => e.startsWith('compact/'));
  const compact = join(real, 'compact');
  if (existsSync(compact) && !lstatSync(compact).isDirectory()) foreign.push('compact');
  for (const f of ['model.sparse', 'model.int8.sparse']) {
    const p = join(real, f);
    if (existsSync(p) && !isSparseFile(p)) foreign.push(f);
  }
  if (foreign.length > 0) {
    throw new UsageError(`output folder '${shown}' holds ${foreign.join(', ')}, not written by autoprune, which compact would replace; move ${foreign.length === 1 ? 'it' : 'them'} or choose another --out`);
  }
}

/** Whether `p` is a regular file starting with the sparse format's magic bytes. */
function isSparseFile(p: string): boolean {
  try {
    if (!lstatSync(p).isFile()) return false;
    const fd = openSync(p, 'r');
    try {
      const head = Buffer.alloc(SPARSE_MAGIC.length);
      readSync(fd, head, 0, head.length, 0);
      return SPARSE_MAGIC.every((b, i) => head[i] === b);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/**
 * Where a model's masks.json may be: its own folder, and the folder above only for the `model/` folder of an
 * autoprune output (`<out>/model/` beside `<out>/masks.json`): a compact model (`<out>/compact/`) is not the
 * model those masks describe.
 */
function masksDirsOf(modelDir: string): string[] {
  return basename(modelDir) === 'model' ? [modelDir, dirname(modelDir)] : [modelDir];
}

/** The vocabulary size of the Embedding layer that reads input `k` directly (the first layer of a nested model too), if one does. */
function embeddingInputDim(model: TF.LayersModel, k: number): number | undefined {
  const first = (layers: TF.layers.Layer[]) => layers.find((l) => l.getClassName() !== 'InputLayer');
  const vocab = (l: TF.layers.Layer | undefined): number | undefined => {
    if (l?.getClassName() === 'Embedding') return (l.getConfig() as { inputDim?: number }).inputDim;
    const inner = (l as { layers?: TF.layers.Layer[] } | undefined)?.layers;
    return inner ? vocab(first(inner)) : undefined;
  };
  const input = model.inputs[k];
  const readers = model.layers.filter((l) => l.getClassName() !== 'InputLayer' && l.inboundNodes.some((n) => n.inputTensors.includes(input)));
  return (readers.length ? readers : [first(model.layers)]).map(vocab).find((v) => v != null);
}

/**
 * Rows whose predicted class (highest output) differs between two models, for a single-label classifier of one output of
 * several units; undefined for other tasks (regression, multi-label and autoencoders have no one class per row).
 */
function classChanges(a: TF.LayersModel, ref: readonly TF.Tensor[], b: TF.LayersModel, x: TF.Tensor | TF.Tensor[]): { rows: number; of: number } | undefined {
  if (a.outputs.length !== 1 || !((a.outputs[0].shape.at(-1) ?? 0) > 1) || taskOf(a).kind !== 'classification') return undefined;
  return tf.tidy(() => {
    const pa = ref[0], pb = b.predict(x) as TF.Tensor;
    const rows = tf.sum(tf.cast(tf.notEqual(tf.argMax(pa, -1), tf.argMax(pb, -1)), 'int32')).dataSync()[0];
    return { rows, of: pa.size / (pa.shape.at(-1) ?? 1) };
  });
}

/**
 * How far the compact model's and the sparse file's outputs may be from the pruned model's, per unit of the largest
 * output: float rounding of folded batch norms and rewritten convolutions stays near 1e-7 (docs/coverage.md), a unit
 * removed that still mattered moves outputs by 1e-3 and more.
 */
export const EXACT_TOLERANCE = 1e-4;

/** Milliseconds the CLI's `compact` and a run's `--compact` spend timing dense and compact `predict` calls. */
export const COMPACT_TIME_BUDGET_MS = 1500;

/** Largest |difference| between the reference outputs `ref` and model `b`'s on `x` (every output of a multi-output model). */
function maxAbsDiff(ref: readonly TF.Tensor[], b: TF.LayersModel, x: TF.Tensor | TF.Tensor[]): number {
  return tf.tidy(() => {
    const pb = [b.predict(x)].flat();
    return Math.max(...ref.map((p, i) => tf.max(tf.abs(tf.sub(p, pb[i]))).dataSync()[0]));
  });
}

/** Rows compared on at most (CompactOptions.data), as a run's --compact compares on up to 256 validation rows. */
const PROBE_ROWS = 256;

/**
 * The run folder whose report.json describes an autoprune output folder `dir`: `dir` itself, or, for a frontier row
 * (`<run>/frontier/<t>/`, a model and its masks only), the run's folder two levels up. Undefined where neither holds one.
 */
function reportFolderOf(dir: string | undefined): string | undefined {
  if (dir == null) return undefined;
  if (jsonFormatOf(join(dir, 'report.json')) === 'autoprune-report') return dir;
  const run = dirname(dirname(dir));
  return basename(dirname(dir)) === 'frontier' && jsonFormatOf(join(run, 'report.json')) === 'autoprune-report' ? run : undefined;
}

/** How the run's input model stored its weights, where quantized (report.json `dense.stored`). */
function runStored(runDir: string | undefined): QuantizedStorage | undefined {
  if (runDir == null) return undefined;
  try {
    const s = (JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as { dense?: { stored?: QuantizedStorage } }).dense?.stored;
    return s && Array.isArray(s.dtypes) && s.dtypes.every((d) => typeof d === 'string') && Number.isSafeInteger(s.weightBytes) && s.weightBytes > 0 ? s : undefined;
  } catch {
    return undefined;
  }
}

/** A run's report.json `config`; {} where there is no run folder or it is unreadable. */
function runConfig(runDir: string | undefined): Record<string, unknown> {
  if (runDir == null) return {};
  try {
    return (JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as { config?: Record<string, unknown> }).config ?? {};
  } catch {
    return {};
  }
}

/** The column settings of a run's `config` that decide how its data file was read. */
function runColumns(config: Record<string, unknown>): Omit<LoadDatasetOptions, 'targets' | 'valPath' | 'testPath' | 'labelOrder'> {
  const strings = (v: unknown) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? v as string[] : undefined);
  const label = typeof config.label === 'string' ? config.label : strings(config.label);
  const ignoreColumns = strings(config.ignoreColumns);
  const split = Array.isArray(config.split) && config.split.length === 3 && config.split.every((x) => typeof x === 'number') ? config.split as [number, number, number] : undefined;
  return {
    ...(label != null ? { label } : {}), ...(ignoreColumns ? { ignoreColumns } : {}), ...(split ? { split } : {}),
    ...(typeof config.splitSeed === 'number' ? { seed: config.splitSeed } : {}),
    ...(typeof config.standardize === 'boolean' ? { standardize: config.standardize } : {}),
    ...(typeof config.inputScale === 'number' ? { inputScale: config.inputScale } : {}),
  };
}

/** Up to PROBE_ROWS rows of `spec` shaped for `model` (CompactOptions.data): its validation split first, then training rows. */
function probeRows(spec: string, model: TF.LayersModel, runDir: string | undefined): { x: TF.Tensor; what: string } {
  const task = taskOf(model);
  const targets = csvTargetsOf(task);
  const config = runConfig(runDir);
  // Without a run's settings the values are read as they are, as `autoprune --model` reads a CSV by default (loadDataset's
  // own default z-scores them: a new user's int8 error came out 3.4× too large, with a class changed, on z-scored pixels).
  const data = loadDataset(spec, { standardize: false, ...runColumns(config), ...(targets != null && isCsvPath(spec) ? { targets } : {}) });
  try {
    const fitted = fitDatasetToModel(data, model, task);
    try {
      const fromVal = Math.min(PROBE_ROWS, fitted.val.x.shape[0]);
      const fromTrain = Math.min(PROBE_ROWS - fromVal, fitted.train.x.shape[0]);
      const x = tf.tidy(() => tf.concat([tf.slice(fitted.val.x, 0, fromVal), tf.slice(fitted.train.x, 0, fromTrain)]));
      // A run given its own validation or test file split this file otherwise than it splits alone: said so, not "as the run read them".
      // (The validation and test files the run was given beside its data file, report.json config.valData / testData.)
      const separate = [config.valData, config.testData].filter((f): f is string => typeof f === 'string');
      const how = runDir == null ? ' with its values as they are (as autoprune --model reads a CSV without --standardize)' : separate.length ? ` read with the run's column settings (the run's held-out rows came from ${separate.map((f) => `'${f}'`).join(' and ')}; these splits are the file's own)` : ' read as the run read them';
      const what = `${fromVal + fromTrain} rows of '${spec}'${how} (${fromVal} of its validation split${fromTrain ? `, ${fromTrain} of its training split` : ''})`;
      return { x, what };
    } finally {
      if (fitted !== data) fitted.dispose();
    }
  } finally {
    data.dispose();
  }
}

/**
 * Compacts a pruned model (see src/pruning/compact.ts) and exports it sparse: writes
 * `<out>/compact/` (model.json + weights.bin), `<out>/model.sparse` and, with `int8`,
 * `<out>/model.int8.sparse`, each atomically. The input files are only read.
 */
export async function compactPruned(path: string, opts: CompactOptions = {}): Promise<CompactResult> {
  const { modelFile, masksDirs, outDefault } = locate(path);
  const modelDir = dirname(modelFile);
  // By default the outputs go beside the pruned model of an autoprune output folder; a user's own model folder
  // (no report.json or masks.json there) is an input, never written to.
  const ours = masksDirs.some(isAutopruneOutput);
  const out = resolve(opts.out ?? outDefault);
  const compactDir = join(out, 'compact');
  const rel = relative(compactDir, modelDir);
  const outside = rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
  if (!outside) {
    throw new UsageError(`writing '${compactDir}' would replace the input model '${modelDir}'; choose another --out`);
  }
  // Named as the user would type it (relative to the working folder where it is inside it), as the prune run names it.
  const model = await loadModel(asTyped(modelFile));
  try {
    // Its forward passes (the probe rows, the timing) hold one copy of the layer outputs per row.
    checkActivationSize(`model '${modelFile}'`, model, { copies: 1, what: 'to run it on one sample' });
  } catch (err) {
    model.dispose();
    throw err;
  }
  // A quantized input's own bytes: the model's file's, or, for a run's folder (its model/ is float32), the run's input's.
  const runDir = reportFolderOf(masksDirs.find(isAutopruneOutput));
  const stored = quantizedStorage(model) ?? runStored(runDir);
  const cannotRun = notRunnable(model);
  if (cannotRun) {
    model.dispose();
    throw new ModelError(`model '${modelFile}': ${cannotRun}; autoprune cannot compact it`);
  }
  if (opts.out == null && !ours) {
    model.dispose();
    const what = path.endsWith('.json') ? `'${path}' is a model file, in '${modelDir}',` : `'${path}' is a model folder,`;
    throw new UsageError(`${what} not an autoprune output (no report.json or masks.json): compact writes nothing into a model's own folder; give --out`);
  }
  // Another run's folder (its report.json / masks.json describe its own model) or a frontier row of one: its compact/
  // would then be this model's, beside files that say otherwise (a new user's compact of a 0.9 run into the 0.5 row).
  if (opts.out != null && existsSync(out) && isAutopruneOutput(out) && realPathOf(out) !== realPathOf(resolve(outDefault))) {
    model.dispose();
    throw new UsageError(`output folder '${opts.out}' is another autoprune run's output (its report.json / masks.json describe its own model), whose compact/ would then be this model's; choose another --out`);
  }
  try {
    checkCompactOut(out, modelDir, opts.out ?? out);
  } catch (err) {
    model.dispose();
    throw err;
  }
  const disposables: { dispose(): void }[] = [model];
  try {
    if (!opts.probe && opts.data != null) {
      opts = { ...opts, probe: probeRows(opts.data, model, runDir) };
      disposables.push(opts.probe!.x);
    }
    const pm = new PrunableModel(model);
    disposables.push(pm);
    const masksDir = masksDirs.find((d) => loadMasksFrom(pm, d));
    const { model: sliced, report } = compactModel(model, pm);
    disposables.push(sliced);
    const { model: compact, rewrites } = opts.rewrite === false ? { model: sliced, rewrites: [] } : rewriteForSpeed(sliced, { batch: opts.servingBatch });
    if (compact !== sliced) disposables.push(compact);
    // Served below the batch the one-channel rewrites pay from, they were not made: how many a larger serving batch would make.
    const moreAtLargeBatch = opts.rewrite !== false && (opts.servingBatch ?? SERVING_BATCH_DEFAULT) < ONE_CHANNEL_MIN_BATCH ? oneChannelRewrites(compact) : 0;
    // The compact model keeps the loss the model.json named (its task: a regression model is not read as logits next time).
    rememberLoss(compact, lossNamed(model));
    // … and its optimizer's settings and metrics (a Keras model's Adam at 0.005 and `mae`), compiled as the pruned model was.
    copyTrainingConfig(model, compact);
    const sizes = sizeReport(model, { compact });
    const sparse = encodeSparse(model);
    const int8Path = join(out, 'model.int8.sparse');
    // An earlier compaction's int8 file of this same model (a run's --compact writes one) is kept, and its figures given,
    // as if --int8 were given: compacting again (e.g. with --data) does not take it away. One of another model is removed below.
    const earlierInt8 = !opts.int8 && existsSync(int8Path) && isSparseFile(int8Path) ? encodeSparse(model, { int8: true }) : undefined;
    const keptInt8 = earlierInt8 != null && Buffer.from(earlierInt8).equals(readFileSync(int8Path));
    const sparseInt8 = opts.int8 ? encodeSparse(model, { int8: true }) : keptInt8 ? earlierInt8 : undefined;

    let tokens = false;
    const xs = opts.probe && model.inputs.length === 1 ? [opts.probe.x] : model.inputs.map((input, k) => {
      const shape = input.shape.slice(1);
      if (shape.some((d) => d == null)) throw new ModelError(`model '${modelFile}' has an input of unknown shape [${shape.map((d) => d ?? 'null').join(', ')}]; compaction needs a fixed input shape`);
      // Token ids for an Embedding input (floats in [0, 1) would all be id 0: padding, with maskZero), else values in [0, 1).
      const vocab = embeddingInputDim(model, k);
      if (vocab != null) tokens = true;
      const t = vocab != null
        ? tf.tidy(() => tf.floor(tf.randomUniform([32, ...(shape as number[])], 0, vocab, 'float32', (opts.seed ?? 0) + k)))
        : tf.randomUniform([32, ...(shape as number[])], 0, 1, 'float32', (opts.seed ?? 0) + k);
      disposables.push(t);
      return t;
    });
    const x = xs.length === 1 ? xs[0] : xs;
    const fromSparse = await decodeSparse(sparse, join(out, 'model.sparse'));
    disposables.push(fromSparse);
    // The pruned model's outputs, once: every form is compared with them.
    const ref = [model.predict(x)].flat();
    disposables.push(...ref);
    const diff: CompactResult['maxAbsDiff'] = { compact: maxAbsDiff(ref, compact, x), sparse: maxAbsDiff(ref, fromSparse, x) };
    let int8ClassChanges: CompactResult['int8ClassChanges'];
    if (sparseInt8) {
      const fromInt8 = await decodeSparse(sparseInt8, join(out, 'model.int8.sparse'));
      disposables.push(fromInt8);
      diff.sparseInt8 = maxAbsDiff(ref, fromInt8, x);
      int8ClassChanges = classChanges(model, ref, fromInt8, x);
    }

    // The compact model and the sparse file are the pruned model with nothing but its zeros taken out: outputs apart by
    // more than float rounding are a compaction bug, and nothing is written rather than a model that predicts otherwise.
    const probeWhat = opts.probe && model.inputs.length === 1 ? opts.probe.what : tokens ? '32 random token ids' : '32 random inputs in [0, 1)';
    const scale = tf.tidy(() => Math.max(...ref.map((p) => tf.max(tf.abs(p)).dataSync()[0])));
    const tolerance = EXACT_TOLERANCE * (1 + scale);
    for (const [what, d] of [['compact model', diff.compact], ['sparse export', diff.sparse]] as const) {
      if (!(d <= tolerance)) {
        throw new AutopruneError(`the ${what} does not reproduce the pruned model '${modelFile}': its outputs differ by up to ${d.toExponential(2)} on ${probeWhat} ` +
          `(float rounding stays under ${tolerance.toExponential(1)}); nothing is written: a defect of autoprune's compaction for this model, please report it`);
      }
    }

    const written = await writeOutputsAtomically(compactDir, await modelFiles(compact), { overwrite: true });
    const files = [...written.files];
    const removed: string[] = [];
    const kept: string[] = [];
    await atomicWriteFile(join(out, 'model.sparse'), sparse);
    files.push(join(out, 'model.sparse'));
    if (keptInt8) {
      // The same bytes as this compaction's: left as they are (not written again), and said so.
      kept.push(int8Path);
    } else if (sparseInt8) {
      await atomicWriteFile(int8Path, sparseInt8);
      files.push(int8Path);
    } else if (earlierInt8) {
      // An earlier compaction's int8 file of another model no longer matches compact/ and model.sparse.
      rmSync(int8Path);
      removed.push(int8Path);
    }
    // The figures count what the run counted: frozen layers (trainable: false) and the kernels its --exclude left out,
    // which the run leaves dense, are not prunable kernels (the compaction above still slices them where the units
    // around them go).
    const exclude = excludedIn(masksDirs);
    const counted = (m: TF.LayersModel) => { try { return new PrunableModel(m, { frozen: 'exclude', exclude }); } catch { return new PrunableModel(m); } };
    const view = counted(model);
    disposables.push(view);
    const claimed = view.compute();
    const sparsity = view.sparsity().global;
    const cpm = counted(compact);
    const compactMacs = cpm.layers.reduce((a, l) => a + l.size * l.macsPerWeight, 0);
    // The kernels left out run at their (compact) shape, all their weights: what the whole compact model runs.
    const held = cpm.compute();
    cpm.dispose();
    const allKernels = claimed.allKernels ? { dense: claimed.allKernels.dense, compact: compactMacs + (held.allKernels?.dense ?? held.dense) - held.dense } : undefined;
    // The weights of the model written (a batch norm folded away, a phase convolution's larger kernel).
    const paramsWritten = compact.countParams();
    // Per layer too: a batch norm folded into a layer gives it a bias (or changes its kernel), which the slicing's count missed.
    const paramsOf = new Map([...layerPaths(compact)].map(([l, path]) => [path, l.countParams()]));
    const layers = report.layers.map((l) => (paramsOf.has(l.name) ? { ...l, paramsAfter: paramsOf.get(l.name)! } : l));
    // The pruned model is timed with the serving rewrites the compact one got (batch norms folded, …), as the benchmark
    // times its dense models: the speed-up is then pruning's, not the folding's (a new user's MobileNet: 2.01× printed, of
    // which the folding alone gave 1.5×).
    let latency: CompactResult['latency'];
    if (opts.timeBudgetMs && model.inputs.length === 1) {
      const served = rewrites.length > 0 ? rewriteForSpeed(model, { batch: opts.servingBatch }) : undefined;
      try {
        latency = timeBoth(served?.model ?? model, compact, opts.servingBatch ?? SERVING_BATCH_DEFAULT, opts.timeBudgetMs);
        if (latency && served && served.rewrites.length > 0) latency = { ...latency, sameRewrites: true };
      } finally {
        if (served && served.model !== model) served.model.dispose();
      }
    }
    return {
      input: { model: modelFile, masks: masksDir ? join(masksDir, MASKS_FILE) : null },
      files, ...(removed.length ? { removed } : {}), ...(kept.length ? { kept } : {}), sparsity, sizes, ...(stored ? { inputStored: stored } : {}), compact: { ...report, layers, paramsAfter: paramsWritten }, maxAbsDiff: diff, ...(int8ClassChanges ? { int8ClassChanges } : {}),
      ...(moreAtLargeBatch > 0 ? { largeBatchRewrites: moreAtLargeBatch } : {}),
      probeInputs: opts.probe && model.inputs.length === 1 ? opts.probe.what : tokens ? 'token ids below the Embedding\'s vocabulary size' : 'values in [0, 1)',
      compute: { dense: claimed.dense, live: claimed.live, compact: compactMacs, ...(allKernels ? { allKernels } : {}) }, rewrites, ...(latency ? { latency } : {}),
    };
  } finally {
    for (const d of disposables.reverse()) d.dispose();
  }
}

/**
 * Times `predict` of the pruned model and of the compact model at `batch` samples a call, in alternating turns, within
 * about `budgetMs` (at least 3 calls each, at most 50); undefined for an input of unknown length.
 */
function timeBoth(model: TF.LayersModel, compact: TF.LayersModel, batch: number, budgetMs: number): CompactResult['latency'] {
  const dims = model.inputs[0].shape.slice(1);
  // An input of unknown length (compared on the run's probe rows) has no shape to time at: not timed.
  if (dims.some((d) => d == null)) return undefined;
  const shape = dims as number[];
  const once = sampleLatency([model], shape, { batch, runs: 1, warmup: 1, block: 1 })[0][0];
  // Whole turns of `block` calls each (50 is 5 of 10): a last turn of one call would set the spread by itself.
  const fit = Math.max(3, Math.min(50, Math.floor(budgetMs / Math.max(1e-3, 2 * once))));
  const block = Math.min(10, fit);
  const runs = Math.floor(fit / block) * block;
  const [denseTimes, smallTimes] = sampleLatency([model, compact], shape, { batch, runs, warmup: 2, block });
  const median = (t: number[]) => summarize(t, batch).medianMs;
  // Each turn's ratio of medians: the spread says what the machine's load does to the figure.
  const turns = Array.from({ length: Math.ceil(runs / block) }, (_, i) => median(denseTimes.slice(i * block, (i + 1) * block)) / Math.max(1e-9, median(smallTimes.slice(i * block, (i + 1) * block))));
  return {
    batch, runs, denseMs: median(denseTimes), compactMs: median(smallTimes),
    ...(turns.length >= 2 ? { speedUpRange: { low: Math.min(...turns), high: Math.max(...turns), turns: turns.length } } : {}),
  };
}

/** The loss a loaded model's file named: its training config's, or one autoprune remembered at load. */
function lossNamed(model: TF.LayersModel): string | undefined {
  const remembered = savedLoss(model);
  if (remembered) return remembered;
  try {
    const m = model as unknown as { optimizer?: unknown; getTrainingConfig(): { loss?: unknown } };
    const loss = m.optimizer != null ? m.getTrainingConfig().loss : undefined;
    return typeof loss === 'string' ? loss : undefined;
  } catch {
    return undefined;
  }
}
