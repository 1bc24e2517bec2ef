import type * as TF from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT, tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';
import { saveModel } from '../models/io.js';
import type { LatencyWorkerResult, LatencyWorkerSpec } from './latency-worker.js';

export interface LatencyOptions {
  /** Samples per predict call. Default 1. */
  batch?: number;
  /** Timed runs. Default 50. */
  runs?: number;
  /** Untimed runs first (graph set-up, allocator warm-up). Default 5. */
  warmup?: number;
  /** Seed of the fixed random input. Default 0. */
  seed?: number;
}

export const LATENCY_DEFAULTS = Object.freeze({ batch: 1, runs: 50, warmup: 5, seed: 0 });

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
 * Latency of several models on the same input, measured in alternation (a, b, a, b, …) so that load
 * and clock drift on the machine hit every model alike: the fair way to state a speed-up.
 */
export function compareLatency(models: TF.LayersModel[], inputShape: number[], opts: LatencyOptions = {}): LatencyResult[] {
  const o = { ...LATENCY_DEFAULTS, ...opts };
  if (!(Number.isInteger(o.batch) && o.batch >= 1)) throw new UsageError(`latency batch must be a whole number ≥ 1, got ${o.batch}`);
  if (!(Number.isInteger(o.runs) && o.runs >= 1)) throw new UsageError(`latency runs must be a whole number ≥ 1, got ${o.runs}`);
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
    for (let i = 0; i < o.runs; i++) models.forEach((m, k) => times[k].push(once(m)));
    return times.map((t) => {
      t.sort((a, b) => a - b);
      const n = t.length;
      return {
        medianMs: n % 2 ? t[(n - 1) / 2] : (t[n / 2 - 1] + t[n / 2]) / 2,
        p90Ms: t[Math.min(n - 1, Math.ceil(0.9 * n) - 1)],
        meanMs: t.reduce((a, b) => a + b, 0) / n,
        batch: o.batch,
        runs: n,
        backend: tf.getBackend(),
      };
    });
  } finally {
    x.dispose();
  }
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

/** TensorFlow's own intra-op thread count (one per core), or a fixed number of threads. */
export type ThreadSetting = 'default' | number;

/** Latencies of the compared models and the floor under one thread setting, per batch size. */
export interface ThreadedLatency {
  threads: ThreadSetting;
  /** batch size → one result per model, in the order given, then the floor model. */
  byBatch: Record<number, LatencyResult[]>;
}

/**
 * `compareLatency` under each intra-op thread setting (TF_NUM_INTRAOP_THREADS), each in a process of
 * its own because TensorFlow reads the setting once at start-up. Small models spend most of a call in
 * per-op thread hand-offs, so one thread can be faster than all cores — for the dense model too; a fair
 * speed-up compares each model at its own fastest setting. The models are saved to a temporary folder
 * (native backend in the child, as chosen by `AUTOPRUNE_BACKEND` or auto).
 */
export async function compareLatencyByThreads(models: TF.LayersModel[], inputShape: number[], opts: {
  batches: number[]; runs: number; threads: readonly ThreadSetting[];
}): Promise<ThreadedLatency[]> {
  const dir = mkdtempSync(join(tmpdir(), 'autoprune-latency-'));
  try {
    const dirs = models.map((_, i) => join(dir, `m${i}`));
    for (let i = 0; i < models.length; i++) await saveModel(models[i], dirs[i]);
    const spec: LatencyWorkerSpec = { dirs, inputShape, batches: opts.batches, runs: opts.runs };
    const out: ThreadedLatency[] = [];
    for (const threads of opts.threads) {
      const env = { ...process.env };
      if (threads === 'default') delete env.TF_NUM_INTRAOP_THREADS;
      else env.TF_NUM_INTRAOP_THREADS = String(threads);
      const stdout = await runWorker(JSON.stringify(spec), env);
      out.push({ threads, byBatch: JSON.parse(stdout) as LatencyWorkerResult });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runWorker(spec: string, env: NodeJS.ProcessEnv): Promise<string> {
  const worker = join(PACKAGE_ROOT, 'dist', 'bench', 'latency-worker.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker, spec], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout.trim().split('\n').at(-1)!)
      : reject(new Error(`latency worker exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`))));
  });
}
