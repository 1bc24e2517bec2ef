import { signalTurn } from '../util/signal-turn.js';
import { onStopSignals } from '../cli/early-signals.js';
import { AutopruneError, UsageError, withMessage } from '../errors.js';
import { basename, dirname, resolve } from 'node:path';
import { isCsvPath, loadDataset } from '../data/registry.js';
import { loadModel } from '../models/io.js';
import { fitDatasetToModel, taskOf } from '../models/task.js';
import { checkHeldOutRows, checkInputScaling, checkLabelOrder } from '../run-checks.js';
import { buildMeta, fileModelHash, type BuildEvent, type FileModel } from './build.js';
import { FAMILIES } from './zoo.js';

export interface BuildMetaCliArgs {
  family: string;
  out?: string;
  workers?: number;
  /** Redis URL of a BullMQ queue for the jobs (see meta/queue.ts). */
  queue?: string;
  /** Print one JSON object per event instead of progress lines. */
  json?: boolean;
  limitPerDigit?: number;
  maxRowsPerLayerPerStage?: number;
  /** Training samples per oracle candidate epoch (fractional epochs for costly families). */
  candidateSamples?: number;
  /** Recompute rows even when a zoo model's cache folder holds them for these settings. */
  fresh?: boolean;
  /** The user's trained models of the family (model.json files or their folders) instead of a built-in zoo. */
  models?: string[];
  /** With `models`: their data, 'mnist-10k' (default) or a CSV path. */
  data?: string;
  /** With `models` and CSV data: the label column. */
  label?: string;
  /** With `models` and CSV data: columns that are neither inputs nor the label (IDs, dates, text). */
  ignoreColumns?: string[];
  /** With `models` and CSV data: the labels in the models' output order (as `autoprune --label-order`). */
  labelOrder?: string[];
  /** With `models` and CSV data: validation / test rows of their own, instead of a split of `data`. */
  valData?: string;
  testData?: string;
  /** With `models` and CSV data: the seed of the split of `data` (default 0, as `autoprune --split-seed`). */
  splitSeed?: number;
  /** With `models` and CSV data: z-score the input columns over the training rows, as the models were trained (`autoprune --standardize`). */
  standardize?: boolean;
}

/**
 * Per-family build settings behind the shipped datasets. Rows per layer keep each family's files
 * under ~15 MB. The cnn oracle judges its candidates on validation loss after a full epoch: judged
 * on accuracy after half an epoch, ties within one validation sample decided which layer took the
 * early cuts, and the nested masks carried that choice to every later target (docs/oracle.md). The
 * mlp data was built with the original accuracy judge and reproduces with it.
 */
export const FAMILY_BUILD_DEFAULTS: Readonly<Record<string, {
  maxRowsPerLayerPerStage: number;
  oracle?: { candidateSamples?: number; judge?: 'accuracy' | 'loss' };
}>> = Object.freeze({
  mlp: { maxRowsPerLayerPerStage: 1200 },
  cnn: { maxRowsPerLayerPerStage: 2000, oracle: { judge: 'loss' } },
});

/** Settings for a family of the user's own models: the loss judge the cnn rebuild showed to be sounder. */
export const USER_FAMILY_DEFAULTS = Object.freeze({ maxRowsPerLayerPerStage: 1500, oracle: Object.freeze({ judge: 'loss' as const }) });

const familyDefaults = (family: string) => FAMILY_BUILD_DEFAULTS[family] ?? USER_FAMILY_DEFAULTS;

/** The family's oracle settings, with an explicit candidateSamples taking precedence. */
export function familyOracle(family: string, candidateSamples?: number): { candidateSamples?: number; judge?: 'accuracy' | 'loss' } | undefined {
  const o = { ...(familyDefaults(family).oracle ?? {}), ...(candidateSamples != null ? { candidateSamples } : {}) };
  return Object.keys(o).length ? o : undefined;
}

/** Models whose rows came from the cache or the queue this build: their `model-done` time is the earlier build's. */
const reusedRows = new Set<string>();
/** Whether the oracle lines' legend was printed (once per build). */
let explained = false;

function line(e: BuildEvent): string | undefined {
  if (e.type === 'rows-cached') reusedRows.add(e.model);
  switch (e.type) {
    case 'model-start': return `[worker ${e.worker}] ${e.model}: start`;
    case 'model-requeued': return `${e.model}: back on the queue: ${e.reason}`;
    case 'rows-cached': return `${e.model}: ${e.rows} rows from ${e.from === 'queue' ? 'the queue\'s finished job of an earlier build (same model and data contents, same settings)' : 'the cache'} (oracle not rerun; --fresh recomputes)`;
    case 'model-trained': return `${e.model}: dense model ${e.cached ? 'from cache' : `trained in ${e.seconds.toFixed(1)} s`}`;
    case 'model-loaded': return `${e.model}: loaded ${e.path}`;
    case 'oracle-stage': {
      // The first such line says once how to read the winner's name (a new user asked what "wanda:dense_3×2" was).
      const legend = explained ? '' : '\n  (oracle @T → the candidate mask that kept validation best at sparsity T: a criterion\'s own global ranking ' +
        '(global-magnitude, wanda, taylor, …), or "criterion:layer×f", that criterion with the layer keeping f times the weights its allocation gave it; docs/oracle.md)';
      explained = true;
      return `${e.model}: oracle @${e.target} → ${e.winner} (val ${(100 * e.valAccuracy).toFixed(1)} %, ${e.seconds.toFixed(0)} s)${legend}`;
    }
    case 'model-done': return `${e.model}: ${e.rows} rows ${reusedRows.has(e.model) ? `reused (built in ${e.seconds.toFixed(0)} s by an earlier build)` : `in ${e.seconds.toFixed(0)} s`}  [${e.done}/${e.total}]`;
    case 'written': return `wrote ${e.path} and its rows ${e.dataPath} (${e.rows} rows, ${e.seconds.toFixed(0)} s; keep them together: train-policy reads both)`;
    case 'queue-waiting': return e.message;
    default: return undefined;
  }
}

/**
 * Entry point for `autoprune build-meta` (the CLI wires flags to these args). Returns the header
 * path. Progress goes to stderr (lines, or JSON with `json`).
 */
export async function main(args: BuildMetaCliArgs, argv: string[] = process.argv): Promise<string> {
  const dataFlags = { label: args.label, ignoreColumns: args.ignoreColumns, labelOrder: args.labelOrder, valPath: args.valData, testPath: args.testData, seed: args.splitSeed, standardize: args.standardize };
  const userModels = args.models?.length ? await checkUserModels(args.family, args.models, args.data ?? 'mnist-10k', dataFlags, args.json === true) : undefined;
  if (!userModels) {
    if (args.data != null || Object.values(dataFlags).some((v) => v != null)) {
      throw new UsageError(FAMILIES.includes(args.family as never)
        ? '--data, --label, --ignore-columns, --label-order, --val-data, --test-data, --split-seed and --standardize describe the data of --models; the built-in zoos train on MNIST-10k'
        : `--models is missing: family '${args.family}' has no built-in zoo (${FAMILIES.join(', ')}), so build-meta needs your trained models (--models m1/model.json m2/model.json …) to go with --data`);
    }
    if (!FAMILIES.includes(args.family as never)) {
      throw new UsageError(`--family '${args.family}' has no built-in zoo (${FAMILIES.join(', ')}); for your own family pass its trained models with --models m1/model.json m2/model.json … and their --data`);
    }
  }
  const out = args.out ?? `datasets/meta-${args.family}.json`;
  const command = process.env.AUTOPRUNE_COMMAND ?? argv.slice(1).join(' ');
  const fam = familyDefaults(args.family);
  // Ctrl-C / SIGTERM during the build: each finished model's rows are already in the cache, and a rerun reuses them.
  let finishedModels = 0;
  let written = false;
  const total = userModels?.length;
  const offSignals = onStopSignals(() => {
    // A queue build's jobs that no worker started are taken off the queue first (a few seconds at most; the queue module
    // only where a queue build loaded it).
    const withdraw = args.queue ? import('./queue.js').then((q) => q.withdrawUnstartedJobs()) : Promise.resolve(undefined);
    void withdraw.catch(() => undefined).then((withdrawn) => {
      // An in-process build (--workers 1) computes without yielding: a signal is handled when it is done.
      const message = written
        ? `interrupted after the build had finished: ${out} is written and complete`
        : `interrupted: ${finishedModels}${total != null ? ` of ${total}` : ''} models' rows were built and are cached (the same command reuses them)` +
          `${withdrawn ? `; ${withdrawn} job(s) no worker had started were taken off the queue` : ''}; ${out} was not written`;
      if (args.json) process.stdout.write(`${JSON.stringify({ type: 'error', message, exitCode: 130 })}\n`);
      process.stderr.write(`autoprune: ${message}\n`);
      process.exit(130);
    });
  });
  try {
    await buildMeta({
      family: args.family, models: userModels, out, workers: args.workers ?? 2, queue: args.queue, command,
      limitPerDigit: args.limitPerDigit, fresh: args.fresh, maxRowsPerLayerPerStage: args.maxRowsPerLayerPerStage ?? fam.maxRowsPerLayerPerStage,
      oracle: familyOracle(args.family, args.candidateSamples),
      onProgress: (e) => {
        if (e.type === 'model-done') finishedModels = e.done;
        if (args.json) process.stderr.write(JSON.stringify(e) + '\n');
        else { const l = line(e); if (l) process.stderr.write(l + '\n'); }
      },
    });
    written = true;
    // A signal that arrived while the build computed in this process is dispatched now, not dropped with the handler.
    await signalTurn();
  } finally {
    offSignals();
  }
  return out;
}

/**
 * The user's models as meta-dataset sources, checked up front (each loads, and the data fits it) so
 * that bad input fails with one clear error before any worker starts.
 */
async function checkUserModels(
  family: string, paths: string[], spec: string,
  flags: { label?: string; ignoreColumns?: string[]; labelOrder?: string[]; valPath?: string; testPath?: string; seed?: number; standardize?: boolean },
  json = false,
): Promise<FileModel[]> {
  if (!/^[\w.-]+$/.test(family)) throw new UsageError(`--family must be a name of letters, digits, '.', '_' or '-', got '${family}'`);
  // The built-in zoos' names: a user family under one would be merged with the shipped rows of that name by train-policy
  // (a new user's weather MLPs and the MNIST MLPs became one family 'mlp', without a leave-one-family-out check).
  if (FAMILIES.includes(family as never)) {
    throw new UsageError(`--family '${family}' is a built-in zoo's name (${FAMILIES.join(', ')}); name your own family otherwise (e.g. --family my-${family}), so that train-policy keeps it apart from the shipped rows`);
  }
  const { label, ignoreColumns, labelOrder, valPath, testPath, seed, standardize } = flags;
  // The user's models read the CSV's values as they are (as `autoprune --model` does), not z-scored, unless --standardize
  // (z-scores over the training rows, as loadCsv's default); the split is the CLI's (seed 0 unless --split-seed), or the
  // validation / test files the models were not trained on.
  if (standardize && !isCsvPath(spec)) throw new UsageError('--standardize goes with CSV data (--data FILE.csv)');
  const csvOptions = isCsvPath(spec) ? {
    standardize: standardize === true, ...(ignoreColumns?.length ? { ignoreColumns } : {}), ...(labelOrder ? { labelOrder } : {}),
    ...(valPath ? { valPath: resolve(valPath) } : {}), ...(testPath ? { testPath: resolve(testPath) } : {}),
  } : {};
  if (!isCsvPath(spec) && [labelOrder, valPath, testPath].some((v) => v != null)) throw new UsageError('--label-order, --val-data and --test-data go with CSV data (--data FILE.csv)');
  const raw = loadDataset(spec, { label, seed: seed ?? 0, ...csvOptions });
  const used = new Map<string, number>();
  const hashes = new Map<string, string>();
  try {
    const models: FileModel[] = [];
    let heldOutWarned = false;
    for (const path of paths) {
      // The same trained model twice (another path to it, a copy): its rows would count twice in the policy.
      const hash = fileModelHash(path);
      const twin = hashes.get(hash);
      if (twin !== undefined) throw new UsageError(`--models lists the same trained model twice: '${twin}' and '${path}' have identical model files; give each model once`);
      hashes.set(hash, path);
      const model = await loadModel(path);
      const prefix = `build-meta: model '${path}': `;
      try {
        // The oracle labels connections by what pruning them costs a classifier's validation accuracy (or loss over
        // classes): a regression, multi-label or autoencoder model has no rows to give (a new user's regression family
        // was told to pass --task, a flag build-meta has not).
        const task = taskOf(model);
        if (task.kind !== 'classification') throw new UsageError(`${prefix}a ${task.kind} model (${task.evidence}): ${CLASSIFIERS_ONLY}`);
        const fitted = named(prefix, () => {
          try {
            return fitDatasetToModel(raw, model);
          } catch (err) {
            // A one-unit linear output saved without its loss reads as a binary classifier; numeric targets say otherwise.
            if (err instanceof AutopruneError && /looks like a regression target/.test(err.message)) {
              throw new UsageError(`${err.message.replace(/; for a regression model pass --task regression.*$/, '')}; ${CLASSIFIERS_ONLY}`);
            }
            throw err;
          }
        });
        try {
          // Inputs scaled otherwise than in training (z-scores, raw values): the oracle would judge a model at chance, and
          // the label check after this would blame the labels (a new user's z-scored family).
          if (isCsvPath(spec)) named(prefix, () => checkInputScaling(model, fitted, taskOf(model), { data: spec, model: path }, standardize === true, { takesInputScale: false }));
          // … and held-out files prepared otherwise than the data file (the oracle judges on the validation rows).
          if (isCsvPath(spec)) {
            // (Its warnings are about the files, the same for every model: said for the first model only; a refusal is the model's own.)
            named(prefix, () => checkHeldOutRows(fitted, {
              data: spec, ...(valPath ? { valData: valPath } : {}), ...(testPath ? { testData: testPath } : {}),
              onEvent: (e) => {
                if (e.type !== 'warning' || heldOutWarned) return;
                process.stderr.write(json ? `${JSON.stringify(e)}\n` : `autoprune: warning: build-meta: model '${path}': ${e.message}\n`);
              },
            }, model, taskOf(model)));
            heldOutWarned = true;
          }
          // A model that does not fit these labels (0/1 the other way round, names in another order) would give
          // the oracle's judgements of a model at chance: refused as `autoprune --model` refuses it.
          checkLabelOrder(model, fitted, {
            data: spec, model: path, ...(labelOrder ? { labelOrder } : {}),
            // Its warnings (another order fits somewhat better) reach the user as autoprune's do.
            onEvent: (e) => { if (e.type === 'warning') process.stderr.write(json ? `${JSON.stringify(e)}\n` : `autoprune: warning: ${e.message}\n`); },
          }, `build-meta: model '${path}': `);
        } finally {
          if (fitted !== raw) fitted.dispose();
        }
      } finally {
        model.dispose();
      }
      const abs = resolve(path);
      const base = basename(abs.endsWith('.json') ? dirname(abs) : abs);
      const n = used.get(base) ?? 0;
      used.set(base, n + 1);
      models.push({ id: n ? `${base}-${n + 1}` : base, family, path: abs, data: { spec: isCsvPath(spec) ? resolve(spec) : spec, ...(label != null ? { label } : {}), ...(seed != null ? { seed } : {}), ...csvOptions } });
    }
    return models;
  } finally {
    raw.dispose();
  }
}

/** Runs `f`; an error it throws says which model it is about (`prefix`), keeping its class and exit code. */
const CLASSIFIERS_ONLY = 'build-meta builds policy rows for classifiers only (its oracle judges pruning by class accuracy); ' +
  'autoprune prunes such a model with the shipped policies (autoprune --model M --data D, with --task KIND where its model.json names no loss): docs/policy.md, "Retraining on your own model family"';

function named<T>(prefix: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (!(err instanceof AutopruneError) || err.message.startsWith(prefix)) throw err;
    throw withMessage(err, `${prefix}${err.message}`);
  }
}
