import { describe, expect, it } from 'vitest';
import { evaluateBars } from '../../src/bench/page.js';
import { above, atLeast, paired, pairedText } from '../../src/bench/paired.js';
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

  it('judges an exact tie alike whatever the order of the sums (a mean of +0.2, +0.1, −0.3 points came out −3.7e-17)', () => {
    // Seeds' right rows of 997: +2, +1, −3 rows.
    const diffs = [[965, 963], [962, 961], [961, 964]].map(([a, b]) => a / 997 - b / 997);
    const m = diffs.reduce((a, b) => a + b, 0) / 3;
    expect(m).not.toBe(0); // the float residue the bars met and missed on
    expect(atLeast(m, 0)).toBe(true);
    expect(above(m, 0)).toBe(false);
    expect(atLeast(0.9845, 0.9846)).toBe(false);
    expect(above(0.9847, 0.9846)).toBe(true);
    // Two methods with the same right rows over three seeds (2,945 of 2,991): tied, and "≥" holds either way round.
    const rec = (method: string, seed: number, testAfter: number): BenchRecord =>
      ({ model: 'm', seed, method, target: 0.9, sparsity: 0.9, testBefore: 0, testAfter, fineTuneEpochs: 5, layerSparsity: [], seconds: {} });
    const tests = [[983, 985], [982, 981], [980, 979]].map(([a, b]) => [a / 997, b / 997]);
    const r = {
      options: { models: ['m'], targets: [0.9] },
      dense: [],
      records: tests.flatMap(([a, b], seed) => [rec('learned', seed, a), rec('global-magnitude', seed, b)]),
    } as unknown as BenchResults;
    expect(evaluateBars(r).find((b) => b.bar.startsWith('learned ≥ best baseline'))!.met).toBe(true);
  });
});
