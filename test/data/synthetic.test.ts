import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import type { Dataset } from '../../src/data/dataset.js';
import { loadSynthetic, type SyntheticOptions } from '../../src/data/synthetic.js';
import { UsageError } from '../../src/errors.js';
import { withDataset } from '../helpers.js';

const withData = <T>(opts: SyntheticOptions, fn: (d: Dataset) => T): T => withDataset(loadSynthetic(opts), fn);

const snapshot = (d: Dataset) =>
  [d.train, d.val, d.test].map((s) => ({ x: Array.from(s.x.dataSync()), y: Array.from(s.labels) }));

describe('loadSynthetic', () => {
  it('has the default shapes, names and a 70/15/15 split', () => {
    withData({}, (d) => {
      expect(d.name).toBe('synthetic');
      expect(d.inputShape).toEqual([20]);
      expect(d.numClasses).toBe(3);
      expect(d.classNames).toHaveLength(3);
      expect(d.train.x.shape).toEqual([840, 20]);
      expect(d.val.x.shape).toEqual([180, 20]);
      expect(d.test.x.shape).toEqual([180, 20]);
      expect(d.train.x.dtype).toBe('float32');
      for (const s of [d.train, d.val, d.test]) expect(s.labels.length).toBe(s.x.shape[0]);
    });
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = withData({ seed: 3 }, snapshot);
    expect(withData({ seed: 3 }, snapshot)).toEqual(a);
    const b = withData({ seed: 4 }, snapshot);
    expect(b[0].x).not.toEqual(a[0].x);
  });

  it('balances the classes inside each split', () => {
    withData({ samples: 1000, classes: 4 }, (d) => {
      for (const s of [d.train, d.val, d.test]) {
        const counts = [0, 0, 0, 0];
        s.labels.forEach((c) => counts[c]++);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        // Shuffled, not sorted by class.
        expect(Array.from(s.labels)).not.toEqual([...s.labels].sort());
      }
    });
  });

  it('puts the class signal in the informative inputs only', () => {
    withData({ samples: 3000, features: 6, informative: 2, classes: 2, noise: 0.3 }, (d) => {
      const x = d.train.x.arraySync() as number[][];
      const y = d.train.labels;
      // Per-feature difference of class means, in units of the pooled standard deviation.
      const gap = (j: number) => {
        const m = [0, 0], n = [0, 0];
        x.forEach((r, i) => { m[y[i]] += r[j]; n[y[i]]++; });
        const mu = [m[0] / n[0], m[1] / n[1]];
        const v = x.reduce((a, r, i) => a + (r[j] - mu[y[i]]) ** 2, 0) / x.length;
        return Math.abs(mu[0] - mu[1]) / Math.sqrt(v);
      };
      for (let j = 2; j < 6; j++) expect(gap(j)).toBeLessThan(0.2);
      expect(Math.max(gap(0), gap(1))).toBeGreaterThan(1);
    });
  });

  it('rejects impossible options', () => {
    expect(() => loadSynthetic({ informative: 30 })).toThrow(UsageError);
    expect(() => loadSynthetic({ classes: 1 })).toThrow(UsageError);
    expect(() => loadSynthetic({ samples: 5 })).toThrow(UsageError);
    expect(() => loadSynthetic({ noise: -1 })).toThrow(UsageError);
  });

  it('leaks no tensors', () => {
    const before = tf.memory().numTensors;
    loadSynthetic().dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
