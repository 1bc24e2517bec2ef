/** The extreme suite's page section: means over the seeds, the drop bars and the equal-epochs comparison. */
import { describe, expect, it } from 'vitest';
import { extremeSection, type ExtremeRecord } from '../../src/bench/extreme.js';

const rec = (model: string, target: number, seed: number, dense: number, agent: number, gradual: number, oneShot: number): ExtremeRecord => ({
  model, seed, target, dense, agent: { test: agent, sparsity: target, epochs: 15, stopReason: 'forced', seconds: 1 }, gradual, oneShot,
});

describe('extremeSection', () => {
  it('averages the seeds, judges each bar on the mean drop, and the agent against the better magnitude baseline (a tie is not a win)', () => {
    const md = extremeSection([
      rec('lenet-5', 0.99, 0, 0.986, 0.978, 0.970, 0.963), rec('lenet-5', 0.99, 1, 0.985, 0.971, 0.977, 0.970),
      rec('lenet-300-100', 0.98, 0, 0.963, 0.95, 0.95, 0.94),
    ], { date: '2026-12-03', command: 'autoprune bench --suite extreme', backend: 'tensorflow' });
    expect(md).toContain('| lenet-5 | 0.99 | 0, 1 | 98.55 | 97.45 (97.10–97.80) | -1.10 | 97.35 (97.00–97.70) | 96.65 (96.30–97.00) | 15.0 | 99.00 % |');
    expect(md).toContain('agent @0.99 on lenet-5 within 1 point of dense, budget ≤ 2× the default (15 of 15 epochs): 1.10 points: **NOT met**');
    expect(md).toContain('agent @0.98 on lenet-300-100 within 1.5 points of dense, budget ≤ 2× the default (15 of 15 epochs): 1.30 points: **met**');
    expect(md).toContain('lenet-5 @0.99: 97.45 vs 97.35 (the better of the two): **met**');
    expect(md).toContain('lenet-300-100 @0.98: 95.00 vs 95.00 (the better of the two): **NOT met**');
  });
});
