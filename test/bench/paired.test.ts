import { describe, expect, it } from 'vitest';
import { evaluateBars } from '../../src/bench/page.js';
import { paired, pairedText } from '../../src/bench/paired.js';
import type { BenchRecord, BenchResults } from '../../src/bench/run.js';

describe('paired differences on the benchmark page', () => {
  it('gives the mean and standard error of per-seed differences, and says when the mean is within two standard errors of 0', () => {
    const p = paired([0.01, 0.02, 0.03]);
    expect(p.mean).toBeCloseTo(0.02, 12);
    expect(p.se).toBeCloseTo(0.01 / Math.sqrt(3), 12);
    expect(pairedText(p)).toEqual({ value: '+2.00 ± 0.58 points', noise: '' });
    expect(pairedText(paired([0.01, -0.02]))).toEqual({ value: '−0.50 ± 1.50 points', noise: ': within two standard errors of no difference' });
    expect(Number.isNaN(paired([0.01]).se)).toBe(true);
    expect(pairedText(paired([1e-9, -2e-9])).value).toBe('0.00 ± 0.00 points');
  });

  it('states each bar\'s difference seed by seed, pairing the records of the same seed', () => {
    const rec = (method: string, seed: number, testAfter: number): BenchRecord =>
      ({ model: 'm', seed, method, target: 0.9, sparsity: 0.9, testBefore: 0, testAfter, fineTuneEpochs: 5, layerSparsity: [], seconds: {} });
    const r = {
      options: { models: ['m'], targets: [0.9] },
      dense: [],
      // Seeds listed in different orders: pairing is by seed, not by position.
      records: [rec('learned', 0, 0.95), rec('learned', 1, 0.97), rec('global-magnitude', 1, 0.96), rec('global-magnitude', 0, 0.95)],
    } as unknown as BenchResults;
    const bar = evaluateBars(r).find((b) => b.bar.startsWith('learned ≥ best baseline'))!;
    expect(bar.met).toBe(true);
    expect(bar.detail).toBe('96.00 % vs global-magnitude 95.50 %; by seed (same dense weights and test rows) +0.50 ± 0.50 points, mean ± standard error over 2 seeds: within two standard errors of no difference');
  });
});
