import type * as TF from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { makeDirs } from '../util/make-dirs.js';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { hashSplits, type Dataset } from '../data/dataset.js';
import { withClassWeights, type ClassWeights } from '../data/class-weight.js';
import { buildModel, type ModelArgs } from './families.js';
import { fitDatasetToModel } from './task.js';
import { accuracy, trainAsync, type TrainOptions } from './train.js';
import { loadModel, probeWritable, saveModel } from './io.js';

/** Where trained dense models are cached (outside git): $AUTOPRUNE_CACHE_DIR or ~/.cache/autoprune. */
export function cacheDir(): string {
  // An empty value (`AUTOPRUNE_CACHE_DIR=${X:-}` in a pipeline) means unset, not the working folder.
  const env = (name: string) => (process.env[name]?.trim() ? resolve(process.env[name]!) : undefined);
  return env('AUTOPRUNE_CACHE_DIR') ?? join(env('XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'autoprune');
}

export interface DenseModelSpec {
  args: ModelArgs;
  /** Training settings (epochs, lr, batch, seed); part of the cache key. */
  train?: Omit<TrainOptions, 'prunable' | 'val' | 'onEpoch'>;
  /** Class weights the model trains with (batches drawn by them: data/class-weight.ts); part of the cache key. */
  classWeight?: ClassWeights;
}

export interface CachedModel {
  model: TF.LayersModel;
  dir: string;
  fromCache: boolean;
  valAccuracy: number;
  seconds: number;
}

const CACHE_FORMAT = 2;

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * The key covers the training and validation data themselves (values, labels, order), not only where they
 * came from: an edited CSV at the same path, another split, or z-scored vs raw features train another model.
 */
function keyOf(spec: DenseModelSpec, data: Dataset): string {
  const h = createHash('sha256')
    .update(JSON.stringify({ v: CACHE_FORMAT, args: spec.args, train: spec.train ?? {}, data: data.source, ...(spec.classWeight ? { classWeight: spec.classWeight } : {}) }));
  hashSplits(h, [data.train, data.val]);
  return `${spec.args.family}-${h.digest('hex').slice(0, 16)}`;
}

/**
 * Returns a trained dense model for `spec` on `data`, training and caching it on first use so
 * repeated runs (and benchmarks) do not retrain. The cache key covers architecture, seed, training
 * settings and the data's contents.
 */
export async function trainedModel(spec: DenseModelSpec, data: Dataset, onEpoch?: TrainOptions['onEpoch'], signal?: AbortSignal): Promise<CachedModel> {
  const dir = join(cacheDir(), 'models', keyOf(spec, data));
  const meta = join(dir, 'autoprune-cache.json');
  if (existsSync(meta) && existsSync(join(dir, 'model.json'))) {
    try {
      const info = JSON.parse(readFileSync(meta, 'utf8')) as { valAccuracy: number; seconds: number; weightsSha256?: string };
      // A cache entry is used only when its weights are the ones written (a damaged or edited entry is retrained).
      if (info.weightsSha256 === sha256File(join(dir, 'weights.bin'))) {
        const model = await loadModel(dir);
        return { model, dir, fromCache: true, valAccuracy: info.valAccuracy, seconds: info.seconds };
      }
    } catch {
      // A corrupt cache entry is rebuilt below.
    }
  }
  makeDirs(cacheDir(), 0o755);
  probeWritable(cacheDir(), `cannot cache the trained default model (set AUTOPRUNE_CACHE_DIR to a writable folder)`);
  const model = buildModel(spec.args);
  const fitted = fitDatasetToModel(data, model);
  try {
    // Yields after every batch, so Ctrl-C (the signal) stops the training instead of waiting for its end.
    // (With class weights, the training rows weighted and the validation figure the weighted one.)
    const on = spec.classWeight ? withClassWeights(fitted, spec.classWeight) : fitted;
    const r = await trainAsync(model, on.train, { ...spec.train, seed: spec.train?.seed ?? spec.args.seed ?? 0, onEpoch, signal });
    const valAccuracy = accuracy(model, on.val);
    await saveModel(model, dir);
    const weightsSha256 = sha256File(join(dir, 'weights.bin'));
    writeFileSync(meta, JSON.stringify({ spec, data: data.source, valAccuracy, seconds: r.seconds, weightsSha256, createdAt: new Date().toISOString() }, null, 2));
    return { model, dir, fromCache: false, valAccuracy, seconds: r.seconds };
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    if (fitted !== data) fitted.dispose();
  }
}
