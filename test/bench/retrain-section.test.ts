/** The retrain suite's page section: means per policy, and the bar only where the retrained policy beats both. */
import { describe, expect, it } from 'vitest';
import { retrainSection, type RetrainCase, type RetrainRecord } from '../../src/bench/retrain.js';

const rec = (policy: RetrainRecord['policy'], target: number, seed: number, test: number): RetrainRecord => ({
  case: 'toy', policy, seed, target, exitCode: 0, sparsity: target, denseTest: 0.9, test, steps: 100, magnitudePasses: 1, policyPasses: 3,
});

describe('retrainSection', () => {
  it('averages the seeds and meets the bar only when the retrained policy is ahead of both (a tie is not)', () => {
    const r: RetrainCase = {
      case: 'toy', family: [{ id: 'm1', hidden: [8], seed: 1, params: 50, testAccuracy: 0.8 }], heldOut: { params: 60, testAccuracy: 0.9 },
      metaRows: 1000, buildSeconds: 1, trainSeconds: 1,
      records: [
        rec('retrained', 0.9, 0, 0.9), rec('retrained', 0.9, 1, 0.8), rec('default', 0.9, 0, 0.84), rec('default', 0.9, 1, 0.84),
        rec('global-magnitude', 0.9, 0, 0.8), rec('global-magnitude', 0.9, 1, 0.82),
        rec('retrained+mlp', 0.9, 0, 0.83),
        rec('retrained', 0.95, 0, 0.7), rec('default', 0.95, 0, 0.7), rec('global-magnitude', 0.95, 0, 0.6),
      ],
    };
    const md = retrainSection([r], { date: '2026-12-02', command: 'autoprune bench --suite retrain', backend: 'tensorflow' });
    expect(md).toContain('| 0.9 | retrained | 85.00 (80.00–90.00) | 5.00 | 90.00 % | 2 of 8 | 100 |');
    expect(md).toContain('**met** — toy @ 0.9: retrained 85.00 % vs default 84.00 % and global magnitude 81.00 %');
    expect(md).toContain('**NOT met** — toy @ 0.95: retrained 70.00 % vs default 70.00 %');
    // Each retrained variant is judged on its own; one without records at a target has no bar there.
    expect(md).toContain('**NOT met** — toy @ 0.9: retrained+mlp 83.00 % vs default 84.00 %');
    expect(md).not.toContain('toy @ 0.95: retrained+mlp');
    // The family-level verdict: no variant beats both at every target (retrained ties the default at 0.95).
    expect(md).toContain('On a family of the suite: **NOT met** — toy: no retrained variant beats both at every target.');
    // Ahead at 0.95 too: the family meets it, naming the variant.
    const ahead = retrainSection([{ ...r, records: r.records.map((x) => (x.policy === 'retrained' && x.target === 0.95 ? { ...x, test: 0.72 } : x)) }],
      { date: '2026-12-02', command: 'autoprune bench --suite retrain', backend: 'tensorflow' });
    expect(ahead).toContain('On a family of the suite: **met** — toy: retrained beats both at every target.');
  });
});
