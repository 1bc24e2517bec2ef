import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { loadMnist10k } from '../../src/data/mnist.js';

const isSorted = (a: Int32Array) => a.every((v, i) => i === 0 || a[i - 1] <= v);

describe('loadMnist10k', () => {
  it('has the canonical 8006/997/997 split, ordered digits in val/test, pixels in [0, 1]', () => {
    const before = tf.memory().numTensors;
    const d = loadMnist10k();
    try {
      expect(d.name).toBe('mnist-10k');
      expect(d.inputShape).toEqual([784]);
      expect(d.numClasses).toBe(10);
      expect(d.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      expect([d.train, d.val, d.test].map((s) => s.labels.length)).toEqual([8006, 997, 997]);
      expect(d.train.x.shape).toEqual([8006, 784]);
      expect(isSorted(d.val.labels)).toBe(true);
      expect(isSorted(d.test.labels)).toBe(true);
      expect(new Set(d.val.labels).size).toBe(10);
      expect(isSorted(d.train.labels)).toBe(false);
      for (const s of [d.train, d.val, d.test]) {
        const [lo, hi] = tf.tidy(() => [s.x.min().dataSync()[0], s.x.max().dataSync()[0]]);
        expect(lo).toBeGreaterThanOrEqual(0);
        expect(hi).toBeLessThanOrEqual(1);
        expect(hi).toBeGreaterThan(0.5);
      }
    } finally {
      d.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('shuffles the training split deterministically per seed and differently across seeds', () => {
    const trainOrder = (seed: number) => {
      const d = loadMnist10k({ seed, limitPerDigit: 40 });
      try {
        expect(d.train.labels.length).toBe(400);
        expect(isSorted(d.val.labels) && isSorted(d.test.labels)).toBe(true);
        return { y: Array.from(d.train.labels), x: Array.from(d.train.x.dataSync().slice(0, 784 * 5)) };
      } finally {
        d.dispose();
      }
    };
    const a = trainOrder(0);
    expect(trainOrder(0)).toEqual(a);
    const b = trainOrder(1);
    expect(b.y).not.toEqual(a.y);
    expect(b.x).not.toEqual(a.x);
    expect([...b.y].sort()).toEqual([...a.y].sort());
  });
});

