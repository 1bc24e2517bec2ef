import type * as TF from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PACKAGE_ROOT, tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';
import { saveModel } from '../models/io.js';
import { withDefaults } from '../models/train.js';
import type { LatencyRequest, LatencyWorkerSpec } from './latency-worker.js';

export interface LatencyOptions {
  /** Samples per predict call. Default 1. */
  batch?: number;
  /** Timed runs. Default 50. */
  runs?: number;
  /** Untimed runs first (graph set-up, allocator warm-up). Default 5. */
  warmup?: number;
  /** Seed of the fixed random input. Default 0. */
  seed?: number;
  /**
   * Consecutive timed calls of one model before the next model's turn, each turn after one untimed call (1: strict
   * alternation a, b, a, b, …). Default 10: a served model is called again and again, its weights and buffers warm in
   * the caches; strict alternation times every call just after another model's, which costs the small compact model
   * most and the floor model more (LeNet-300-100's shapes, batch 256, one intra-op thread, oneDNN off, 2026-12-06, three
   * repetitions of 300 calls: compact 0.46–0.56 ms call by call, 0.45–0.48 in turns of 10; floor 0.20–0.26 and
   * 0.17–0.19; dense 1.33–1.60 and 1.36–1.47; `node scripts/latency-blocks.mjs`).
   */
  block?: number;
}

export const LATENCY_DEFAULTS = Object.freeze({ batch: 1, runs: 50, warmup: 5, seed: 0, block: 10 });

export interface LatencyResult {
  /** Median wall time of one predict + dataSync, in milliseconds. */
  medianMs: number;
  /** 90th percentile (nearest rank), in milliseconds. */
  p90Ms: number;
  meanMs: number;
  batch: number;
  runs: number;
  /** tfjs backend the timing was taken on, e.g. 'tensorflow'. */
  backend: string;
}

/**
 * Inference latency of `model` on a fixed random input of shape [batch, ...inputShape] (values in
 * [0, 1)): each run is one model.predict over the whole batch followed by dataSync, so the time includes reading the result
 * back, as a caller would. Median and p90 of `runs` timed runs after `warmup` untimed ones.
 */
export function measureLatency(model: TF.LayersModel, inputShape: number[], opts: LatencyOptions = {}): LatencyResult {
  return compareLatency([model], inputShape, opts)[0];
}

/**
 * Latency of several models on the same input, measured in alternating turns (a block of calls of a, of b, of a, …)
 * so that load and clock drift on the machine hit every model alike: the fair way to state a speed-up.
 */
export function compareLatency(models: TF.LayersModel[], inputShape: number[], opts: LatencyOptions = {}): LatencyResult[] {
  const o = withDefaults(LATENCY_DEFAULTS, opts);
  return sampleLatency(models, inputShape, o).map((t) => summarize(t, o.batch));
}

/** Raw wall times (ms) of `runs` predict calls per model, in alternating turns of `block`, after `warmup` untimed ones. */
export function sampleLatency(models: TF.LayersModel[], inputShape: number[], opts: LatencyOptions = {}): number[][] {
  const o = withDefaults(LATENCY_DEFAULTS, opts);
  if (!(Number.isInteger(o.batch) && o.batch >= 1)) throw new UsageError(`latency batch must be a whole number ≥ 1, got ${o.batch}`);
  if (!(Number.isInteger(o.runs) && o.runs >= 1)) throw new UsageError(`latency runs must be a whole number ≥ 1, got ${o.runs}`);
  if (!(Number.isInteger(o.block) && o.block >= 1)) throw new UsageError(`latency block must be a whole number ≥ 1, got ${o.block}`);
  if (inputShape.some((d) => !(Number.isInteger(d) && d >= 1))) throw new UsageError(`input shape [${inputShape}] must be positive whole numbers`);
  const x = tf.randomUniform([o.batch, ...inputShape], 0, 1, 'float32', o.seed);
  const once = (model: TF.LayersModel): number => {
    const t0 = performance.now();
    // One call = one batch of `batch` samples (predict would otherwise split it into batches of 32).
    const y = model.predict(x, { batchSize: o.batch }) as TF.Tensor | TF.Tensor[];
    for (const t of Array.isArray(y) ? y : [y]) {
      t.dataSync();
      t.dispose();
    }
    return performance.now() - t0;
  };
  try {
    for (let i = 0; i < o.warmup; i++) models.forEach(once);
    const times = models.map(() => [] as number[]);
    const block = Math.min(o.block, o.runs);
    for (let done = 0; done < o.runs; done += block) {
      const n = Math.min(block, o.runs - done);
      models.forEach((m, k) => {
        if (block > 1) once(m);
        for (let j = 0; j < n; j++) times[k].push(once(m));
      });
    }
    return times;
  } finally {
    x.dispose();
  }
}

/** Median, p90 and mean of raw times. */
export function summarize(times: number[], batch: number): LatencyResult {
  const t = [...times].sort((a, b) => a - b);
  const n = t.length;
  return {
    medianMs: n % 2 ? t[(n - 1) / 2] : (t[n / 2 - 1] + t[n / 2]) / 2,
    p90Ms: t[Math.min(n - 1, Math.ceil(0.9 * n) - 1)],
    meanMs: t.reduce((a, b) => a + b, 0) / n,
    batch,
    runs: n,
    backend: tf.getBackend(),
  };
}

/**
 * A model with the given input and output sizes and one hidden unit: what a predict call costs with
 * (almost) no compute, so no compaction can beat dense ÷ floor.
 */
export function floorModel(inputShape: number[], outputs: number): TF.LayersModel {
  const flat = inputShape.length > 1;
  return tf.sequential({
    layers: [
      ...(flat ? [tf.layers.flatten({ inputShape })] : []),
      tf.layers.dense({ units: 1, activation: 'relu', ...(flat ? {} : { inputShape }) }),
      tf.layers.dense({ units: outputs }),
    ],
  });
}

/**
 * A native TensorFlow runtime configuration a latency worker starts under: environment variables that
 * TensorFlow reads once, at start-up.
 */
export interface RuntimeSetting {
  /** Short name for tables, e.g. '1 thread, no oneDNN'. */
  name: string;
  /** Variables to set (a value) or to remove (null) for the worker. */
  env: Record<string, string | null>;
}

/**
 * The settings latency is measured under: TensorFlow's defaults (intra-op threads = cores, oneDNN on),
 * one intra-op thread (TF_NUM_INTRAOP_THREADS=1), oneDNN off (TF_ENABLE_ONEDNN_OPTS=0; Eigen kernels),
 * and both. Small matrices lose most of a call to thread hand-offs and oneDNN's per-call set-up.
 */
export const RUNTIME_SETTINGS: readonly RuntimeSetting[] = Object.freeze([
  { name: 'auto', env: { TF_NUM_INTRAOP_THREADS: null, TF_ENABLE_ONEDNN_OPTS: null } },
  { name: '1 thread', env: { TF_NUM_INTRAOP_THREADS: '1', TF_ENABLE_ONEDNN_OPTS: null } },
  { name: 'no oneDNN', env: { TF_NUM_INTRAOP_THREADS: null, TF_ENABLE_ONEDNN_OPTS: '0' } },
  { name: '1 thread, no oneDNN', env: { TF_NUM_INTRAOP_THREADS: '1', TF_ENABLE_ONEDNN_OPTS: '0' } },
]);

/** Latencies of the compared models and the floor under one runtime setting, per batch size. */
export interface SettingLatency {
  setting: string;
  /** batch size → one result per model, in the order given, then the floor model. */
  byBatch: Record<number, LatencyResult[]>;
}

/**
 * `compareLatency` under each runtime setting. TensorFlow reads the settings once at start-up, so each
 * has a worker process of its own; the workers take turns in short rounds (only one computes at a time),
 * so machine load and clock drift hit every setting alike, as alternation does for the models. Small
 * models spend most of a call in per-op overheads that depend on the setting, for the dense model too;
 * a fair speed-up compares each model at its own fastest setting. The models are saved to a temporary folder.
 */
export async function compareLatencyBySettings(models: TF.LayersModel[], inputShape: number[], opts: {
  batches: number[]; runs: number; settings: readonly RuntimeSetting[]; rounds?: number;
}): Promise<SettingLatency[]> {
  const dir = mkdtempSync(join(tmpdir(), 'autoprune-latency-'));
  const workers: LatencyWorker[] = [];
  try {
    const dirs = models.map((_, i) => join(dir, `m${i}`));
    for (let i = 0; i < models.length; i++) await saveModel(models[i], dirs[i]);
    const spec: LatencyWorkerSpec = { dirs, inputShape };
    for (const setting of opts.settings) workers.push(await startWorker(spec, setting));
    const rounds = Math.max(1, Math.min(opts.rounds ?? 10, opts.runs));
    const per = Math.ceil(opts.runs / rounds);
    // times[worker][batch][model] → raw ms
    const times = workers.map(() => Object.fromEntries(opts.batches.map((b) => [b, [] as number[][]])));
    for (let r = 0; r < rounds; r++) {
      for (const batch of opts.batches) {
        for (let w = 0; w < workers.length; w++) {
          const got = await workers[w].sample({ batch, runs: per, warmup: r === 0 ? 5 : 1 });
          got.forEach((t, k) => { (times[w][batch][k] ??= []).push(...t); });
        }
      }
    }
    return workers.map((w, i) => ({
      setting: w.setting.name,
      byBatch: Object.fromEntries(opts.batches.map((b) => [b, times[i][b].map((t) => ({ ...summarize(t, b), backend: w.backend }))])),
    }));
  } finally {
    // Waited for: a child's exit signals this process (SIGCHLD), and a signal that lands while TensorFlow computes here
    // can corrupt the native heap (docs/reliability.md, "Signals"); the caller's next step is training.
    await Promise.all(workers.map((w) => w.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

interface LatencyWorker {
  setting: RuntimeSetting;
  backend: string;
  /** Raw times per model (the spec's models, then the floor). */
  sample(req: LatencyRequest): Promise<number[][]>;
  /** Ends the worker; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Starts a worker under `setting` and waits until its models are loaded. */
function startWorker(spec: LatencyWorkerSpec, setting: RuntimeSetting): Promise<LatencyWorker> {
  const env = { ...process.env };
  for (const [k, v] of Object.entries(setting.env)) {
    if (v == null) delete env[k];
    else env[k] = v;
  }
  const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'dist', 'bench', 'latency-worker.js'), JSON.stringify(spec)], {
    env, stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = () => new Error(`latency worker exited ${child.exitCode}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  // Replies come one line per request, in order; a worker that dies fails whatever is still waiting.
  const pending: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => pending.shift()?.resolve(l));
  child.on('close', () => pending.splice(0).forEach((p) => p.reject(exited())));
  const next = () => new Promise<string>((resolve, reject) => {
    if (child.exitCode != null) reject(exited());
    else pending.push({ resolve, reject });
  });
  return next().then((ready) => ({
    setting,
    backend: (JSON.parse(ready) as { backend: string }).backend,
    sample: async (req: LatencyRequest) => {
      const reply = next();
      child.stdin.write(`${JSON.stringify(req)}\n`);
      return JSON.parse(await reply) as number[][];
    },
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode != null || child.signalCode != null) return resolve();
      child.once('close', () => resolve());
      child.stdin.end();
    }),
  }));
}
