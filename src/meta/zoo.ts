import { makeDirs } from '../util/make-dirs.js';
import type * as TF from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../backend/tf.js';
import type { Dataset } from '../data/dataset.js';
import { loadMnist10k } from '../data/mnist.js';
import { UsageError } from '../errors.js';
import { buildModel, LENET_300_100, LENET_5, type ModelArgs } from '../models/families.js';
import { fitDatasetToModel } from '../models/task.js';
import { train } from '../models/train.js';
import { cacheDir } from '../models/cache.js';

export type Family = 'mlp' | 'cnn';
export const FAMILIES: readonly Family[] = Object.freeze(['mlp', 'cnn']);

/** One model of a zoo: an architecture, a seed (init and batch order) and its dense training budget. */
export interface ZooModel {
  /** Stable id, e.g. 'mlp-300-100-s100'. */
  id: string;
  family: Family;
  args: ModelArgs;
  /** Dense training epochs (Adam 1e-3, batch 128). */
  epochs: number;
}

/**
 * Seeds below this are reserved for evaluation: the benchmark scores seeds 0, 1, 2 of LeNet-300-100
 * and LeNet-5, and those exact models must never be in a policy's training data.
 */
export const MIN_ZOO_SEED = 100;

function mlp(id: string, hidden: number[], seed: number, activation: 'relu' | 'tanh' = 'relu'): ZooModel {
  return { id, family: 'mlp', args: { ...LENET_300_100, hidden, activation, seed }, epochs: 15 };
}
function cnn(id: string, convs: { filters: number; kernel: number }[], dense: number[], seed: number, activation: 'relu' | 'tanh' = 'relu'): ZooModel {
  return { id, family: 'cnn', args: { ...LENET_5, convs, dense, activation, seed }, epochs: 15 };
}

/** The default zoos the shipped policies are trained on (all on MNIST-10k's training split). */
export const ZOOS: Readonly<Record<Family, readonly ZooModel[]>> = Object.freeze({
  mlp: Object.freeze([
    mlp('mlp-300-100-s100', [300, 100], 100),
    mlp('mlp-500-150-s101', [500, 150], 101),
    mlp('mlp-200-100-s102', [200, 100], 102),
    mlp('mlp-300-100-50-s103', [300, 100, 50], 103),
    mlp('mlp-300-100-tanh-s104', [300, 100], 104, 'tanh'),
    mlp('mlp-300-100-s105', [300, 100], 105),
  ]),
  cnn: Object.freeze([
    cnn('cnn-lenet5-s100', [{ filters: 20, kernel: 5 }, { filters: 50, kernel: 5 }], [500], 100),
    cnn('cnn-16-32k3-s101', [{ filters: 16, kernel: 3 }, { filters: 32, kernel: 3 }], [128], 101),
    cnn('cnn-10-20k5-s102', [{ filters: 10, kernel: 5 }, { filters: 20, kernel: 5 }], [200], 102),
    cnn('cnn-lenet5-s103', [{ filters: 20, kernel: 5 }, { filters: 50, kernel: 5 }], [500], 103),
    cnn('cnn-32-64k3-s104', [{ filters: 32, kernel: 3 }, { filters: 64, kernel: 3 }], [256], 104),
    cnn('cnn-8-16-32k3-s105', [{ filters: 8, kernel: 3 }, { filters: 16, kernel: 3 }, { filters: 32, kernel: 3 }], [64], 105),
    cnn('cnn-lenet5-tanh-s106', [{ filters: 20, kernel: 5 }, { filters: 50, kernel: 5 }], [500], 106, 'tanh'),
  ]),
});

export function zoo(family: string): readonly ZooModel[] {
  const z = (ZOOS as Record<string, readonly ZooModel[]>)[family];
  if (!z) throw new UsageError(`unknown model family '${family}'; known: ${FAMILIES.join(', ')}`);
  return z;
}

/** Throws when a zoo model could be one the benchmark evaluates. */
export function checkZooModel(m: ZooModel): void {
  if (m.args.seed == null || m.args.seed < MIN_ZOO_SEED) {
    throw new UsageError(`zoo model '${m.id}' has seed ${m.args.seed}; zoo seeds must be ≥ ${MIN_ZOO_SEED} (seeds 0–2 are the benchmark's)`);
  }
}

/**
 * Model cache folder: `models/` of autoprune's cache (cacheDir(): $AUTOPRUNE_CACHE_DIR, an empty value counting as
 * unset, else $XDG_CACHE_HOME/autoprune or ~/.cache/autoprune), where the dense models are cached too.
 */
export function modelCacheDir(): string {
  return join(cacheDir(), 'models');
}

/** Cache key: id plus a hash of everything that changes the trained weights. */
export function zooCacheKey(m: ZooModel, limitPerDigit?: number): string {
  const data = limitPerDigit == null ? 'mnist-10k-v1' : `mnist-10k-v1-limit${limitPerDigit}`;
  const h = createHash('sha256').update(JSON.stringify({ args: m.args, epochs: m.epochs, data })).digest('hex');
  return `${m.id}-${h.slice(0, 10)}`;
}

/** MNIST-10k shaped for the model (training split shuffled with the model's seed). */
export function zooData(m: ZooModel, limitPerDigit?: number): Dataset {
  return loadMnist10k({ seed: m.args.seed ?? 0, limitPerDigit });
}

/**
 * The trained dense model of a zoo entry: loaded from the cache when present, else built, trained
 * (seeded) and saved there. `data` is the raw dataset (reshaped to the model's input here).
 */
export async function loadOrTrainZooModel(
  m: ZooModel,
  data: Dataset,
  options: { cacheDir?: string; limitPerDigit?: number; onTrained?: (seconds: number) => void } = {},
): Promise<{ model: TF.LayersModel; cached: boolean; dir: string }> {
  checkZooModel(m);
  const dir = join(options.cacheDir ?? modelCacheDir(), zooCacheKey(m, options.limitPerDigit));
  if (existsSync(join(dir, 'model.json'))) {
    return { model: await tf.loadLayersModel(`file://${join(dir, 'model.json')}`), cached: true, dir };
  }
  const model = buildModel(m.args);
  const fitted = fitDatasetToModel(data, model);
  let r;
  try {
    r = train(model, fitted.train, { epochs: m.epochs, seed: m.args.seed ?? 0 });
  } finally {
    if (fitted !== data) fitted.dispose();
  }
  options.onTrained?.(r.seconds);
  makeDirs(dir);
  await model.save(`file://${dir}`);
  return { model, cached: false, dir };
}
