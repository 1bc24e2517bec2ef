/** The small-data section of docs/benchmarks.md: the plain script's column and bar, only where every record has it. */
import { describe, expect, it } from 'vitest';
import { smallSuiteSection, type SmallRecord } from '../../src/bench/small-suite.js';

const record = (seed: number, agentTest: number, baselineTest: number, plainTest?: number): SmallRecord => ({
  case: 'iris', seed, target: 0.8, exitCode: 0, stopReason: 'target', sparsity: 0.8, denseTest: 0.9, agentTest, steps: 900,
  batchSize: 16, valRows: 15, testRows: 15, baselineTest, baselineSparsity: 0.8, seconds: 1, ...(plainTest != null ? { plainTest } : {}),
});
const meta = { date: '2026-12-08', command: 'autoprune bench --suite small', backend: 'tensorflow (native)' };

describe('small-data section', () => {
  it('gives the plain script its column and bar, judged like the recipe baseline', () => {
    const page = smallSuiteSection([record(0, 0.9, 0.85, 0.95), record(1, 0.9, 0.85, 0.95)], meta);
    expect(page).toContain('| magnitude + FT test (mean) | plain script test (mean) | steps per seed (batch) |');
    expect(page).toMatch(/\| iris \| .* \| 85\.00 \| 95\.00 \| 900 \/ 900 \(16\) \|/);
    expect(page).toContain('vs magnitude + FT 85.00 %: **met**');
    expect(page).toContain('- **@0.8**, the plain script: suite mean test accuracy agent 90.00 % vs 95.00 %: **NOT met**');
  });

  it('leaves them out where a record has no plain figure (a run from before it was measured)', () => {
    const page = smallSuiteSection([record(0, 0.9, 0.85, 0.95), record(1, 0.9, 0.85)], meta);
    expect(page).not.toContain('plain script');
    expect(page).toMatch(/\| iris \| .* \| 85\.00 \| 900 \/ 900 \(16\) \|/);
  });
});
