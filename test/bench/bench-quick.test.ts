/** Smoke test of `autoprune bench --quick`: the page, raw JSON and plot are produced from real runs. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { cli } from '../cli/cli-helpers.js';

describe('autoprune bench --quick', () => {
  it('writes benchmarks.md with every method, the bars, speed, and a plot', async () => {
    const dir = tempDir();
    const out = join(dir, 'benchmarks.md');
    const r = await cli(['bench', '--quick', '--models', 'lenet-300-100', '--fresh', '--out', out]);
    expect(r.code).toBe(0);
    const md = readFileSync(out, 'utf8');
    for (const m of ['random', 'uniform-magnitude', 'global-magnitude', 'taylor', 'wanda', 'lamp', 'learned', 'learned-lofo', 'agent']) {
      expect(md).toMatch(new RegExp(`\\| ${m} \\| \\d`));
    }
    expect(md).toContain('## Bars');
    expect(md).toMatch(/\*\*(met|NOT met)\*\* — learned ≥ best baseline, lenet-300-100 @ 0.9/);
    expect(md).toContain('## Speed');
    expect(md).toContain('## Structured pruning, compaction and file size');
    expect(md).toMatch(/million connections per second/);
    const raw = JSON.parse(readFileSync(join(dir, 'benchmarks.json'), 'utf8'));
    expect(raw.records.length).toBeGreaterThanOrEqual(2 * 8);
    for (const rec of raw.records) expect(rec.testAfter).toBeGreaterThan(0.1);
    expect(existsSync(join(dir, 'benchmarks-lenet-300-100.svg'))).toBe(true);
    expect(readFileSync(join(dir, 'benchmarks-lenet-300-100.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
  }, 600_000);
});
