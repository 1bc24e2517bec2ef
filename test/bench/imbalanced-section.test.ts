/** The imbalanced suite's page section: the two runs per seed on the same measures, and the class-weight bars. */
import { describe, expect, it } from 'vitest';
import { imbalancedSection, type ImbalancedRecord } from '../../src/bench/imbalanced.js';

const dense = { accuracy: 0.786, balanced: 0.747, rareRecall: 0.699 };
const rec = (classWeight: 'none' | 'balanced', seed: number, balanced: number, rareRecall: number, accuracy: number, script?: number): ImbalancedRecord => ({
  target: 0.9, seed, classWeight, exitCode: 0, sparsity: 0.9002, dense, pruned: { accuracy, balanced, rareRecall }, seconds: 2,
  ...(script != null ? { script: { accuracy: 0.75, balanced: script, rareRecall: 0.7, sparsity: 0.9 } } : {}),
});

describe('imbalancedSection', () => {
  it('averages the seeds, judges the weighted run on its drop from dense and against the unweighted run seed by seed', () => {
    const md = imbalancedSection([
      rec('none', 0, 0.58, 0.18, 0.905), rec('none', 1, 0.57, 0.16, 0.903),
      rec('balanced', 0, 0.75, 0.75, 0.748, 0.74), rec('balanced', 1, 0.70, 0.72, 0.741, 0.74),
    ], { date: '2026-12-08', command: 'autoprune bench --suite imbalanced', backend: 'tensorflow' });
    expect(md).toContain('| 0.9 | — | 0, 1 | 0 / 0 | 78.60 → 90.40 | 74.70 → 57.50 | 69.90 → 17.00 | 90.02 % | — |');
    expect(md).toContain('| 0.9 | balanced | 0, 1 | 0 / 0 | 78.60 → 74.45 | 74.70 → 72.50 | 69.90 → 73.50 | 90.02 % | 74.00 / 70.00 |');
    // Against the user's script with the same weights and steps, seed by seed: behind on the mean, so not met.
    expect(md).toContain("vs the user's script with the weights at the same optimizer steps, pruned test balanced accuracy: 72.50 vs 74.00 % (−1.50 ± 2.50 points: within two standard errors of no difference): **NOT met**");
    // A mean drop of 2.2 points: more than the 2 the bar allows.
    expect(md).toContain('with `--class-weight balanced` @0.9, test balanced accuracy within 2 points of dense: 74.70 → 72.50 % (a drop of +2.20 ± 2.50 points): **NOT met**');
    expect(md).toContain('with vs without @0.9, pruned test balanced accuracy: 72.50 vs 57.50 % (+15.00 ± 2.00 points); damaged recall 73.50 vs 17.00 %: **met**');
  });
});
