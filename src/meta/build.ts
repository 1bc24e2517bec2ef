import { signalTurn } from '../util/signal-turn.js';
import type * as TF from '@tensorflow/tfjs';
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, PACKAGE_ROOT } from '../backend/tf.js';
import type { Split } from '../data/dataset.js';
import { UsageError } from '../errors.js';
import { extractFeatures } from '../features/extract.js';
import { FEATURE_SCHEMA } from '../features/schema.js';
import type { ConnectionFeatures } from '../features/types.js';
import { loadDataset } from '../data/registry.js';
import { loadModel } from '../models/io.js';
import { fitDatasetToModel } from '../models/task.js';
import { accuracy } from '../models/train.js';
import { PrunableModel } from '../pruning/prunable-model.js';
import { Rng } from '../util/random.js';
import { META_COLUMNS, metaDataPath, writeMeta, type MetaHeader, type MetaModelInfo } from './format.js';
import { gradedLabels, ORACLE_DEFAULTS, runOracle, type OracleOptions } from './oracle.js';
import { saveOracleResult } from './oracle-cache.js';
import { loadModelRows, saveModelRows } from './rows-cache.js';
import { checkZooModel, loadOrTrainZooModel, modelCacheDir, zoo, zooCacheKey, zooData, type ZooModel } from './zoo.js';

/** Settings of one model's share of a meta-dataset (plain data: it crosses into worker processes). */
export interface ModelJobOptions {
  /** Oracle settings (targets, fine-tuning epochs, …). Default: ORACLE_DEFAULTS. */
  oracle?: Omit<OracleOptions, 'onEvent' | 'onStage'>;
  /** Stages sampled, as oracle targets; 0 = the dense model. Default [0, 0.5, 0.8, 0.9]. */
  stages?: number[];
  /** At most this many sampled connections per layer per stage. Default 1500. */
  maxRowsPerLayerPerStage?: number;
  /** Calibration samples for feature extraction (from the training split). Default 1024. */
  calibSamples?: number;
  /** Keep only n samples per digit and split of MNIST-10k (tests). Default: all. */
  limitPerDigit?: number;
  /** Model cache folder. Default modelCacheDir(). */
  cacheDir?: string;
  /** Recompute every model's rows even when its cache folder holds them for these settings. */
  fresh?: boolean;
}

/**
 * A trained model of the user's own family, read from disk (never written), with the data it was
 * trained on: build-meta runs the oracle on it as it does on a zoo model, without training anything.
 */
export interface FileModel {
  /** Row id in the meta-dataset, e.g. the model's folder name. */
  id: string;
  /** The user's name for the family (the leave-one-family-out split of train-policy uses it). */
  family: string;
  /** Path of model.json (or its folder). */
  path: string;
  /** The data: 'mnist-10k' or a CSV path, with the CSV options of `autoprune --data`. */
  data: { spec: string; label?: string; ignoreColumns?: string[]; valPath?: string; testPath?: string; seed?: number; standardize?: boolean };
}

/** A meta-dataset source: a built-in zoo entry (trained and cached here) or a user's trained model. */
export type MetaModel = ZooModel | FileModel;

export const isFileModel = (m: MetaModel): m is FileModel => 'path' in m;

/** The bytes of a model file and its weight files, hashed: the same trained model whatever path or name it is given by. */
export function fileModelHash(path: string): string {
  let file = resolve(path);
  if (existsSync(file) && statSync(file).isDirectory()) {
    file = join(file, 'model.json');
    if (!existsSync(file)) {
      // An autoprune output folder keeps its model in model/ (a glob over the folder would take masks.json and report.json too).
      const inner = existsSync(join(file, '..', 'model', 'model.json')) ? join(path, 'model') : undefined;
      throw new UsageError(`model folder '${path}' holds no model.json; give each model's model.json (or its folder) to --models, e.g. --models ${inner ?? join(path, '*', 'model.json')}`);
    }
  }
  if (!existsSync(file)) throw new UsageError(`model file '${path}' does not exist`);
  const h = createHash('sha256').update(readFileSync(file));
  let manifest: { weightsManifest?: { paths: string[] }[] } = {};
  try { manifest = JSON.parse(readFileSync(file, 'utf8')) as typeof manifest; } catch { /* loadModel reports it */ }
  for (const g of manifest.weightsManifest ?? []) {
    for (const w of g.paths) if (existsSync(join(dirname(file), w))) h.update(readFileSync(join(dirname(file), w)));
  }
  return h.digest('hex').slice(0, 16);
}

/** Cache key of a user model: its bytes (fileModelHash) and its data spec. */
function fileModelKey(m: FileModel, modelHash: string): string {
  const h = createHash('sha256').update(modelHash);
  h.update(JSON.stringify(m.data));
  // The data files' bytes too: the same path with other rows or labels is other data (a cache hit on the path
  // alone served the old rows).
  for (const f of [m.data.spec, m.data.valPath, m.data.testPath]) {
    if (f != null && existsSync(f) && statSync(f).isFile()) h.update(readFileSync(f));
  }
  return `user-${m.id.replace(/[^\w.-]+/g, '_')}-${h.digest('hex').slice(0, 10)}`;
}

/**
 * What a model's rows depend on besides the build settings: a user model's bytes and its data files' contents
 * (fileModelKey), a zoo model's recipe. The local cache's folder and the queue's job id are both keyed on it, so that
 * a changed model or CSV at the same path is never served the old rows.
 */
export function metaModelKey(m: MetaModel, limitPerDigit?: number): string {
  return isFileModel(m) ? fileModelKey(m, fileModelHash(m.path)) : zooCacheKey(m, limitPerDigit);
}

export const BUILD_DEFAULTS = Object.freeze({
  stages: [0, 0.5, 0.8, 0.9],
  maxRowsPerLayerPerStage: 1500,
  calibSamples: 1024,
});

export type BuildEvent =
  | { type: 'model-start'; model: string; worker: number | string }
  | { type: 'model-requeued'; model: string; reason: string }
  | { type: 'model-trained'; model: string; seconds: number; cached: boolean }
  | { type: 'model-loaded'; model: string; path: string }
  | { type: 'rows-cached'; model: string; rows: number; from?: 'cache' | 'queue' }
  | { type: 'oracle-candidate'; model: string; target: number; name: string; valAccuracy: number }
  | { type: 'oracle-stage'; model: string; target: number; winner: string; valAccuracy: number; seconds: number }
  | { type: 'model-done'; model: string; rows: number; seconds: number; done: number; total: number }
  | { type: 'written'; path: string; rows: number; seconds: number; /** The rows file beside the header (NAME.bin.gz), which train-policy reads with it. */ dataPath: string }
  /** A distributed build waiting on something other than a model: no worker on the queue yet, Redis out of reach. */
  | { type: 'queue-waiting'; message: string };

export interface ModelRows {
  info: Omit<MetaModelInfo, 'index'>;
  /** Row-major rows with the `model` column left at 0 (set when the dataset is assembled). */
  data: Float32Array;
}

const NUM_COLS = FEATURE_SCHEMA.names.length + META_COLUMNS.length;

/** Drops undefined fields so that `{ ...DEFAULTS, ...defined(opts) }` keeps the defaults. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Deterministic sample of up to `max` positions out of `n` (sorted). */
function samplePositions(n: number, max: number, rng: Rng): Int32Array {
  if (n <= max) return Int32Array.from({ length: n }, (_, i) => i);
  return rng.permutation(n).subarray(0, max).slice().sort();
}

interface PendingStage { stageIndex: number; sparsity: number; layer: number; layerSize: number; live: number; indices: Int32Array; values: Float32Array[] }

/**
 * One model's rows: train (or load) the model, run the oracle, and at each sampled stage read the
 * features of a stratified sample of live connections; label them with the oracle's graded labels.
 */
export async function buildModelRows(m: MetaModel, options: ModelJobOptions = {}, onEvent?: (e: BuildEvent) => void): Promise<ModelRows> {
  const o = { ...BUILD_DEFAULTS, ...defined(options) };
  const oracleOpts = { ...ORACLE_DEFAULTS, ...(o.oracle ?? {}) };
  const file = isFileModel(m);
  if (!file) checkZooModel(m);
  const t0 = Date.now();
  // A user's model is read and hashed once: its identity (modelHash in the meta header) and, with its data, the cache key.
  const modelHash = file ? fileModelHash(m.path) : undefined;
  const key = file ? fileModelKey(m, modelHash!) : zooCacheKey(m, o.limitPerDigit);
  const dir = join(o.cacheDir ?? modelCacheDir(), key);
  const cacheKey = {
    oracle: oracleOpts, stages: o.stages, maxRowsPerLayerPerStage: o.maxRowsPerLayerPerStage, calibSamples: o.calibSamples,
    featureSchema: { version: FEATURE_SCHEMA.version, names: FEATURE_SCHEMA.names }, limitPerDigit: o.limitPerDigit ?? null,
  };
  if (!o.fresh) {
    const hit = loadModelRows(dir, cacheKey);
    // Rows cached before model hashes were recorded get theirs now.
    if (hit && modelHash && hit.info.modelHash == null) hit.info.modelHash = modelHash;
    if (hit) {
      onEvent?.({ type: 'rows-cached', model: m.id, rows: hit.info.rows });
      return hit;
    }
  }
  // (The data's spec is loadDataset's first argument, the rest its options.)
  const fromFile = (d: FileModel['data']) => { const { spec, ...options } = d; return loadDataset(spec, { ...options, seed: d.seed ?? 0 }); };
  const raw = file ? fromFile(m.data) : zooData(m, o.limitPerDigit);
  const pending: PendingStage[] = [];
  try {
    let model: TF.LayersModel;
    if (file) {
      model = await loadModel(m.path);
      onEvent?.({ type: 'model-loaded', model: m.id, path: m.path });
    } else {
      const z = await loadOrTrainZooModel(m, raw, {
        cacheDir: o.cacheDir, limitPerDigit: o.limitPerDigit,
        onTrained: (seconds) => onEvent?.({ type: 'model-trained', model: m.id, seconds, cached: false }),
      });
      model = z.model;
      if (z.cached) onEvent?.({ type: 'model-trained', model: m.id, seconds: 0, cached: true });
    }
    const data = fitDatasetToModel(raw, model);
    const calibN = Math.min(o.calibSamples, data.train.labels.length);
    const calib: Split = { x: tf.slice(data.train.x, 0, calibN), labels: data.train.labels.subarray(0, calibN) };
    const pm = new PrunableModel(model);
    const rng = new Rng((file ? parseInt(key.slice(-8), 16) : (m.args.seed ?? 0)) * 7919 + 17);
    const sample = (stageIndex: number, sparsity: number): void => {
      const f: ConnectionFeatures = extractFeatures(pm, calib, { maxSamples: calibN });
      for (const lf of f.layers) {
        const pos = samplePositions(lf.count, o.maxRowsPerLayerPerStage, rng);
        pending.push({
          stageIndex, sparsity, layer: lf.layer, layerSize: pm.layers[lf.layer].size, live: lf.count,
          indices: Int32Array.from(pos, (p) => lf.indices[p]),
          values: lf.columns.map((col) => Float32Array.from(pos, (p) => col[p])),
        });
      }
    };
    try {
      const denseValAccuracy = accuracy(model, data.val);
      if (o.stages.includes(0)) sample(-1, 0);
      const result = await runOracle(pm, data, {
        ...oracleOpts,
        onEvent: (e) => {
          if (e.type === 'candidate') onEvent?.({ type: 'oracle-candidate', model: m.id, target: e.target, name: e.candidate.name, valAccuracy: e.candidate.valAccuracy });
          else onEvent?.({ type: 'oracle-stage', model: m.id, target: e.stage.target, winner: e.stage.winner, valAccuracy: e.stage.valAccuracy, seconds: e.stage.seconds });
        },
        onStage: (stage) => {
          // The last target has no later target to label against.
          if (stage.index < oracleOpts.targets.length - 1 && o.stages.some((s) => Math.abs(s - stage.target) < 1e-9)) {
            sample(stage.index, stage.target);
          }
        },
      });
      saveOracleResult(dir, { ...oracleOpts, calibSamples: oracleOpts.calibSamples }, result);
      const T = result.targets.length;
      let rows = 0;
      for (const p of pending) rows += p.indices.length;
      const out = new Float32Array(rows * NUM_COLS);
      const F = FEATURE_SCHEMA.names.length;
      let r = 0;
      for (const p of pending) {
        const labels = gradedLabels(result.removedAt[p.layer], T, p.stageIndex);
        const weight = p.live / p.indices.length;
        for (let k = 0; k < p.indices.length; k++, r++) {
          const base = r * NUM_COLS;
          for (let c = 0; c < F; c++) out[base + c] = p.values[c][k];
          out[base + F] = labels[p.indices[k]];
          out[base + F + 1] = weight;
          out[base + F + 2] = 0;
          out[base + F + 3] = p.layer;
          out[base + F + 4] = p.sparsity;
        }
      }
      const rowsOut: ModelRows = {
        data: out,
        info: {
          id: m.id, family: m.family, args: file ? { path: m.path, data: m.data } : m.args, epochs: file ? 0 : m.epochs, cacheKey: key,
          ...(modelHash ? { modelHash } : {}), denseValAccuracy,
          oracle: result.stages.map((s) => ({
            target: s.target, sparsity: s.sparsity, winner: s.winner, valAccuracy: s.valAccuracy, layerSparsity: s.layerSparsity,
            candidates: s.candidates.map((c) => ({ name: c.name, valAccuracy: c.valAccuracy, valLoss: Number(c.valLoss.toFixed(4)) })),
          })),
          layers: pm.layers.map((l) => ({ name: l.name, kind: l.kind, size: l.size })),
          rows, seconds: (Date.now() - t0) / 1000,
        },
      };
      saveModelRows(dir, cacheKey, rowsOut);
      return rowsOut;
    } finally {
      pm.dispose();
      calib.x.dispose();
      if (data !== raw) data.dispose();
      model.dispose();
    }
  } finally {
    raw.dispose();
  }
}

export interface BuildMetaOptions extends ModelJobOptions {
  /** Model family of the zoo. */
  family: string;
  /** Zoo models to use. Default: the family's built-in zoo (see zoo.ts). */
  models?: readonly MetaModel[];
  /**
   * Worker processes; 1 = in this process. Default 2. With `queue`: worker processes started on this
   * machine for the build (0 = only workers started elsewhere with `autoprune worker --queue`).
   */
  workers?: number;
  /** Redis URL of a BullMQ queue (redis://HOST:PORT): jobs go there, to workers on any machine. */
  queue?: string;
  /** Header path (…/meta-FAMILY.json); the rows go next to it as .bin. */
  out: string;
  /** The command line recorded in the header. */
  command?: string;
  onProgress?: (e: BuildEvent) => void;
}

/** Compiled worker module (dist/meta/worker.js). */
function workerPath(): string {
  const here = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(here)) return here;
  const dist = join(PACKAGE_ROOT, 'dist', 'meta', 'worker.js');
  if (existsSync(dist)) return dist;
  throw new UsageError('building with workers > 1 needs the compiled worker dist/meta/worker.js: run npm run build first (or use workers: 1)');
}

/**
 * Builds a family's meta-dataset: every zoo model's rows (in parallel worker processes when
 * workers > 1), concatenated in zoo order and written as header + rows. Returns the header.
 */
export async function buildMeta(options: BuildMetaOptions): Promise<MetaHeader> {
  const t0 = Date.now();
  const models = options.models ?? zoo(options.family);
  if (models.length === 0) throw new UsageError(`no models to build the '${options.family}' meta-dataset from`);
  for (const m of models) if (!isFileModel(m)) checkZooModel(m);
  const ids = new Set<string>();
  for (const m of models) {
    if (ids.has(m.id)) throw new UsageError(`two models of the meta-dataset share the id '${m.id}'; ids must be unique`);
    ids.add(m.id);
  }
  const job: ModelJobOptions = {
    oracle: options.oracle, stages: options.stages, maxRowsPerLayerPerStage: options.maxRowsPerLayerPerStage,
    calibSamples: options.calibSamples, limitPerDigit: options.limitPerDigit, cacheDir: options.cacheDir, fresh: options.fresh,
  };
  const results: ModelRows[] = new Array(models.length);
  let done = 0;
  const finished = (i: number, r: ModelRows): void => {
    results[i] = r;
    done++;
    options.onProgress?.({ type: 'model-done', model: models[i].id, rows: r.info.rows, seconds: r.info.seconds, done, total: models.length });
  };
  const workers = Math.max(1, Math.min(options.workers ?? 2, models.length));
  if (options.queue != null) {
    const { runOnQueue } = await import('./queue.js');
    await runOnQueue(models, job, { url: options.queue, localWorkers: Math.max(0, Math.min(options.workers ?? 2, models.length)), onProgress: options.onProgress }, finished);
  } else if (workers === 1) {
    for (let i = 0; i < models.length; i++) {
      options.onProgress?.({ type: 'model-start', model: models[i].id, worker: 0 });
      finished(i, await buildModelRows(models[i], job, options.onProgress));
      // Ctrl-C is handled after the model in hand, with its rows cached, rather than after the whole in-process build.
      await signalTurn();
    }
  } else {
    await runInWorkers(models, job, workers, options.onProgress, finished);
  }

  const o = { ...BUILD_DEFAULTS, ...defined(job) };
  const rows = results.reduce((a, r) => a + r.info.rows, 0);
  const data = new Float32Array(rows * NUM_COLS);
  const modelCol = FEATURE_SCHEMA.names.length + 2;
  let off = 0;
  const infos: MetaModelInfo[] = results.map((r, i) => {
    data.set(r.data, off);
    for (let k = 0; k < r.info.rows; k++) data[off + k * NUM_COLS + modelCol] = i;
    off += r.data.length;
    return { index: i, ...r.info };
  });
  const header = writeMeta(options.out, {
    family: options.family,
    featureSchema: { version: FEATURE_SCHEMA.version, names: [...FEATURE_SCHEMA.names] },
    columns: [...FEATURE_SCHEMA.names, ...META_COLUMNS],
    targets: (o.oracle?.targets ?? ORACLE_DEFAULTS.targets).slice(),
    stages: o.stages.slice(),
    sampling: { maxRowsPerLayerPerStage: o.maxRowsPerLayerPerStage, seed: 7919 },
    oracle: { ...ORACLE_DEFAULTS, ...(o.oracle ?? {}), limitPerDigit: o.limitPerDigit ?? null },
    models: infos,
    command: options.command ?? `buildMeta(${JSON.stringify({ family: options.family, out: options.out })})`,
    createdAt: new Date().toISOString(),
  }, data, { gzip: true });
  options.onProgress?.({ type: 'written', path: options.out, rows, seconds: (Date.now() - t0) / 1000, dataPath: metaDataPath(options.out, true) });
  return header;
}

/** Messages between buildMeta and dist/meta/worker.js. */
export type WorkerRequest = { type: 'job'; index: number; model: MetaModel; options: ModelJobOptions } | { type: 'exit' };
export type WorkerReply =
  | { type: 'event'; event: BuildEvent }
  | { type: 'result'; index: number; info: ModelRows['info']; data: Float32Array }
  | { type: 'error'; index: number; message: string; stack?: string };

function runInWorkers(
  models: readonly MetaModel[],
  job: ModelJobOptions,
  workers: number,
  onProgress: ((e: BuildEvent) => void) | undefined,
  finished: (i: number, r: ModelRows) => void,
): Promise<void> {
  const path = workerPath();
  let next = 0;
  let active = 0;
  const children: ChildProcess[] = [];
  return new Promise<void>((resolvePromise, reject) => {
    let failed = false;
    // Each worker is told to exit once (a worker with nothing left to do is told when it asks, the rest at the end).
    const told = new Set<ChildProcess>();
    const tellExit = (c: ChildProcess): void => {
      if (told.has(c) || !c.connected) return;
      told.add(c);
      c.send({ type: 'exit' } satisfies WorkerRequest);
    };
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      children.forEach((c) => { tellExit(c); c.kill(); });
      reject(err);
    };
    const give = (child: ChildProcess, w: number): void => {
      if (next >= models.length) {
        tellExit(child);
        return;
      }
      const i = next++;
      active++;
      onProgress?.({ type: 'model-start', model: models[i].id, worker: w });
      child.send({ type: 'job', index: i, model: models[i], options: job } satisfies WorkerRequest);
    };
    for (let w = 0; w < workers; w++) {
      // Each worker gets one TensorFlow thread pool share: two processes on two cores, not 2×2 threads.
      const child = fork(path, [], {
        serialization: 'advanced',
        env: { ...process.env, TF_NUM_INTRAOP_THREADS: process.env.TF_NUM_INTRAOP_THREADS ?? '1', TF_NUM_INTEROP_THREADS: process.env.TF_NUM_INTEROP_THREADS ?? '1' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      child.on('message', (msg: WorkerReply) => {
        if (msg.type === 'event') onProgress?.(msg.event);
        else if (msg.type === 'error') fail(new Error(`building rows of '${models[msg.index].id}' failed in worker ${w}: ${msg.message}`));
        else {
          active--;
          finished(msg.index, { info: msg.info, data: msg.data });
          if (next >= models.length && active === 0) {
            children.forEach(tellExit);
            resolvePromise();
          } else {
            give(child, w);
          }
        }
      });
      child.on('exit', (code) => {
        if (code !== 0 && code !== null && !failed && (next < models.length || active > 0)) fail(new Error(`meta worker ${w} exited with code ${code}`));
      });
      child.on('error', (err) => fail(err));
      give(child, w);
    }
  });
}
