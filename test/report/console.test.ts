import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createConsoleReporter } from '../../src/report/console.js';
import type { RunReport } from '../../src/report/report.js';

const sample = (): RunReport =>
  JSON.parse(readFileSync(new URL('../fixtures/report/sample-report.json', import.meta.url), 'utf8')) as RunReport;

/** The summary lines `finished` prints for `report`. */
function summary(report: RunReport): string {
  let out = '';
  const stream = { isTTY: false, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
  createConsoleReporter({ json: false, target: report.config.target, stream }).finished(report, '/tmp/out');
  return out;
}

describe('console summary', () => {
  it('prints the test-accuracy change with its sign, and an unchanged accuracy (float residue) as ±0.00', () => {
    const r = sample();
    r.dense.testAccuracy = 0.8166666666666667;
    r.final.testAccuracy = 0.8166666666666668; // the same 49/60, computed another way
    expect(summary(r)).toContain('81.67 % dense → 81.67 % pruned (±0.00 points)');
    r.final.testAccuracy = 0.8;
    expect(summary(r)).toContain('(−1.67 points)');
    r.final.testAccuracy = 0.85;
    expect(summary(r)).toContain('(+3.33 points)');
  });
});
