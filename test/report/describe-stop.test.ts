import { describe, expect, it } from 'vitest';
import { describeStop } from '../../src/report/report.js';

describe('describeStop (the console\'s and report.html\'s line on where the run ended)', () => {
  it('says a target reached, and what a guard stop kept', () => {
    const reached = { targetReached: true, stopReason: 'target' as const, exitCode: 0 };
    expect(describeStop(reached)).toBe('target reached');
    const guard = describeStop({ targetReached: false, stopReason: 'guard', exitCode: 3 });
    expect(guard).toMatch(/^target NOT reached: stopped at the last sparsity the guard accepted, the steps beyond it refused after their fine-tunes \(exit 3;/);
    expect(guard).not.toContain('highest');
  });
});
