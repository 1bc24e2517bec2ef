import { tf } from '../src/backend/tf.js';
import type { Dataset } from '../src/data/dataset.js';
import { loadMnist10k } from '../src/data/mnist.js';

export { removeTempDirs, tempDir } from './temp.js';

/** A small, real MNIST subset (first `perDigit` of each split per digit) for fast tests. */
export function smallMnist(perDigit = 40, seed = 0): Dataset {
  return loadMnist10k({ limitPerDigit: perDigit, seed });
}

export function numTensors(): number {
  return tf.memory().numTensors;
}

/** Runs `fn` on a freshly loaded dataset and disposes it afterwards, whatever `fn` does. */
export function withDataset<T>(d: Dataset, fn: (d: Dataset) => T): T {
  try {
    return fn(d);
  } finally {
    d.dispose();
  }
}
